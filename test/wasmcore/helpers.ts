/*
 * Test fixtures for program cores: a small wasm32 module built byte by byte
 * (three named functions, a memory, __stack_pointer and the layout
 * exports, a named .data segment), and a core of "another runtime" in the
 * standard layout only (core, corestack, Memory, Global, Data), written
 * here independently of kmemdb's writer.
 */

import * as fs from 'node:fs';
import { WasmWriter, wasmHeader, SEC_TYPE, SEC_FUNCTION, SEC_MEMORY, SEC_GLOBAL, SEC_EXPORT, SEC_CODE, SEC_DATA, OP_I32_CONST, OP_END } from '../../src/dump/wasm/binary.js';

import { tmpDir } from '../tmp.js';

export { tmpDir };

export const DATA_ADDR = 1024;
export const DATA_END = 2048;
export const STACK_TOP = 66576; // initial __stack_pointer
export const HEAP_BASE = 66576;
export const MEM_PAGES = 2;

/** Function bodies: main calls helper, helper calls crash, crash hits unreachable. */
const BODIES: ReadonlyArray<{ name: string; code: number[] }> = [
  { name: 'main', code: [0x00, 0x10, 0x01, 0x0b] }, // no locals; call 1; end
  { name: 'helper', code: [0x01, 0x02, 0x7f, 0x41, 0x07, 0x21, 0x00, 0x10, 0x02, 0x0b] }, // 2 i32 locals; i32.const 7; local.set 0; call 2; end
  { name: 'crash', code: [0x00, 0x00, 0x0b] }, // unreachable; end
];

function vec(w: WasmWriter, items: readonly Uint8Array[]): Uint8Array {
  w.uleb(items.length);
  for (const x of items) w.bytes(x);
  return w.result();
}

/** The test program's module bytes (instantiable: `crash` traps). */
export function buildTestModule(): Uint8Array<ArrayBuffer> {
  const w = new WasmWriter();
  w.bytes(wasmHeader());
  w.section(SEC_TYPE, new Uint8Array([1, 0x60, 0, 0]));
  w.section(SEC_FUNCTION, new Uint8Array([3, 0, 0, 0]));
  w.section(SEC_MEMORY, new WasmWriter().uleb(1).u8(0).uleb(MEM_PAGES).result());
  const g = (mut: number, v: number) => new WasmWriter().u8(0x7f).u8(mut).u8(OP_I32_CONST).sleb(v).u8(OP_END).result();
  w.section(SEC_GLOBAL, vec(new WasmWriter(), [g(1, STACK_TOP), g(0, DATA_END), g(0, HEAP_BASE)]));
  const ex = (name: string, kind: number, idx: number) => new WasmWriter().name(name).u8(kind).uleb(idx).result();
  w.section(SEC_EXPORT, vec(new WasmWriter(), [ex('memory', 2, 0), ex('_start', 0, 0), ex('__stack_pointer', 3, 0), ex('__data_end', 3, 1), ex('__heap_base', 3, 2)]));
  w.section(SEC_CODE, vec(new WasmWriter(), BODIES.map((b) => new WasmWriter().uleb(b.code.length).bytes(new Uint8Array(b.code)).result())));
  const bytes = new TextEncoder().encode('hello, data segment');
  w.section(SEC_DATA, vec(new WasmWriter(), [new WasmWriter().uleb(0).u8(OP_I32_CONST).sleb(DATA_ADDR).u8(OP_END).uleb(bytes.length).bytes(bytes).result()]));
  // name section: functions (1), globals (7), data segments (9)
  const names = new WasmWriter();
  const sub = (id: number, body: Uint8Array) => names.u8(id).uleb(body.length).bytes(body);
  const fmap = new WasmWriter().uleb(BODIES.length);
  BODIES.forEach((b, i) => fmap.uleb(i).name(b.name));
  sub(1, fmap.result());
  sub(7, new WasmWriter().uleb(1).uleb(0).name('__stack_pointer').result());
  sub(9, new WasmWriter().uleb(1).uleb(0).name('.data').result());
  w.custom('name', names.result());
  return new Uint8Array(w.result());
}

/** Offsets (from the body start) of the call/unreachable instructions of each test function. */
export const CALL_OFFSETS = { main: 1, helper: 7, crash: 1 } as const;

export interface ForeignCoreSpec {
  readonly memory: Uint8Array;
  readonly stackPointer: number;
  /** [funcidx, codeoffset] innermost first. */
  readonly frames: ReadonlyArray<readonly [number, number]>;
}

/** A core as another runtime writes one: the standard sections only, the memory as one segment. */
export function writeForeignCore(file: string, spec: ForeignCoreSpec): void {
  const w = new WasmWriter();
  w.bytes(wasmHeader());
  w.custom('core', new WasmWriter().u8(0).name('test.wasm').result());
  const st = new WasmWriter().u8(0).name('main').uleb(spec.frames.length);
  for (const [f, off] of spec.frames) st.u8(0).uleb(f).uleb(off).uleb(1).u8(0x7f).sleb(42).uleb(0);
  w.custom('corestack', st.result());
  w.section(SEC_MEMORY, new WasmWriter().uleb(1).u8(0).uleb(spec.memory.length / 65536).result());
  w.section(SEC_GLOBAL, new WasmWriter().uleb(1).u8(0x7f).u8(0).u8(OP_I32_CONST).sleb(spec.stackPointer).u8(OP_END).result());
  const seg = new WasmWriter().uleb(1).uleb(0).u8(OP_I32_CONST).sleb(0).u8(OP_END).uleb(spec.memory.length).bytes(spec.memory).result();
  w.section(SEC_DATA, seg);
  fs.writeFileSync(file, w.result());
}
