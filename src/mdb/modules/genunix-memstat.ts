/*
 * Physical memory in genunix: the `page` walker and ::memstat, in the
 * format of illumos' genunix memory.c.
 *
 * Everything comes from the target's memory through its C types: the
 * `page_hash` buckets (`page_hashsz` of them) and each chain's page_t's
 * (p_hash), each page's vnode (p_vnode: `kvp` for kernel pages), its state
 * (P_FREE), and the globals `_pagesize`, `physmem` and `total_pages`.
 * ::memstat classifies each hashed page as illumos does: free pages with
 * an identity (cachelist), swapfs (anon: a vnode whose v_op is
 * swap_vnodeops), ZFS file data (`zvp`), kernel (`kvp`), executables
 * (VVMEXEC) and the rest as page cache; physical pages on no chain are on
 * the freelist.  The simulated kernel's pages are all kernel pages: it has
 * no swapfs, ZFS or file pages, so those rows count 0 (ZFS File Data, printed
 * by illumos only when non-zero, is then left out, as there).
 */

import {
  DCMD_ADDRSPEC,
  DCMD_ERR,
  DCMD_OK,
  DCMD_USAGE,
  DcmdError,
  WalkError,
  noAddress,
  type DcmdContext,
  type DcmdDef,
  type DcmdResult,
  type WalkerDef,
} from '../module.js';
import { P_FREE, VVMEXEC } from '../../abi/kernel-vm.js';

/** Pages a single chain may hold before the walk calls it corrupt. */
const CHAIN_LIMIT = 1 << 20;

/** A global's value, read with its symbol's size (mdb_readvar). */
function readvar(ctx: DcmdContext, name: string): number {
  const s = ctx.symbolByName(name);
  if (!s) throw new DcmdError(`unable to read ${name}`);
  return s.size === 4 ? ctx.target.load32(s.value) : ctx.target.loadPtr(s.value);
}

/* ------------------------------------------------------------ walker */

function* walkPages(ctx: DcmdContext, addr: number | undefined): Generator<number> {
  noAddress('page', addr);
  if (ctx.types.find('page_t') === undefined || !ctx.symbolByName('page_hash')) {
    throw new WalkError('unable to read page_hash: the target\'s kernel keeps no page accounting (no page_t)');
  }
  const hash = readvar(ctx, 'page_hash');
  const buckets = readvar(ctx, 'page_hashsz');
  const P = ctx.ptrSize;
  const next = ctx.types.offsetof('page_t', 'p_hash');
  for (let b = 0; b < buckets; b++) {
    let pp = ctx.target.loadPtr(hash + b * P);
    for (let n = 0; pp !== 0; n++) {
      if (n === CHAIN_LIMIT) throw new WalkError(`page_hash[${b}] does not end after ${CHAIN_LIMIT} pages`);
      yield pp;
      pp = ctx.target.loadPtr(pp + next);
    }
  }
}

/* ------------------------------------------------------------ ::memstat */

interface Memstat {
  kmem: number;
  zfsData: number;
  anon: number;
  exec: number;
  vnode: number;
  cachelist: number;
  total: number;
}

/** Classify every hashed page (illumos' memstat_callback). */
function summarize(ctx: DcmdContext): Memstat | undefined {
  const sym = (name: string) => ctx.symbolByName(name)?.value ?? 0;
  const kvp = ctx.symbolByName('kvp');
  if (!kvp) throw new DcmdError('unable to read kvp');
  const zvp = sym('zvp');
  const swapOps = sym('swap_vnodeops');
  const st: Memstat = { kmem: 0, zfsData: 0, anon: 0, exec: 0, vnode: 0, cachelist: 0, total: 0 };
  const ok = ctx.walk('page', undefined, (pp) => {
    const vp = ctx.readMember(pp, 'page_t', 'p_vnode');
    const state = ctx.readMember(pp, 'page_t', 'p_state');
    if ((state & P_FREE) !== 0) st.cachelist++;
    else if (vp !== 0 && swapOps !== 0 && ctx.readMember(vp, 'struct vnode', 'v_op') === swapOps) st.anon++;
    else if (zvp !== 0 && vp === zvp) st.zfsData++;
    else if (vp === kvp.value) st.kmem++;
    else if (vp !== 0 && (ctx.readMember(vp, 'struct vnode', 'v_flag') & VVMEXEC) !== 0) st.exec++;
    else st.vnode++;
    st.total++;
  });
  return ok ? st : undefined;
}

function memstatDcmd(ctx: DcmdContext, _addr: number, flags: number, argv: readonly string[]): DcmdResult {
  if (argv.length !== 0 || (flags & DCMD_ADDRSPEC) !== 0) return DCMD_USAGE;
  const pagesize = readvar(ctx, '_pagesize');
  const totalPages = readvar(ctx, 'total_pages');
  const physmem = readvar(ctx, 'physmem');
  const st = summarize(ctx);
  if (!st) {
    ctx.warn("can't walk pages");
    return DCMD_ERR;
  }
  const mb = (n: number) => Math.floor((n * pagesize) / (1024 * 1024));
  const pct = (n: number) => Math.floor((5 * totalPages + n * 1000) / (physmem * 10));
  const row = (label: string, n: number) => ctx.printf('%-16s %16llu  %16llu  %3lu%%\n', label, n, mb(n), pct(n));
  ctx.printf('Page Summary                Pages                MB  %%Tot\n');
  ctx.printf('------------     ----------------  ----------------  ----\n');
  row('Kernel', st.kmem);
  if (st.zfsData !== 0) row('ZFS File Data', st.zfsData);
  row('Anon', st.anon);
  row('Exec and libs', st.exec);
  row('Page cache', st.vnode);
  row('Free (cachelist)', st.cachelist);
  row('Free (freelist)', physmem > st.total ? physmem - st.total : 0);
  ctx.printf('\n%-16s %16lu  %16lu\n', 'Total', physmem, mb(physmem));
  if (physmem !== totalPages) ctx.printf('%-16s %16lu  %16lu\n', 'Physical', totalPages, mb(totalPages));
  return DCMD_OK;
}

/* --------------------------------------------------------------- table */

export function memstatDcmds(): DcmdDef[] {
  return [
    {
      name: 'memstat',
      usage: '',
      description: 'display memory usage summary',
      help: `Summarize physical memory by use, from the page_t's on page_hash: kernel
pages (kvp), anonymous memory, executables and libraries, the page cache
and the free lists, in pages, megabytes and percent of physmem.`,
      fn: memstatDcmd,
    },
  ];
}

export function memstatWalkers(): WalkerDef[] {
  return [{ name: 'page', description: 'walk all pages (the page_hash chains)', walk: walkPages }];
}
