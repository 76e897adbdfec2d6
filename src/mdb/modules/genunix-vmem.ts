/*
 * genunix: vmem dcmds (::vmem, ::vmem_seg) and walkers (vmem, vmem_postfix,
 * vmem_seg, vmem_alloc, vmem_free, vmem_span).  Formats: spec §6.9.
 */

import {
  DCMD_ADDRSPEC,
  DCMD_ERR,
  DCMD_HDRSPEC,
  DCMD_OK,
  DCMD_PIPE_OUT,
  DCMD_USAGE,
  DcmdError,
  WalkError,
  type DcmdContext,
  type DcmdDef,
  type WalkerDef,
} from '../module.js';
import { LayoutError } from '../analysis/fields.js';
import { VmemView, segTypeName, type SegInfo } from '../analysis/vmem-view.js';
import { VMEM_ALLOC, VMEM_FREE, VMEM_SPAN, VMEM_ROTOR, VMEM_WALKER, VMEM_STACK_DEPTH } from '../../abi/vmem-impl.js';

function vview(ctx: DcmdContext): VmemView {
  try {
    return new VmemView(ctx.target, (m) => ctx.warn(m));
  } catch (e) {
    if (e instanceof LayoutError) throw new DcmdError(`vmem is not present in this target (${e.message})`);
    throw e;
  }
}

function vmemDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]) {
  if (argv.length) return DCMD_USAGE;
  const vv = vview(ctx);
  const pre = vv.preorder();
  const list = flags & DCMD_ADDRSPEC ? pre.filter((p) => p.addr === addr) : pre;
  if (flags & DCMD_ADDRSPEC && list.length === 0) list.push({ addr, depth: 0 });
  if (DCMD_HDRSPEC(flags) && !(flags & DCMD_PIPE_OUT)) {
    ctx.printf('%-?s %-*s %10s %12s %9s %5s\n', 'ADDR', 22, 'NAME', 'INUSE', 'TOTAL', 'SUCCEED', 'FAIL');
  }
  for (const { addr: a, depth } of list) {
    if (flags & DCMD_PIPE_OUT) {
      ctx.pipeOut(a);
      continue;
    }
    let info;
    try {
      info = vv.arena(a);
    } catch {
      ctx.warn(`couldn't read vmem at ${ctx.hex(a)}`);
      return DCMD_ERR;
    }
    const name = (' '.repeat(2 * depth) + info.name).slice(0, 21);
    ctx.printf('%0?p %-22s %10llu %12llu %9llu %5llu\n', a, name, info.inuse, info.total, info.alloc, info.fail);
  }
  return DCMD_OK;
}

const TYPES: Record<string, number> = {
  ALLC: VMEM_ALLOC,
  ALLOC: VMEM_ALLOC,
  FREE: VMEM_FREE,
  SPAN: VMEM_SPAN,
  ROTR: VMEM_ROTOR,
  ROTOR: VMEM_ROTOR,
  WLKR: VMEM_WALKER,
  WALKER: VMEM_WALKER,
};

/** The two header lines of `::vmem_seg -v`. */
export function printSegVerboseHeader(ctx: DcmdContext): void {
  ctx.printf('%16s %4s %16s %16s %16s\n', 'ADDR', 'TYPE', 'START', 'END', 'SIZE');
  ctx.printf('%<u>%16s %4s %16s %16s %16s%</u>\n', '', '', 'THREAD', 'TIMESTAMP', '');
}

/** One segment as `::vmem_seg -v` prints it (with its header when asked). */
export function printSegVerbose(ctx: DcmdContext, s: SegInfo, header: boolean): void {
  if (header) printSegVerboseHeader(ctx);
  ctx.printf('%<b>%16p%</b> %4s %16p %16p %16d\n', s.addr, segTypeName(s.type), s.start, s.end, s.end - s.start);
  if (s.type === VMEM_ALLOC && s.depth > 0 && s.depth <= VMEM_STACK_DEPTH) {
    ctx.printf('%16s %4s %16p %16llx\n', '', '', s.thread, s.timestamp);
    for (const pc of s.stack) ctx.printf('%*s%a\n', 17, '', pc);
    ctx.out('\n');
  }
}

function vmemSegDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]) {
  if (!(flags & DCMD_ADDRSPEC)) return DCMD_USAGE;
  const g = ctx.getopts(argv, { s: 'bool', v: 'bool', c: 'string', e: 'string', l: 'string', m: 'string', M: 'string', t: 'string', T: 'string' });
  if (!g || g.rest.length) return DCMD_USAGE;
  const o = g.opts;
  // as illumos' mdb_getopts defaults: a value of 0 is "not given"
  const num = (v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = ctx.parseValue(v);
    return n === 0 ? undefined : n;
  };
  const fc = num(o.c);
  const fe = num(o.e);
  const fl = num(o.l);
  const ft = num(o.t);
  const fm = num(o.m);
  const fM = num(o.M);
  if (DCMD_HDRSPEC(flags) && !(flags & DCMD_PIPE_OUT)) {
    if (o.v) printSegVerboseHeader(ctx);
    else ctx.printf('%?s %4s %?s %?s %s\n', 'ADDR', 'TYPE', 'START', o.s ? 'SIZE' : 'END', 'WHO');
  }
  const vv = vview(ctx);
  let s: SegInfo;
  try {
    s = vv.seg(addr);
  } catch {
    ctx.warn(`couldn't read vmem_seg at ${ctx.hex(addr)}`);
    return DCMD_ERR;
  }
  if (o.T !== undefined) {
    const t = Object.hasOwn(TYPES, o.T) ? TYPES[o.T] : undefined;
    if (t === undefined) {
      ctx.warn(`"${o.T}" is not a recognized vmem_seg type`);
      return DCMD_ERR;
    }
    if (s.type !== t) return DCMD_OK;
  }
  const size = s.end - s.start;
  if (fm !== undefined && size < fm) return DCMD_OK;
  if (fM !== undefined && size > fM) return DCMD_OK;
  // debug info, when present, is only accurate for VMEM_ALLOC segments
  const noDebug = s.type !== VMEM_ALLOC || s.depth === 0 || s.depth > VMEM_STACK_DEPTH;
  if (noDebug) {
    if (fc !== undefined || ft !== undefined || fe !== undefined || fl !== undefined) return DCMD_OK;
  } else {
    if (fc !== undefined) {
      const sym = ctx.target.symbolByAddr(fc);
      let lo = fc;
      let hi = fc + ctx.ptrSize;
      if (sym && sym.value === fc) {
        lo = sym.value;
        hi = sym.value + sym.size;
      }
      if (!s.stack.some((pc) => pc >= lo && pc < hi)) return DCMD_OK;
    }
    if (ft !== undefined && s.thread !== ft) return DCMD_OK;
    if (fe !== undefined && s.timestamp < fe) return DCMD_OK;
    if (fl !== undefined && s.timestamp > fl) return DCMD_OK;
  }
  if (flags & DCMD_PIPE_OUT) {
    ctx.pipeOut(addr);
    return DCMD_OK;
  }
  if (o.v) {
    printSegVerbose(ctx, s, false);
    return DCMD_OK;
  }
  ctx.printf('%0?p %4s %0?p %0?p', addr, segTypeName(s.type), s.start, o.s ? size : s.end);
  let who = 0;
  if (!noDebug) {
    for (const pc of s.stack) {
      const sym = ctx.target.symbolByAddr(pc);
      if (!sym || sym.name.startsWith('vmem_')) continue;
      who = pc;
      break;
    }
  }
  if (who) ctx.printf(' %a\n', who);
  else ctx.out('\n');
  return DCMD_OK;
}

