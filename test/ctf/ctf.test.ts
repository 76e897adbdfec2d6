import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TypeTable, offsetsOf } from '../../src/ctf/ctf.js';
import { declare, parseTypeName } from '../../src/ctf/cparse.js';
import { LP64, ILP32 } from '../../src/machine/memory.js';

const AUDIT = `
typedef struct kmem_bufctl {
	struct kmem_bufctl *bc_next;
	void *bc_addr;
	struct kmem_slab *bc_slab;
} kmem_bufctl_t;
typedef struct kmem_bufctl_audit {
	struct kmem_bufctl *bc_next;
	void *bc_addr;
	struct kmem_slab *bc_slab;
	struct kmem_cache *bc_cache;
	hrtime_t bc_timestamp;
	struct kthread *bc_thread;
	struct kmem_bufctl *bc_lastlog;
	void *bc_contents;
	int bc_depth;
	pc_t bc_stack[15];
} kmem_bufctl_audit_t;
typedef struct kmem_buftag {
	uint64_t bt_redzone;
	kmem_bufctl_t *bt_bufctl;
	intptr_t bt_bxstat;
} kmem_buftag_t;
struct bits { unsigned int a:3; unsigned int b:20; char c; int (*fn)(void *, int); union { int x; char y[3]; }; };
`;

test('known kmem layouts: bufctl_audit 192 (LP64) and buftag 24/16', () => {
  const t64 = new TypeTable(LP64);
  declare(t64, AUDIT);
  assert.equal(t64.size('kmem_bufctl_t'), 24);
  assert.equal(t64.size('kmem_bufctl_audit_t'), 192);
  assert.equal(t64.offsetof('kmem_bufctl_audit_t', 'bc_stack'), 72);
  assert.equal(t64.offsetof('kmem_bufctl_audit_t', 'bc_depth'), 64);
  assert.equal(t64.size('kmem_buftag_t'), 24);
  const t32 = new TypeTable(ILP32);
  declare(t32, AUDIT);
  assert.equal(t32.size('kmem_bufctl_t'), 12);
  assert.equal(t32.offsetof('kmem_bufctl_audit_t', 'bc_cache'), 0xc);
  assert.equal(t32.offsetof('kmem_bufctl_audit_t', 'bc_lastlog'), 0x1c);
  assert.equal(t32.offsetof('kmem_bufctl_audit_t', 'bc_stack'), 0x28);
  assert.equal(t32.size('kmem_bufctl_audit_t'), 100);
  assert.equal(t32.size('kmem_buftag_t'), 16);
  assert.equal(t32.offsetof('kmem_buftag_t', 'bt_bxstat'), 12);
});

test('bitfields, function pointers, anonymous unions, type names', () => {
  const t = new TypeTable(LP64);
  declare(t, AUDIT);
  const s = t.mustFind('struct bits');
  const ms = t.members(s);
  assert.equal(ms[0]!.bitOffset, 0);
  assert.equal(ms[1]!.bitOffset, 3);
  assert.equal(t.offsetof("struct bits", "c"), 3);
  assert.equal(t.offsetof('struct bits', 'fn'), 8);
  assert.equal(t.offsetof('struct bits', 'y'), 16);
  assert.equal(t.size('struct bits'), 24);
  assert.equal(t.typeName(parseTypeName(t, 'struct kmem_bufctl *')), 'struct kmem_bufctl *');
  assert.equal(t.typeName(parseTypeName(t, 'char [32]')), 'char [32]');
  assert.equal(t.typeName(t.member(t.mustFind('kmem_bufctl_audit_t'), 'bc_stack').type), 'pc_t [15]');
  assert.equal(t.offsetof('kmem_bufctl_audit_t', 'bc_stack[2]'), 72 + 16);
});

test('serialisation round-trips and rejects corrupt data', () => {
  for (const m of [LP64, ILP32]) {
    const t = new TypeTable(m);
    declare(t, AUDIT);
    const bytes = t.serialize();
    const u = TypeTable.deserialize(bytes, m);
    assert.equal(u.size('kmem_bufctl_audit_t'), t.size('kmem_bufctl_audit_t'));
    assert.deepEqual(u.serialize(), bytes);
    for (const name of t.names()) assert.equal(u.sizeof(u.mustFind(name)), t.sizeof(t.mustFind(name)));
  }
  const t = new TypeTable(LP64);
  const bytes = t.serialize();
  assert.throws(() => TypeTable.deserialize(bytes.subarray(0, bytes.length - 3), LP64), /not valid/);
  assert.throws(() => TypeTable.deserialize(bytes, ILP32), /bad header/);
});

test('offsetsOf: typed offsets of a struct, and an unknown field is an error at once', () => {
  const tt = new TypeTable(LP64);
  declare(tt, 'struct s { char a; long b; int c; };');
  const o = offsetsOf(tt, 'struct s', ['a', 'b', 'c']);
  assert.deepEqual({ ...o }, { a: 0, b: 8, c: 16 });
  assert.throws(() => offsetsOf(tt, 'struct s', ['d']), /has no member d/);
});
