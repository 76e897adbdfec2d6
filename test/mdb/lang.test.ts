import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNumber, MdbSyntaxError, mdbSprintf, runMdb } from '../../src/mdb/index.js';

test('numbers: prefixes, separators, validation, 64-bit limit', () => {
  assert.equal(parseNumber('0x1_0', 16), 16n);
  assert.equal(parseNumber('0t1__0_', 16), 10n);
  assert.equal(parseNumber('0o17', 16), 15n);
  assert.equal(parseNumber('0i101', 16), 5n);
  assert.equal(parseNumber('777', 8), 511n);
  for (const bad of ['0x_1', '0xg', '0i2', '0t_', '0o8', '0x10000000000000000', '_1']) {
    assert.throws(() => parseNumber(bad, 16), MdbSyntaxError, bad);
  }
  assert.equal(parseNumber('0xffffffffffffffff', 16), (1n << 64n) - 1n);
});

test('printf: mdb conversions', () => {
  const env = { ptrSize: 8 as const, radix: 16, col: 0, symbolize: (a: bigint) => (a === 0x1000n ? 'foo' : a > 9n ? '0x' + a.toString(16) : a.toString(16)) };
  assert.equal(mdbSprintf('%0?p|%?p|%-?p|', [0x1234, 0x1234, 0x1234], env), '0000000000001234|            1234|1234            |');
  assert.equal(mdbSprintf('%#x %#x %#o %x', [0, 255, 8, -1], env), '0 0xff 010 ffffffff');
  assert.equal(mdbSprintf('%llx %lld %hd %hhu', [-1, -2n, 0x18000, 0x1ff], env), 'ffffffffffffffff -2 -32768 255');
  assert.equal(mdbSprintf('%a %#a %A|%#A', [0x1000, 0x1000, 0x2000, 0x2000], env), 'foo foo: |?');
  assert.equal(mdbSprintf('%#r %#r %r', [9, 10, 255], env), '9 0xa ff');
  assert.equal(mdbSprintf('%<u>%s%</u>%-6s|%5s|%c', ['ADDR', 'ab', 'cd', 65], env), 'ADDRab    |   cd|A');
  assert.equal(mdbSprintf('ab%8Tc', [], env), 'ab      c');
  assert.equal(mdbSprintf('%*d|%-*d|', [4, 7, 3, 1], env), '   7|1  |');
  assert.equal(mdbSprintf('%#d %#d %u', [9, 10, 3000000000], env), '9 0t10 3000000000');
});

test('format widths: E e G J K p and wrapping at 80 columns', () => {
  assert.equal(runMdb(undefined, '0t5=E').stdout, ' '.repeat(16) + '5'.padEnd(21) + '\n');
  assert.equal(runMdb(undefined, '-1=e').stdout, ' '.repeat(16) + '-1'.padEnd(21) + '\n');
  assert.equal(runMdb(undefined, '8=G').stdout, ' '.repeat(16) + '10'.padEnd(23) + '\n');
  assert.equal(runMdb(undefined, '-1=J').stdout, ' '.repeat(16) + 'ffffffffffffffff ' + '\n');
  const p = runMdb(undefined, '1<<0t63,4=p').stdout.split('\n');
  assert.equal(p[0], ' '.repeat(16) + '0x8000000000000000 '.repeat(3));
  assert.equal(p[1], ' '.repeat(16) + '0x8000000000000000 ');
  assert.equal(runMdb(undefined, '0t65=c').stdout, ' '.repeat(16) + 'A\n');
  assert.equal(runMdb(undefined, '5=j').stdout, ' '.repeat(16) + '101\n' + ' '.repeat(16) + '| |\n' + ' '.repeat(16) + '| +-- bit 0 mask 0x01\n' + ' '.repeat(16) + '+---- bit 2 mask 0x04\n');
  assert.equal(runMdb(undefined, '1=X"x"n"y"').stdout, ' '.repeat(16) + '1'.padEnd(16) + 'x\n' + ' '.repeat(16) + 'y\n');
});

test('commands: ; separators, comments, variables, $v, errors keep going', () => {
  const r = runMdb(undefined, '1>a; 2>b // comment\n<a+<b=D; ::nosuch; 3=D\n$v');
  assert.equal(r.stdout, ' '.repeat(16) + '3'.padEnd(16) + '\n' + ' '.repeat(16) + '3'.padEnd(16) + '\na = 1\nb = 2\n');
  assert.equal(r.ok, false);
  assert.match(runMdb(undefined, '1%0=X').stderr, /divide by zero/);
  assert.match(runMdb(undefined, 'nosuchsym=X').stderr, /unknown symbol name/);
  assert.match(runMdb(undefined, '::echo "unterminated').stderr, /unterminated/);
  assert.match(runMdb(undefined, '::walk nosuch').stderr, /unknown walk name/);
  assert.match(runMdb(undefined, '0,ffffffff::echo x').stderr, /too large/);
});

test('typedef errors and data models', () => {
  for (const bad of [
    '::typedef',
    '::typedef int',
    '::typedef -c',
    '::typedef -c vax',
    '::typedef uint8_t %foo',
    '::typedef uint8_t a b',
    '::typedef "{ int a; }" t',
    '::typedef "struct { int a; int a; }" t',
    '::typedef "struct { int a[-3]; }" t',
    '::typedef "struct { int a[0]; int b; }" t',
    '::typedef "union { int a; char b[0]; }" t',
  ]) {
    assert.equal(runMdb(undefined, bad).ok, false, bad);
  }
  assert.equal(runMdb(undefined, '::typedef -c ilp32\n::sizeof long\n::sizeof void *').stdout, 'sizeof (long) = 4\nsizeof (void *) = 4\n');
  assert.equal(runMdb(undefined, '::typedef int myint\n::typedef int myint').ok, false);
  const u = runMdb(undefined, '::typedef -c lp64\n::typedef "union u { int a; char b; long c; }" u_t\n::sizeof union u\n::print -at u_t');
  assert.equal(u.stdout, 'sizeof (union u) = 8\n0 u_t {\n    0 int a \n    0 char b \n    0 long c \n}\n');
});
