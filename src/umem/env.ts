/*
 * libumem's environment: UMEM_DEBUG, UMEM_OPTIONS and UMEM_LOGGING.
 *
 * Theory
 * ------
 * Each variable is a comma-separated list of items, `name` or `name=value`,
 * read once when the allocator starts (illumos libumem envvar.c).  An item
 * is one of: a flag (no value allowed), a flag that clears (noabort), an
 * optional or required unsigned integer, an optional or required size (a
 * decimal number with an optional k/m/g/t suffix, powers of 1024), or a
 * special item (the logs, the backend).  A bad item is reported in
 * libumem's own words (`UMEM_DEBUG: 'x' not recognized`, `UMEM_DEBUG:
 * audit: not a number`, ...) and ignored; the other items still apply.
 * Variables are processed in libumem's order: UMEM_DEBUG, UMEM_OPTIONS,
 * UMEM_LOGGING.
 *
 * The result is a plain `UmemConfig`; `createUmem` turns it into kmem's
 * flags and tunables.  The flag values are kmem's (UMF_AUDIT = KMF_AUDIT,
 * ...), since the allocator underneath is kmem.
 */

import {
  KMF_AUDIT,
  KMF_CONTENTS,
  KMF_DEADBEEF,
  KMF_FIREWALL,
  KMF_LITE,
  KMF_NOMAGAZINE,
  KMF_RANDOMIZE,
  KMF_REDZONE,
} from '../abi/kmem-impl.js';

/** The three variables, as a program's environment holds them. */
export interface UmemEnv {
  UMEM_DEBUG?: string;
  UMEM_LOGGING?: string;
  UMEM_OPTIONS?: string;
}

/** Sizes in bytes of the four logs; 0 = the log is off. */
export interface UmemLogSizes {
  transaction: number;
  content: number;
  failure: number;
  slab: number;
}

/** What the environment asks for. */
export interface UmemConfig {
  /** umem_flags: UMF_* bits, which are kmem's KMF_* values. */
  flags: number;
  /** umem_stack_depth: frames recorded per audited transaction. */
  stackDepth: number | undefined;
  /** umem_content_maxsave: bytes of a freed buffer the content log keeps. */
  contentMaxsave: number | undefined;
  /** umem_output: 0 quiet, 1 errors to stderr (verbose), 2 every message (allverbose). */
  output: 0 | 1 | 2;
  /** umem_minfirewall (firewall=). */
  minfirewall: number | undefined;
  /** umem_maxverify (maxverify=). */
  maxverify: number | undefined;
  /** umem_abort: recoverable errors abort (cleared by noabort). */
  abort: boolean;
  /** umem_mtbf: mean allocations between injected failures (0 = none). */
  mtbf: number;
  /** umem_logging and the log sizes (UMEM_LOGGING). */
  logging: boolean;
  logSizes: UmemLogSizes;
  /** UMEM_OPTIONS. */
  backend: 'sbrk' | 'mmap';
  concurrency: number | undefined;
  maxContention: number | undefined;
  reapInterval: number | undefined;
  /** Messages about bad items, in libumem's words, one line each. */
  messages: string[];
}

/** libumem's flag for `nosignal` (auditing plus a check we cannot make: wasm has no signal handlers). */
export const UMF_CHECKSIGNAL = 0x10;

/** Default log size when an UMEM_LOGGING item has no value. */
export const UMEM_DEFAULT_LOG_SIZE = 64 * 1024;

/** size_t / uint_t are 32 bits in the ILP32 process. */
const UINT_MAX = 0xffffffff;
const ITEM_MAX = 512;
const SHORT_BYTES = 10;

type ItemType = 'flag' | 'clearflag' | 'optuint' | 'uint' | 'optsize' | 'size' | 'special';

interface Item {
  name: string;
  type: ItemType;
  /** Flag bits set (or cleared) when the item is valid. */
  flags?: number;
  /** Where a number goes. */
  apply?: (c: UmemConfig, v: number) => void;
  /** Special processing; returns an error message or undefined. */
  special?: (c: UmemConfig, arg: string | undefined, env: string) => string | undefined;
}

function logItem(name: string, key: keyof UmemLogSizes, flags?: number): Item {
  return {
    name,
    type: 'special',
    flags,
    special: (c, arg, env) => {
      let size = UMEM_DEFAULT_LOG_SIZE;
      if (arg !== undefined) {
        const r = parseSize(arg);
        if (typeof r === 'string') return `${env}: ${name}: ${r}`;
        size = r;
        c.logSizes[key] = size;
        if (size === 0) return undefined;
      }
      c.logSizes[key] = size;
      c.logging = true;
      return undefined;
    },
  };
}

const DEBUG_ITEMS: readonly Item[] = [
  { name: 'default', type: 'flag', flags: KMF_AUDIT | KMF_CONTENTS | KMF_DEADBEEF | KMF_REDZONE },
  { name: 'audit', type: 'optuint', flags: KMF_AUDIT, apply: (c, v) => (c.stackDepth = v) },
  { name: 'contents', type: 'optsize', flags: KMF_CONTENTS, apply: (c, v) => (c.contentMaxsave = v) },
  { name: 'guards', type: 'flag', flags: KMF_DEADBEEF | KMF_REDZONE },
  { name: 'verbose', type: 'flag', apply: (c) => (c.output = Math.max(c.output, 1) as 1 | 2) },
  { name: 'nosignal', type: 'flag', flags: KMF_AUDIT | UMF_CHECKSIGNAL },
  { name: 'firewall', type: 'size', flags: KMF_FIREWALL, apply: (c, v) => (c.minfirewall = v) },
  { name: 'lite', type: 'flag', flags: KMF_LITE },
  { name: 'maxverify', type: 'size', apply: (c, v) => (c.maxverify = v) },
  { name: 'noabort', type: 'clearflag', apply: (c) => (c.abort = false) },
  { name: 'mtbf', type: 'uint', apply: (c, v) => (c.mtbf = v) },
  { name: 'random', type: 'flag', flags: KMF_RANDOMIZE },
  { name: 'allverbose', type: 'flag', apply: (c) => (c.output = 2) },
];