function segWalker(name: string, mask: number, description: string): WalkerDef {
  return {
    name,
    description,
    *walk(ctx, addr) {
      if (addr === undefined) throw new WalkError(`${name} does not support global walks`);
      const vv = vview(ctx);
      if (!vv.preorder().some((p) => p.addr === addr)) throw new WalkError(`${ctx.hex(addr)} is not a vmem_t on vmem_list`);
      for (const a of vv.segs(addr)) {
        if (mask === 0) {
          yield a;
          continue;
        }
        try {
          if (vv.seg(a).type & mask) yield a;
        } catch {
          throw new WalkError(`failed to read vmem_seg at ${ctx.hex(a)}`);
        }
      }
    },
  };
}

/**
 * The vmem_postfix walk: every arena after the arenas it imports into
 * (children before their source).  From an arena, as illumos' walk does
 * from its current node: that arena's subtree in post-fix order, then its
 * later siblings' and its ancestors' (the tail of the whole walk that
 * starts at the arena's leftmost descendant).
 */
function postfixWalk(ctx: DcmdContext, addr: number | undefined): number[] {
  const vv = vview(ctx);
  const post = vv.postorder();
  if (addr === undefined) return post;
  const pre = vv.preorder();
  let i = pre.findIndex((p) => p.addr === addr);
  if (i < 0) throw new WalkError(`${ctx.hex(addr)} is not a vmem_t on vmem_list`);
  while (i + 1 < pre.length && pre[i + 1]!.depth === pre[i]!.depth + 1) i++;
  return post.slice(post.indexOf(pre[i]!.addr));
}

export function vmemWalkers(): WalkerDef[] {
  return [
    {
      name: 'vmem',
      description: 'walk vmem structures in pre-fix order',
      walk(ctx, addr) {
        const pre = vview(ctx)
          .preorder()
          .map((p) => p.addr);
        if (addr === undefined) return pre;
        const i = pre.indexOf(addr);
        if (i < 0) throw new WalkError(`${ctx.hex(addr)} is not a vmem_t on vmem_list`);
        return pre.slice(i);
      },
    },
    {
      name: 'vmem_postfix',
      description: 'walk vmem structures in post-fix order',
      walk: (ctx, addr) => postfixWalk(ctx, addr),
    },
    segWalker('vmem_seg', 0, 'given a vmem_t, walk all of its vmem_segs'),
    segWalker('vmem_alloc', VMEM_ALLOC, 'given a vmem_t, walk its allocated vmem_segs'),
    segWalker('vmem_free', VMEM_FREE, 'given a vmem_t, walk its free vmem_segs'),
    segWalker('vmem_span', VMEM_SPAN, 'given a vmem_t, walk its spanning vmem_segs'),
  ];
}

export function vmemDcmds(): DcmdDef[] {
  return [
    {
      name: 'vmem',
      usage: '?',
      description: 'print a vmem_t',
      help: `Print a vmem arena (or every arena, indented under its source): its
address, name, bytes in use and in total, and allocations that
succeeded and failed.`,
      fn: vmemDcmd,
    },
    {
      name: 'vmem_seg',
      usage: ':[-sv] [-c caller] [-e earliest] [-l latest] [-m minsize] [-M maxsize] [-t thread] [-T type]',
      description: 'print or filter a vmem_seg',
      help: `Print a vmem segment: its type (ALLC, FREE, SPAN, ROTR, WLKR), start,
end and, for audited allocations, the first caller outside vmem.

Options:
  -v    print the segment in full, with its thread, timestamp and stack
  -s    print the size instead of the end address
  -c caller
        only segments whose stack contains caller (or the function it starts)
  -e earliest
        only segments allocated at or after earliest
  -l latest
        only segments allocated at or before latest
  -m minsize
        only segments of at least minsize bytes
  -M maxsize
        only segments of at most maxsize bytes
  -t thread
        only segments allocated by thread
  -T type
        only segments of that type (ALLC/ALLOC, FREE, SPAN, ROTR/ROTOR,
        WLKR/WALKER)

-c, -e, -l and -t need audit information: segments without it are dropped.`,
      fn: vmemSegDcmd,
    },
  ];
}
