/**
 * Append throughput of the durable log stores (WalStore, LmdbStore) against the raw fdatasync
 * rate of the same disk.
 *
 *   npm run bench:storage -- [--dir DIR] [--seconds S] [--rounds R]
 *   (= tsc -p tsconfig.bench.json && node dist-bench/bench/storage.js)
 *
 * For batches of 1, 64 and 1024 entries of 128 data bytes, with durability on:
 * - raw: write the bytes one batch occupies in a store (8-byte key + encoded entry) at the end of
 *   a file, then fdatasync, in a loop: the best a durable appender can do on this disk;
 * - each store, 1 in flight: `await storeLogs(batch)` in a loop;
 * - each store, 4 in flight: four writers each awaiting their own storeLogs, as a Raft leader
 *   keeps several persistence steps in flight; group commit folds them into shared commits.
 * A shared virtual disk drifts by several times within a minute, so the modes run in short
 * interleaved slices (S seconds, default 0.5) for R rounds (default 8); each round's ratio compares
 * neighbouring slices, and the medians over the rounds are printed.
 * ratio = store entries/s / (raw batches/s x batch size): the share of the disk's raw sync rate for
 * the same bytes that the store achieves. The target (issue 3) is >= 50% at batch 64, 1 in flight.
 */
import { closeSync, fdatasyncSync, openSync, statSync, writeSync } from 'node:fs';
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

interface Args {
  dir: string | undefined;
  seconds: number;
  rounds: number;
}

interface Sample {
  entriesPerSecond: number;
  commitsPerSecond: number;
}

function parse(): Args {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      seconds: { type: 'string', default: '0.5' },
      rounds: { type: 'string', default: '8' },
    },
  });
  return { dir: values.dir, seconds: Number(values.seconds), rounds: Number(values.rounds) };
}

const payload = Buffer.alloc(ENTRY_DATA_BYTES, 0x5a);

function makeEntry(index: number): LogEntry {
  return {
    index,
    term: 1,
    type: LogType.Command,
    data: payload,
    extensions: new Uint8Array(),
    appendedAt: 1_700_000_000_000,
  };
}

/** What one batch costs on disk in the store: the 8-byte key plus the encoded entry, per entry. */
function batchBytes(batch: number): number {
  return batch * (8 + encodeLogEntry(makeEntry(1)).length);
}

function rawFdatasync(dir: string, batch: number, seconds: number): Sample {
  const file = join(dir, `raw-${batch}.bin`);
  const fd = openSync(file, 'w');
  const bytes = Buffer.alloc(batchBytes(batch), 0xa5);
  let position = 0;
  let syncs = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  try {
    while (performance.now() < end) {
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

/** A store under test: how to open one, and its count of durable commits (one sync round each). */
interface StoreKind {
  name: string;
  open(path: string): Promise<LogStore & { close(): Promise<void> }>;
  commits(store: unknown): number;
}

const STORE_KINDS: StoreKind[] = [
  { name: 'wal', open: (path) => WalStore.open(path), commits: (store) => (store as WalStore).groupCount() },
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
  /** Per store kind: 1 in flight, WRITERS in flight. */
  one: Map<string, Sample[]>;
  many: Map<string, Sample[]>;
}

async function main(): Promise<void> {
  const args = parse();
  const dir = await mkdtemp(join(args.dir ?? tmpdir(), 'raftkit-bench-storage-'));
  const sameFs = statSync(dir).dev === statSync(process.cwd()).dev;
  console.log(`dir ${dir} (${sameFs ? 'same' : 'NOT the same'} filesystem as ${process.cwd()})`);
  console.log(
    `${args.rounds} rounds of ${args.seconds} s slices, medians; entries of ${ENTRY_DATA_BYTES} data bytes`,
  );
  const series = new Map<number, Series>();
  const opened: OpenStore[] = [];
  const open = async (kind: StoreKind, name: string): Promise<OpenStore> => {
    const target = { kind, store: await kind.open(join(dir, name)), nextIndex: 1 };
    opened.push(target);
    return target;
  };
  try {
    for (const batch of BATCH_SIZES) {
      const s: Series = { raw: [], one: new Map(), many: new Map() };
      series.set(batch, s);
      const targets: [StoreKind, OpenStore, OpenStore][] = [];
      for (const kind of STORE_KINDS) {
        targets.push([
          kind,
          await open(kind, `${kind.name}-b${batch}-1`),
          await open(kind, `${kind.name}-b${batch}-n`),
        ]);
        s.one.set(kind.name, []);
        s.many.set(kind.name, []);
      }
      for (let round = 0; round < args.rounds; round++) {
        s.raw.push(rawFdatasync(dir, batch, args.seconds));
        for (const [kind, one, many] of targets) {
          s.one.get(kind.name)!.push(await append(one, batch, 1, args.seconds));
          s.many.get(kind.name)!.push(await append(many, batch, WRITERS, args.seconds));
        }
      }
    }
  } finally {
    for (const { store } of opened) await store.close();
    await rm(dir, { recursive: true, force: true });
  }
  console.log(
    [
      'store',
      'batch',
      'raw syncs/s',
      'raw entries/s',
      '| 1 in flight: entries/s',
      'commits/s',
      'ratio',
      `| ${WRITERS} in flight: entries/s`,
      'entries/commit',
      'ratio',
    ].join('\t'),
  );
  const verdicts: string[] = [];
  for (const kind of STORE_KINDS) {
    for (const batch of BATCH_SIZES) {
      const s = series.get(batch)!;
      const one = s.one.get(kind.name)!;
      const many = s.many.get(kind.name)!;
      const entries = (samples: Sample[]) => median(samples.map((x) => x.entriesPerSecond));
      const ratios = (samples: Sample[]) =>
        median(samples.map((x, round) => x.entriesPerSecond / s.raw[round].entriesPerSecond));
      const ratioOne = ratios(one);
      if (batch === 64) {
        verdicts.push(`${kind.name}: batch-64 ratio (1 in flight) ${pct(ratioOne)} (target >= 50%)`);
      }
      const perCommit = median(many.map((x) => x.entriesPerSecond / x.commitsPerSecond));
      console.log(
        [
          kind.name,
          batch,
          fmt(median(s.raw.map((x) => x.commitsPerSecond))),
          fmt(entries(s.raw)),
          `| ${fmt(entries(one))}`,
          fmt(median(one.map((x) => x.commitsPerSecond))),
          pct(ratioOne),
          `| ${fmt(entries(many))}`,
          perCommit.toFixed(1),
          pct(ratios(many)),
        ].join('\t'),
      );
    }
  }
  for (const verdict of verdicts) console.log(verdict);
}

await main();