const OPTIONS_ITEMS: readonly Item[] = [
  {
    name: 'backend',
    type: 'special',
    special: (c, arg, env) => {
      if (arg === 'sbrk' || arg === 'mmap') {
        c.backend = arg;
        return undefined;
      }
      return `${env}: backend: must be backend=sbrk or backend=mmap`;
    },
  },
  { name: 'concurrency', type: 'uint', apply: (c, v) => (c.concurrency = v) },
  { name: 'max_contention', type: 'uint', apply: (c, v) => (c.maxContention = v) },
  { name: 'nomagazines', type: 'flag', flags: KMF_NOMAGAZINE },
  { name: 'reap_interval', type: 'uint', apply: (c, v) => (c.reapInterval = v) },
];

const LOGGING_ITEMS: readonly Item[] = [
  logItem('transaction', 'transaction'),
  logItem('contents', 'content', KMF_CONTENTS),
  logItem('fail', 'failure'),
  logItem('slab', 'slab'),
];

/** A uint_t item's value (strtoul base 10, the whole string); a message tail on error. */
function parseUint(arg: string): number | string {
  const m = /^\s*\+?(\d+)$/.exec(arg);
  if (!m) return 'not a number';
  const v = Number(m[1]);
  return v > UINT_MAX ? 'overflowed' : v;
}

/** A size_t item's value: a number with an optional k/m/g/t suffix (powers of 1024). */
function parseSize(arg: string): number | string {
  const m = /^\s*\+?(\d+)([kKmMgGtT]?)$/.exec(arg);
  if (!m) return 'not a number';
  const shift = { '': 0, k: 10, m: 20, g: 30, t: 40 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const v = Number(m[1]) * 2 ** shift;
  return v > UINT_MAX ? 'overflowed' : v;
}

/** process_item: apply one recognised item; returns the message when it is bad. */
function processItem(c: UmemConfig, item: Item, arg: string | undefined, env: string): string | undefined {
  const where = `${env}: ${item.name}`;
  switch (item.type) {
    case 'flag':
    case 'clearflag':
      if (arg !== undefined) return `${where}: does not take a value. ignored`;
      item.apply?.(c, 0);
      break;
    case 'uint':
    case 'size':
    case 'optuint':
    case 'optsize': {
      const required = item.type === 'uint' || item.type === 'size';
      if (arg === undefined) {
        if (required) return `${where}: Required value missing`;
        break;
      }
      const v = item.type === 'uint' || item.type === 'optuint' ? parseUint(arg) : parseSize(arg);
      if (typeof v === 'string') return `${where}: ${v}`;
      item.apply!(c, v);
      break;
    }
    case 'special': {
      const msg = item.special!(c, arg, env);
      if (msg !== undefined) return msg;
      break;
    }
  }
  if (item.flags) c.flags |= item.flags;
  return undefined;
}

/** umem_process_value: one item of one variable. */
function processValue(c: UmemConfig, items: readonly Item[], text: string, env: string): void {
  const t = text.trim();
  if (t === '') {
    c.messages.push(`${env}: empty option`);
    return;
  }
  if (t.length + 1 > ITEM_MAX) {
    c.messages.push(`${env}: argument "${t.slice(0, SHORT_BYTES)}..." too long`);
    return;
  }
  const eq = t.indexOf('=');
  const name = eq < 0 ? t : t.slice(0, eq);
  const arg = eq < 0 ? undefined : t.slice(eq + 1);
  const item = items.find((i) => i.name === name);
  if (!item) {
    c.messages.push(`${env}: '${name}' not recognized`);
    return;
  }
  const msg = processItem(c, item, arg, env);
  if (msg !== undefined) c.messages.push(msg);
}

/** The configuration with nothing set (no debugging, no logs). */
export function defaultUmemConfig(): UmemConfig {
  return {
    flags: 0,
    stackDepth: undefined,
    contentMaxsave: undefined,
    output: 0,
    minfirewall: undefined,
    maxverify: undefined,
    abort: true,
    mtbf: 0,
    logging: false,
    logSizes: { transaction: 0, content: 0, failure: 0, slab: 0 },
    backend: 'sbrk',
    concurrency: undefined,
    maxContention: undefined,
    reapInterval: undefined,
    messages: [],
  };
}

/**
 * umem_process_envvars: read UMEM_DEBUG, UMEM_OPTIONS and UMEM_LOGGING (in
 * that order).  Bad items are left out and reported in `messages`.
 */
export function parseUmemEnv(env: UmemEnv): UmemConfig {
  const c = defaultUmemConfig();
  const vars: Array<[keyof UmemEnv, readonly Item[]]> = [
    ['UMEM_DEBUG', DEBUG_ITEMS],
    ['UMEM_OPTIONS', OPTIONS_ITEMS],
    ['UMEM_LOGGING', LOGGING_ITEMS],
  ];
  for (const [name, items] of vars) {
    const value = env[name];
    if (value === undefined || value.trim() === '') continue;
    for (const part of value.split(',')) processValue(c, items, part, name);
  }
  return c;
}
