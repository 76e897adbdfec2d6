/*
 * dump.savecore.mbps: MiB/s writing the dump of a kernel with 1 GiB of
 * touched heap (savecore: unix.N + vmcore.N into os.tmpdir()), best of 2.
 * dump.savecore_shm.mbps: the same into /dev/shm (no disk), if present.
 * dump.open_1g.ms: opening that dump and reading ::status-level facts
 * (status, threads, a symbol, a few words), in a fresh process.
 * dump.reader_rss_mb: that process's resident set after it has also read
 * every byte of the dump through Target.bytes() and loaded a word of every
 * page in a scattered order (the cache and scan ring must bound it).
 * dump.scan_1g.mbps: that full read, in MiB/s, through Target.bytes().
 * The reading process checks what it measures: each MiB of the heap holds
 * the pattern written before savecore, and the full read covers every
 * mapped byte; otherwise the benchmark fails.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Kernel } from '../src/kernel/kernel.js';
import { savecore, type DumpInfo } from '../src/dump/savecore.js';

const GIB = 1 << 30;

export async function benchDump(): Promise<Record<string, number>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmemdb-bench-dump-'));
  try {
    let info!: DumpInfo;
    let secs: number;
    let shmMbps = 0;
    let base = 0;
    {
      const k = new Kernel({ heapSize: GIB + (16 << 20) });
      base = k.layout.heapBase;
      k.mem.map(base, GIB);
      // touch every page with distinct contents
      for (let off = 0; off < GIB; off += 1 << 20) k.mem.fill32(base + off, 1 << 20, (0xbaddcafe ^ off) >>> 0);
      k.createThread('worker');
      // Best of two: the figure is dominated by the host's page cache and
      // disk writeback (shared machine), which vary run to run.
      secs = Infinity;
      for (let i = 0; i < 2; i++) {
        const t0 = process.hrtime.bigint();
        info = savecore(k, dir);
        secs = Math.min(secs, Number(process.hrtime.bigint() - t0) / 1e9);
      }
      // The same into memory (tmpfs), when there is one: our own cost
      // without the disk.
      if (fs.existsSync('/dev/shm')) {
        const shm = fs.mkdtempSync('/dev/shm/kmemdb-bench-dump-');
        try {
          const t0 = process.hrtime.bigint();
          const d = savecore(k, shm);
          const s = Number(process.hrtime.bigint() - t0) / 1e9;
          shmMbps = (fs.statSync(d.vmcorePath).size + fs.statSync(d.unixPath).size) / (1 << 20) / s;
        } finally {
          fs.rmSync(shm, { recursive: true, force: true });
        }
      }
    }
    const written = fs.statSync(info.vmcorePath).size + fs.statSync(info.unixPath).size;
    const reader = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'target', 'dump-target.js');
    const script = `
      const { openDump, DUMP_CHUNK_SIZE } = await import(${JSON.stringify(reader)});
      const t0 = performance.now();
      const t = openDump(${JSON.stringify(info.unixPath)}, ${JSON.stringify(info.vmcorePath)});
      const st = t.status();
      const th = t.threads();
      let s = t.load32(t.symbolByName('ncpus').value) + th.length + (st.panicMessage?.length ?? 0) + t.symbolByName('panicstr').size;
      for (const x of th) s += t.loadPtr(x.addr);
      const openMs = performance.now() - t0;
      // the heap as written: each MiB starts with its own pattern word
      for (let off = 0; off < ${GIB}; off += 1 << 20) {
        const w = t.load32(${base} + off);
        if (w !== ((0xbaddcafe ^ off) >>> 0)) throw new Error('dump holds 0x' + w.toString(16) + ' at heap+0x' + off.toString(16));
      }
      const t1 = performance.now();
      let bytes = 0;
      for (const r of t.ranges()) {
        for (let off = 0; off < r.size; off += DUMP_CHUNK_SIZE) {
          const b = t.bytes(r.base + off, Math.min(DUMP_CHUNK_SIZE, r.size - off));
          s += b[b.length - 1]; bytes += b.length;
        }
      }
      const scanSecs = (performance.now() - t1) / 1000;
      const mapped = t.ranges().reduce((n, r) => n + r.size, 0);
      if (bytes !== mapped || bytes < ${GIB}) throw new Error('scanned ' + bytes + ' bytes of ' + mapped);
      // and pointer-chasing style loads, one per page in a scattered order
      for (const r of t.ranges()) {
        const pages = r.size / 4096;
        for (let i = 0, p = 0; i < pages; i++, p = (p + 7919) % pages) s += t.load32(r.base + p * 4096);
      }
      const rss = process.memoryUsage().rss / (1 << 20);
      t.close();
      console.log(JSON.stringify({ openMs, rss, scan: bytes / (1 << 20) / scanSecs, s: s & 1 }));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    const r = JSON.parse(out.trim().split('\n').pop()!) as { openMs: number; rss: number; scan: number };
    return {
      'dump.savecore.mbps': written / (1 << 20) / secs,
      ...(shmMbps ? { 'dump.savecore_shm.mbps': shmMbps } : {}),
      'dump.open_1g.ms': r.openMs,
      'dump.reader_rss_mb': r.rss,
      'dump.scan_1g.mbps': r.scan,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
