/*
 * The kernel's module list in genunix: the `modctl` walker, ::modctl and
 * ::modinfo, in the formats of illumos' krtld mdb module (krtld.c), which
 * illumos loads beside genunix for every kernel target.
 *
 * Everything comes from the target's memory through its C types: the
 * circular list of `struct modctl` headed by the global `modules` (itself
 * the first modctl, unix), each modctl's krtld object (mod_mp, `struct
 * krtld_module`: text, text_size, data_size) and linkage (mod_linkage ->
 * ml_linkage[0] -> misc_linkinfo).  A module that was unloaded keeps its
 * modctl with mod_mp and mod_linkage NULL, so it shows address and size 0,
 * revision 0 and `(?)`, as on illumos.  The walk is bounded: a list that
 * does not come back to its head within WALK_LIMIT modctls is corrupt.
 */

import {
  DCMD_ADDRSPEC,
  DCMD_ERR,
  DCMD_HDRSPEC,
  DCMD_OK,
  DCMD_USAGE,
  DcmdError,
  WalkError,
  type DcmdContext,
  type DcmdDef,
  type DcmdResult,
  type WalkerDef,
} from '../module.js';
import { TargetReadError } from '../../target/target.js';

/** Most modctls the walker follows before it calls the list corrupt. */
const WALK_LIMIT = 1 << 16;

/** The address of `modules`, or a DcmdError naming what the target lacks. */
function modulesHead(ctx: DcmdContext): number {
  const s = ctx.symbolByName('modules');
  if (!s || ctx.types.find('struct modctl') === undefined) {
    throw new DcmdError("failed to lookup 'modules': the target's kernel keeps no module list (no struct modctl)");
  }
  return s.value;
}

function mc(ctx: DcmdContext, a: number, m: string): number {
  return ctx.readMember(a, 'struct modctl', m);
}

/** A string the modctl points at, or illumos' "???" when it cannot be read. */
function modString(ctx: DcmdContext, p: number, max: number): string {
  if (p === 0 || !ctx.target.isMapped(p)) return '???';
  return ctx.readString(p, max);
}

/* ------------------------------------------------------------ walker */

function* walkModctl(ctx: DcmdContext, addr: number | undefined): Generator<number> {
  const head = addr ?? modulesHead(ctx);
  let a = head;
  for (let n = 0; n < WALK_LIMIT; n++) {
    let next: number;
    try {
      next = mc(ctx, a, 'mod_next');
    } catch (e) {
      if (e instanceof TargetReadError) throw new WalkError(`failed to read modctl at ${ctx.hex(a)}`);
      throw e;
    }
    yield a;
    if (next === head) return;
    a = next;
  }
  throw new WalkError(`modctl list at ${ctx.hex(head)} does not come back to its head after ${WALK_LIMIT} modctls`);
}

/* ------------------------------------------------------------ ::modctl */

/** The BITS column: busy, want, primary, loaded, installed. */
function modctlBits(ctx: DcmdContext, a: number): string {
  const bits: Array<[string, string]> = [
    ['mod_busy', 'b'],
    ['mod_want', 'w'],
    ['mod_prim', 'p'],
    ['mod_loaded', 'l'],
    ['mod_installed', 'i'],
  ];
  return bits.map(([m, c]) => (mc(ctx, a, m) !== 0 ? c : '')).join('');
}

function modctlRow(ctx: DcmdContext, a: number): void {
  const file = modString(ctx, mc(ctx, a, 'mod_filename'), 1024);
  ctx.printf('%?p %?p %6s 0x%02x %3d %s\n', a, mc(ctx, a, 'mod_mp'), modctlBits(ctx, a), mc(ctx, a, 'mod_loadflags') & 0xff, mc(ctx, a, 'mod_ref'), file);
}

