/**
 * The durable log stores (WalStore, LmdbStore) against the raw rates of the same disk.
 *
 *   npm run bench:storage -- [--dir DIR] [--seconds S] [--rounds R] [--only wal,wal-plain,lmdb] [--batches 1,64,1024]
 *   npm run bench:storage -- --open N [--rounds R]
 *   (= tsc -p tsconfig.bench.json && node dist-bench/bench/storage.js)
 *
 * Appends (the default). For batches of 1, 64 and 1024 entries of 128 data bytes, durability on:
 * - raw: write the bytes one batch occupies in a store (8-byte key + encoded entry) at the end of
 *   a file, then fdatasync, in a loop: an appender that grows its file (the target's floor);
 * - raw overwrite: the same into a file filled with zeros beforehand, as a store that
 *   preallocates its segments writes (the WAL does): no file size or block map to sync;
 * - each store, 1 in flight: `await storeLogs(batch)` in a loop;
 * - each store, 4 in flight: four writers each awaiting their own storeLogs, as a Raft leader
 *   keeps several persistence steps in flight; group commit folds them into shared commits.
 * A shared virtual disk drifts by several times within a minute, so the modes run in short
 * interleaved slices (S seconds, default 0.5) for R rounds (default 8); each round's ratio compares
 * neighbouring slices, and the medians over the rounds are printed.
 * ratio = store entries/s / (raw batches/s x batch size): the share of the disk's raw sync rate for
 * the same bytes that the store achieves. The target (issue 14) is >= 80% at batch 64, 1 in flight.
 *
 * Restart (`--open N`): a WAL of N entries of 100 data bytes is written once; then, interleaved for
 * R rounds (default 5), fresh processes (so that each peak RSS is its own) time
 * - raw read: reading every segment file through once (the floor: replay must read them all);
 * - open + entryTerms: WalStore.open and the terms of every entry, what a restart needs;
 * - open + getLogs: WalStore.open and reading every entry back, what start-up did before
 *   entryTerms existed.
 * The files sit in the page cache after the first round, for all three alike.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, fdatasyncSync, openSync, readSync, readdirSync, statSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { LogType, type LogEntry } from '../src/core/types.js';
import { LmdbStore } from '../src/storage/lmdb.js';
import { encodeLogEntry } from '../src/storage/log-codec.js';
import type { LogStore } from '../src/storage/types.js';
import { WalStore } from '../src/storage/wal.js';

const ENTRY_DATA_BYTES = 128;
const BATCH_SIZES = [1, 64, 1024];
const WRITERS = 4;
/** The preallocated file the raw overwrite loop writes into (wrapping around). */
const OVERWRITE_FILE_BYTES = 64 * 1024 * 1024;

interface Args {
  dir: string | undefined;
  seconds: number;
  rounds: number | undefined;
  only: string | undefined;
  batches: number[];
  open: number | undefined;
  child: string[];
}

interface Sample {
  entriesPerSecond: number;
  commitsPerSecond: number;
}

function parse(): Args {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      seconds: { type: 'string', default: '0.5' },
      rounds: { type: 'string' },
      only: { type: 'string' },
      batches: { type: 'string', default: BATCH_SIZES.join(',') },
      open: { type: 'string' },
      child: { type: 'boolean', default: false },
    },
  });
  return {
    dir: values.dir,
    seconds: Number(values.seconds),
    rounds: values.rounds === undefined ? undefined : Number(values.rounds),
    only: values.only,
    batches: values.batches.split(',').map((text) => {
      const batch = Number(text);
      if (!Number.isInteger(batch) || batch < 1 || batch > 65_536) {
        throw new Error(`--batches: ${text} is not a batch size from 1 to 65536`);
      }
      return batch;
    }),
    open: values.open === undefined ? undefined : Number(values.open),
    child: values.child ? positionals : [],
  };
}

const payload = Buffer.alloc(ENTRY_DATA_BYTES, 0x5a);

