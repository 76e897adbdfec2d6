/*
 * Callouts in genunix (src/mdb/modules/genunix-callout.ts): ::callout in
 * its views and filters, ::calloutid and the callout walkers on the dump
 * of a NetBSD scenario whose modunload thread panics inside its callout,
 * in both data models.  Goldens under test/genunix/golden/callout-*.txt.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goldenIn, transcript } from '../golden.js';
import { withCrash } from '../crash.js';
import '../../src/mdb/modules/genunix.js';
import '../../src/mdb/modules/netbsd.js';

const golden = goldenIn('genunix/golden');

const CMDS = [
  '::callout',
  '::callout -D',
  '::callout -v',
  '::callout -V',
  '::callout -T',
  '::callout -T -v -E',
  '::callout -L',
  '::callout -i -D',
  '::callout -x',
  '::callout -f kmem_update',
  '::callout -S 1 -p 0',
  '::callout -r',
  '::callout -F -f make_build',
  '::callout -A | ::print callout_t c_func c_arg c_executor',
  '::walk callout_table',
  '::walk callout_table | ::callout -T',
  '::callout -t 1 -a 2',
  '::callout -H -Q',
  '::walk callouts_bytime',
];

for (const model of ['lp64', 'ilp32'] as const) {
  test(`${model}: ::callout, ::calloutid and the callout walkers on a NetBSD scenario's dump`, () => {
    const text = withCrash('pool-unload', model, (t) => {
      const first = transcript(t, CMDS);
      // the executing callout's ID, decoded and looked up
      const xid = /\n0 +N [0-9a-f]+ +X +([0-9a-f]+) +module_thread\(0\)\n/.exec(first)![1]!;
      return first + transcript(t, [`::calloutid -d ${xid}`, `::calloutid -v ${xid}`, '::calloutid 0', '1::calloutid 5']);
    });
    golden(`callout-${model}`, text);
    // the modunload thread panicked in its callout: executing, on table 0's expired list (bucket -1)
    assert.match(text, /^> ::callout -x\nSEQ T EXP +XHAL XID +FUNC\(ARG\) *\n0 +N [0-9a-f]+ +X +[0-9a-f]+ +module_thread\(0\)\n> /m);
    assert.match(text, /^> ::callout -L\nSEQ T EXP +HA BUCKET CALLOUTS *\n +0 N [0-9a-f]+ +-1 /m);
    // vmem_update and kmem_update wait for their next run
    assert.match(text, /\n1 +N [0-9a-f]+ +[0-9a-f]+ +kmem_update\(0\)\n/);
    assert.match(text, /\n0 +N [0-9a-f]+ +[0-9a-f]+ +vmem_update\(0\)\n/);
    assert.match(text, /^> ::callout -t 1 -a 2\n-t and -a\|b are mutually exclusive\n/m);
    assert.match(text, /^> ::walk callouts_bytime\nmdb: callout doesn't support global walk\n/m);
    assert.match(text, /^> ::calloutid 0\nid hash chain for this xid is empty\n/m);
  });
}
