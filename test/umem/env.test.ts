/*
 * libumem's environment: UMEM_DEBUG, UMEM_OPTIONS, UMEM_LOGGING parsed into
 * flags and tunables, bad items reported in libumem's words.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseUmemEnv, UMF_CHECKSIGNAL } from '../../src/umem/env.js';
import { KMF_AUDIT, KMF_CONTENTS, KMF_DEADBEEF, KMF_FIREWALL, KMF_LITE, KMF_NOMAGAZINE, KMF_RANDOMIZE, KMF_REDZONE } from '../../src/abi/kmem-impl.js';

test('default is audit, contents and guards', () => {
  const c = parseUmemEnv({ UMEM_DEBUG: 'default' });
  assert.equal(c.flags, KMF_AUDIT | KMF_CONTENTS | KMF_DEADBEEF | KMF_REDZONE);
  assert.deepEqual(c.messages, []);
  assert.equal(c.abort, true);
  assert.equal(c.logging, false);
});

test('every UMEM_DEBUG item with its value', () => {
  const c = parseUmemEnv({
    UMEM_DEBUG: 'audit=10,contents=128,guards,verbose,firewall=4k,lite,maxverify=1m,noabort,mtbf=17,random,nosignal',
  });
  assert.equal(c.flags, KMF_AUDIT | KMF_CONTENTS | KMF_DEADBEEF | KMF_REDZONE | KMF_FIREWALL | KMF_LITE | KMF_RANDOMIZE | UMF_CHECKSIGNAL);
  assert.equal(c.stackDepth, 10);
  assert.equal(c.contentMaxsave, 128);
  assert.equal(c.minfirewall, 4096);
  assert.equal(c.maxverify, 1 << 20);
  assert.equal(c.abort, false);
  assert.equal(c.mtbf, 17);
  assert.equal(c.output, 1);
  assert.equal(parseUmemEnv({ UMEM_DEBUG: 'allverbose' }).output, 2);
  assert.deepEqual(c.messages, []);
});

test('UMEM_LOGGING: sizes with suffixes, 64 KiB by default, 0 leaves a log off', () => {
  const c = parseUmemEnv({ UMEM_LOGGING: 'transaction,contents=2m,fail=1K,slab=0' });
  assert.deepEqual(c.logSizes, { transaction: 65536, content: 2 << 20, failure: 1024, slab: 0 });
  assert.equal(c.logging, true);
  assert.equal(c.flags, KMF_CONTENTS, 'contents also sets UMF_CONTENTS');
  assert.equal(parseUmemEnv({ UMEM_LOGGING: 'transaction=1g' }).logSizes.transaction, 1 << 30);
});

test('UMEM_OPTIONS', () => {
  const c = parseUmemEnv({ UMEM_OPTIONS: 'backend=mmap,concurrency=4,max_contention=9,nomagazines,reap_interval=3' });
  assert.equal(c.backend, 'mmap');
  assert.equal(c.concurrency, 4);
  assert.equal(c.maxContention, 9);
  assert.equal(c.reapInterval, 3);
  assert.equal(c.flags, KMF_NOMAGAZINE);
});

test('bad items are reported in libumem words and ignored', () => {
  const c = parseUmemEnv({
    UMEM_DEBUG: "x,audit=ten,guards=1,firewall,mtbf=99999999999,,default",
    UMEM_OPTIONS: 'backend=brk,concurrency=-1',
    UMEM_LOGGING: 'transaction=12q,fail',
  });
  assert.deepEqual(c.messages, [
    "UMEM_DEBUG: 'x' not recognized",
    'UMEM_DEBUG: audit: not a number',
    'UMEM_DEBUG: guards: does not take a value. ignored',
    'UMEM_DEBUG: firewall: Required value missing',
    'UMEM_DEBUG: mtbf: overflowed',
    'UMEM_DEBUG: empty option',
    'UMEM_OPTIONS: backend: must be backend=sbrk or backend=mmap',
    'UMEM_OPTIONS: concurrency: not a number',
    'UMEM_LOGGING: transaction: not a number',
  ]);
  // the good items still apply; the bad ones set nothing
  assert.equal(c.flags, KMF_AUDIT | KMF_CONTENTS | KMF_DEADBEEF | KMF_REDZONE);
  assert.equal(c.mtbf, 0);
  assert.deepEqual(c.logSizes, { transaction: 0, content: 0, failure: 65536, slab: 0 });
  const long = parseUmemEnv({ UMEM_DEBUG: 'a'.repeat(600) });
  assert.deepEqual(long.messages, ['UMEM_DEBUG: argument "aaaaaaaaaa..." too long']);
});

test('unset and empty variables do nothing', () => {
  const c = parseUmemEnv({ UMEM_DEBUG: '', UMEM_LOGGING: '  ' });
  assert.equal(c.flags, 0);
  assert.deepEqual(c.messages, []);
});