function makeEntry(index: number, data: Uint8Array = payload): LogEntry {
  return {
    index,
    term: 1,
    type: LogType.Command,
    data,
    extensions: new Uint8Array(),
    appendedAt: 1_700_000_000_000,
  };
}

/** What one batch costs on disk in the store: the 8-byte key plus the encoded entry, per entry. */
function batchBytes(batch: number): number {
  return batch * (8 + encodeLogEntry(makeEntry(1)).length);
}

/** write + fdatasync in a loop, growing `file` from empty (or overwriting it, if `overwrite`). */
function rawFdatasync(file: string, batch: number, seconds: number, overwrite: boolean): Sample {
  const fd = openSync(file, overwrite ? 'r+' : 'w');
  const bytes = Buffer.alloc(batchBytes(batch), 0xa5);
  let position = 0;
  let syncs = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  try {
    while (performance.now() < end) {
      if (overwrite && position + bytes.length > OVERWRITE_FILE_BYTES) position = 0;
      writeSync(fd, bytes, 0, bytes.length, position);
      fdatasyncSync(fd);
      position += bytes.length;
      syncs++;
    }
  } finally {
    closeSync(fd);
  }
  const elapsed = (performance.now() - start) / 1000;
  return { entriesPerSecond: (syncs * batch) / elapsed, commitsPerSecond: syncs / elapsed };
}

/** Creates `file` full of zeros, durably: the raw overwrite loop's preallocated file. */
function preallocatedFile(file: string): string {
  const fd = openSync(file, 'w');
  const zeros = Buffer.alloc(1024 * 1024);
  for (let at = 0; at < OVERWRITE_FILE_BYTES; at += zeros.length) writeSync(fd, zeros, 0, zeros.length, at);
  fdatasyncSync(fd);
  closeSync(fd);
  return file;
}

/** A store under test: how to open one, and its count of durable commits (one sync round each). */
interface StoreKind {
  name: string;
  open(path: string): Promise<LogStore & { close(): Promise<void> }>;
  commits(store: unknown): number;
}

const STORE_KINDS: StoreKind[] = [
  { name: 'wal', open: (path) => WalStore.open(path), commits: (store) => (store as WalStore).groupCount() },
  {
    // Without zeros ahead of the data: what preallocation buys, measured in the same run.
    name: 'wal-plain',
    open: (path) => WalStore.open(path, { preallocate: false }),
    commits: (store) => (store as WalStore).groupCount(),
  },
  {
    name: 'lmdb',
    open: (path) => LmdbStore.open(`${path}.lmdb`),
    commits: (store) => (store as LmdbStore).lastTransactionId(),
  },
];

interface OpenStore {
  kind: StoreKind;
  store: LogStore & { close(): Promise<void> };
  nextIndex: number;
}