/** Run a row printer for the addressed modctl or every one on the list. */
function eachModctl(ctx: DcmdContext, addr: number, flags: number, row: (ctx: DcmdContext, a: number) => void): DcmdResult {
  if ((flags & DCMD_ADDRSPEC) !== 0) {
    try {
      row(ctx, addr);
    } catch (e) {
      if (e instanceof TargetReadError) throw new DcmdError(`failed to read modctl at ${ctx.hex(addr)}`);
      throw e;
    }
    return DCMD_OK;
  }
  return ctx.walk('modctl', undefined, (a) => row(ctx, a)) ? DCMD_OK : DCMD_ERR;
}

function modctlDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]): DcmdResult {
  if (argv.length !== 0) return DCMD_USAGE;
  if ((flags & DCMD_ADDRSPEC) === 0) modulesHead(ctx);
  if (DCMD_HDRSPEC(flags)) ctx.printf('%<u>%?s %?s %6s %4s %3s %s%</u>\n', 'MODCTL', 'MODULE', 'BITS', 'FLAGS', 'REF', 'FILE');
  return eachModctl(ctx, addr, flags, modctlRow);
}

/* ------------------------------------------------------------ ::modinfo */

/** The description of the module's first linkage (modlinkage -> modlmisc -> misc_linkinfo), or ''. */
function linkinfo(ctx: DcmdContext, linkage: number): string {
  const ml0 = ctx.target.loadPtr(linkage + ctx.types.offsetof('struct modlinkage', 'ml_linkage'));
  if (ml0 === 0) return '';
  const info = ctx.readMember(ml0, 'struct modlmisc', 'misc_linkinfo');
  return info === 0 || !ctx.target.isMapped(info) ? '' : ctx.readString(info, 32);
}

function modinfoRow(ctx: DcmdContext, a: number): void {
  const mp = mc(ctx, a, 'mod_mp');
  const linkage = mc(ctx, a, 'mod_linkage');
  const kobj = (m: string) => (mp === 0 ? 0 : ctx.readMember(mp, 'struct krtld_module', m));
  const rev = linkage === 0 ? 0 : ctx.readMember(linkage, 'struct modlinkage', 'ml_rev');
  const info = linkage === 0 ? '' : linkinfo(ctx, linkage);
  const name = modString(ctx, mc(ctx, a, 'mod_modname'), 32);
  ctx.printf('%3d %?p %8lx %3d %s (%s)\n', mc(ctx, a, 'mod_id'), kobj('text'), kobj('text_size') + kobj('data_size'), rev, name, info !== '' ? info : '?');
}

function modinfoDcmd(ctx: DcmdContext, addr: number, flags: number, argv: readonly string[]): DcmdResult {
  if (argv.length !== 0) return DCMD_USAGE;
  if ((flags & DCMD_ADDRSPEC) === 0) modulesHead(ctx);
  if (DCMD_HDRSPEC(flags)) ctx.printf('%<u>%3s %?s %8s %3s %s%</u>\n', 'ID', 'LOADADDR', 'SIZE', 'REV', 'MODULE NAME');
  return eachModctl(ctx, addr, flags, modinfoRow);
}

/* --------------------------------------------------------------- table */

export function modctlDcmds(): DcmdDef[] {
  return [
    {
      name: 'modctl',
      usage: '?',
      description: 'list modctl structures',
      help: `Print the kernel's module list, one struct modctl a row: its address,
its krtld object (MODULE, NULL once unloaded), BITS (b busy, w wanted,
p primary, l loaded, i installed), mod_loadflags, the reference count
from dependents, and the file it was loaded from.  With an address,
that modctl only.`,
      fn: modctlDcmd,
    },
    {
      name: 'modinfo',
      usage: '?',
      description: 'list module information',
      help: `Print, for each module on the kernel's module list, its id, the
address of its text, the size of its text and data (0 once unloaded),
the revision of its linkage and its name with the linkage's description
("?" when it has none).  With an address, that modctl only.`,
      fn: modinfoDcmd,
    },
  ];
}

export function modctlWalkers(): WalkerDef[] {
  return [{ name: 'modctl', description: 'list of modctl structures', walk: walkModctl }];
}
