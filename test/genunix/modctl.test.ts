/*
 * The module list in genunix (src/mdb/modules/genunix-modctl.ts): ::modinfo,
 * ::modctl and the modctl walker on the dump of a NetBSD scenario (unix and
 * genunix, the modules the workload loaded and unloaded, mqueue busy in its
 * second unload when the kernel panicked), in both data models, beside the
 * netbsd module's ::modstat.  Goldens under test/genunix/golden/modctl-*.txt.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goldenIn, transcript } from '../golden.js';
import { withCrash } from '../crash.js';
import { runMdb } from '../../src/mdb/index.js';
import { makeFixture } from './fixture.js';
import '../../src/mdb/modules/genunix.js';
import '../../src/mdb/modules/netbsd.js';

const golden = goldenIn('genunix/golden');

const CMDS = [
  '::modinfo',
  '::modctl',
  '::modstat',
  'modules::modinfo',
  '::walk modctl | ::modctl',
  '::modinfo -v',
  '0::modctl',
];

for (const model of ['lp64', 'ilp32'] as const) {
  test(`${model}: ::modinfo, ::modctl and the modctl walker on a NetBSD scenario's dump`, () => {
    const text = withCrash('pool-unload', model, (t) => transcript(t, CMDS));
    golden(`modctl-${model}`, text);
    const section = (cmd: string) => text.split(`> ${cmd}\n`)[1]!.split('\n> ')[0]!;
    const info = section('::modinfo').trimEnd().split('\n');
    assert.match(info[0]!, /^ ID +LOADADDR +SIZE REV MODULE NAME$/);
    assert.match(info[1]!, /^ +0 [0-9a-f]+ +[0-9a-f]+ +0 unix \(\?\)$/);
    assert.match(info[2]!, /^ +1 [0-9a-f]+ +[0-9a-f]+ +0 genunix \(\?\)$/);
    // ids in list order; modules unloaded by the workload show address and size 0
    info.slice(1).forEach((l, i) => assert.equal(Number(l.trim().split(/ +/)[0]), i));
    assert.ok(info.some((l) => /^ +\d+ +0 +0 +0 compat_linux \(\?\)$/.test(l)));
    // mqueue is loaded where modstat says, with modstat's size
    const mq = info.find((l) => / mqueue /.test(l))!;
    assert.match(mq, / 1 mqueue \(NetBSD misc module\)$/);
    assert.equal(parseInt(mq.trim().split(/ +/)[2]!, 16), Number(/^mqueue +misc +filesys +\d+ +(\d+)/m.exec(section('::modstat'))![1]));
    // ::modctl: primaries p/l/i, mqueue busy (its unload panicked), unloaded modules with no bits
    const ctl = section('::modctl');
    assert.match(ctl, /^ +MODCTL +MODULE +BITS FLAGS REF FILE\n/);
    assert.match(ctl, / pli 0x01 +0 \/platform\/i86pc\/kernel\/(amd64\/)?unix\n/);
    assert.match(ctl, / bli 0x00 +0 misc\/mqueue$/m);
    assert.match(ctl, / +0 +0x00 +0 exec\/compat_linux\n/);
    assert.equal(section('::walk modctl | ::modctl'), ctl, 'piped modctls: one header');
    assert.equal(section('modules::modinfo'), `${info[0]}\n${info[1]}`);
    assert.match(text, /> ::modinfo -v\nmdb: illegal option -- v|> ::modinfo -v\n.*Usage/s);
    assert.match(section('0::modctl'), /mdb: failed to read modctl at 0/);
  });
}

test('a kernel without NetBSD modules lists unix and genunix', () => {
  const f = makeFixture({ leaks: false });
  const out = runMdb(f.t, '::modinfo').stdout.trim().split('\n');
  assert.deepEqual(out.slice(1).map((l) => l.trim().split(/ +/).slice(-2).join(' ')), ['unix (?)', 'genunix (?)']);
});