async function append(target: OpenStore, batch: number, writers: number, seconds: number): Promise<Sample> {
  const { store, kind } = target;
  let entries = 0;
  const firstCommit = kind.commits(store);
  const start = performance.now();
  const end = start + seconds * 1000;
  const writer = async () => {
    while (performance.now() < end) {
      const list: LogEntry[] = [];
      for (let i = 0; i < batch; i++) list.push(makeEntry(target.nextIndex++));
      await store.storeLogs(list);
      entries += batch;
    }
  };
  await Promise.all(Array.from({ length: writers }, writer));
  const elapsed = (performance.now() - start) / 1000;
  const commits = kind.commits(store) - firstCommit;
  return { entriesPerSecond: entries / elapsed, commitsPerSecond: commits / elapsed };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (n: number) => `${(n * 100).toFixed(0)}%`;

interface Series {
  raw: Sample[];
  overwrite: Sample[];
  /** Per store kind: 1 in flight, WRITERS in flight. */
  one: Map<string, Sample[]>;
  many: Map<string, Sample[]>;
}

async function appends(args: Args, dir: string): Promise<void> {
  const rounds = args.rounds ?? 8;
  const only = args.only?.split(',');
  const kinds = STORE_KINDS.filter((kind) => only === undefined || only.includes(kind.name));
  console.log(
    `${rounds} rounds of ${args.seconds} s slices, medians; entries of ${ENTRY_DATA_BYTES} data bytes`,
  );
  const series = new Map<number, Series>();
  const opened: OpenStore[] = [];
  const open = async (kind: StoreKind, name: string): Promise<OpenStore> => {
    const target = { kind, store: await kind.open(join(dir, name)), nextIndex: 1 };
    opened.push(target);
    return target;
  };
  const overwriteFile = preallocatedFile(join(dir, 'raw-preallocated.bin'));
  try {
    for (const batch of args.batches) {
      const s: Series = { raw: [], overwrite: [], one: new Map(), many: new Map() };
      series.set(batch, s);
      const targets: [StoreKind, OpenStore, OpenStore][] = [];
      for (const kind of kinds) {
        targets.push([
          kind,
          await open(kind, `${kind.name}-b${batch}-1`),
          await open(kind, `${kind.name}-b${batch}-n`),
        ]);
        s.one.set(kind.name, []);
        s.many.set(kind.name, []);
      }
      for (let round = 0; round < rounds; round++) {
        s.raw.push(rawFdatasync(join(dir, `raw-${batch}.bin`), batch, args.seconds, false));
        s.overwrite.push(rawFdatasync(overwriteFile, batch, args.seconds, true));
        for (const [kind, one, many] of targets) {
          s.one.get(kind.name)!.push(await append(one, batch, 1, args.seconds));
          s.many.get(kind.name)!.push(await append(many, batch, WRITERS, args.seconds));
        }
      }
    }
  } finally {
    for (const { store } of opened) await store.close();
  }
  console.log(
    [
      'store',
      'batch',
      'raw syncs/s',
      'raw entries/s',
      'overwrite syncs/s',
      '| 1 in flight: entries/s',
      'commits/s',
      'ratio',
      'vs overwrite',
      `| ${WRITERS} in flight: entries/s`,
      'entries/commit',
      'ratio',
    ].join('\t'),
  );
  const verdicts: string[] = [];
  for (const kind of kinds) {
    for (const batch of args.batches) {
      const s = series.get(batch)!;
      const one = s.one.get(kind.name)!;
      const many = s.many.get(kind.name)!;
      const entries = (samples: Sample[]) => median(samples.map((x) => x.entriesPerSecond));
      const ratios = (samples: Sample[], floor: Sample[]) =>
        median(samples.map((x, round) => x.entriesPerSecond / floor[round].entriesPerSecond));
      const ratioOne = ratios(one, s.raw);
      if (batch === 64) {
        verdicts.push(`${kind.name}: batch-64 ratio (1 in flight) ${pct(ratioOne)} (target >= 80%)`);
      }
      const perCommit = median(many.map((x) => x.entriesPerSecond / x.commitsPerSecond));
      console.log(
        [
          kind.name,
          batch,
          fmt(median(s.raw.map((x) => x.commitsPerSecond))),
          fmt(entries(s.raw)),
          fmt(median(s.overwrite.map((x) => x.commitsPerSecond))),
          `| ${fmt(entries(one))}`,
          fmt(median(one.map((x) => x.commitsPerSecond))),
          pct(ratioOne),
          pct(ratios(one, s.overwrite)),
          `| ${fmt(entries(many))}`,
          perCommit.toFixed(1),
          pct(ratios(many, s.raw)),
        ].join('\t'),
      );
    }
  }
  for (const verdict of verdicts) console.log(verdict);
}

// ---------------------------------------------------------------------------------------------
// Restart: open time and peak RSS for a long log.

const OPEN_MODES = ['raw read', 'open + entryTerms', 'open + getLogs'] as const;
type OpenMode = (typeof OPEN_MODES)[number];

interface OpenSample {
  ms: number;
  /** Of which WalStore.open (the rest: terms or entries). */
  openMs: number;
  maxRssMb: number;
}

/** Runs in a fresh process: one measurement of `mode` over the WAL in `walDir`. */
async function openChild(mode: OpenMode, walDir: string): Promise<OpenSample> {
  const start = performance.now();
  let openMs = 0;
  if (mode === 'raw read') {
    const chunk = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (const name of readdirSync(walDir).filter((n) => n.endsWith('.wal'))) {
      const fd = openSync(join(walDir, name), 'r');
      while (readSync(fd, chunk, 0, chunk.length, null) > 0);
      closeSync(fd);
    }
  } else {
    const store = await WalStore.open(walDir, { preallocate: false });
    openMs = performance.now() - start;
    const first = await store.firstIndex();
    const last = await store.lastIndex();
    if (mode === 'open + entryTerms') {
      const { terms } = await store.entryTerms(first, last);
      if (terms.length !== last - first + 1) throw new Error('entryTerms returned the wrong count');
    } else {
      for (let lo = first; lo <= last; lo += 1024) await store.getLogs(lo, Math.min(last, lo + 1023));
    }
    await store.close();
  }
  const ms = performance.now() - start;
  return { ms, openMs, maxRssMb: process.resourceUsage().maxRSS / 1024 };
}

async function restarts(args: Args, dir: string): Promise<void> {
  const entries = args.open!;
  const rounds = args.rounds ?? 5;
  const walDir = join(dir, 'open-wal');
  const build = performance.now();
  const store = await WalStore.open(walDir, { noSync: true });
  const data = Buffer.alloc(100, 0x5a);
  for (let lo = 1; lo <= entries; lo += 1000) {
    const batch: LogEntry[] = [];
    for (let index = lo; index <= Math.min(entries, lo + 999); index++) batch.push(makeEntry(index, data));
    await store.storeLogs(batch);
  }
  await store.close();
  const bytes = readdirSync(walDir).reduce((sum, name) => sum + statSync(join(walDir, name)).size, 0);
  console.log(
    `${fmt(entries)} entries of 100 data bytes: ${(bytes / 2 ** 20).toFixed(0)} MiB of segments, written in ${fmt(performance.now() - build)} ms; ${rounds} interleaved rounds, medians`,
  );
  const samples = new Map<OpenMode, OpenSample[]>(OPEN_MODES.map((mode) => [mode, []]));
  for (let round = 0; round < rounds; round++) {
    for (const mode of OPEN_MODES) {
      const child = spawnSync(process.execPath, [process.argv[1], '--child', mode, walDir], {
        encoding: 'utf8',
      });
      if (child.status !== 0) throw new Error(`${mode} failed: ${child.stderr}`);
      samples.get(mode)!.push(JSON.parse(child.stdout) as OpenSample);
    }
  }
  const raw = samples.get('raw read')!;
  console.log(['mode', 'ms', 'of which open ms', 'x raw read', 'peak RSS MB'].join('\t'));
  for (const mode of OPEN_MODES) {
    const list = samples.get(mode)!;
    console.log(
      [
        mode,
        fmt(median(list.map((x) => x.ms))),
        fmt(median(list.map((x) => x.openMs))),
        median(list.map((x, round) => x.ms / raw[round].ms)).toFixed(1),
        fmt(median(list.map((x) => x.maxRssMb))),
      ].join('\t'),
    );
  }
}

async function main(): Promise<void> {
  const args = parse();
  if (args.child.length > 0) {
    const [mode, walDir] = args.child;
    process.stdout.write(JSON.stringify(await openChild(mode as OpenMode, walDir)));
    return;
  }
  const dir = await mkdtemp(join(args.dir ?? tmpdir(), 'raftkit-bench-storage-'));
  const sameFs = statSync(dir).dev === statSync(process.cwd()).dev;
  console.log(`dir ${dir} (${sameFs ? 'same' : 'NOT the same'} filesystem as ${process.cwd()})`);
  try {
    if (args.open === undefined) await appends(args, dir);
    else await restarts(args, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
