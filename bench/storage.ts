/**
 * LmdbStore append throughput against the raw fdatasync rate of the same disk.
 *
 *   npm run bench:storage -- [--dir DIR] [--seconds S] [--rounds R]
 *   (= tsc -p tsconfig.bench.json && node dist-bench/bench/storage.js)
 *
 * For batches of 1, 64 and 1024 entries of 128 data bytes, with durability on:
 * - raw: write the bytes one batch occupies in the store (key + encoded entry) at the end of a
 *   file, then fdatasync, in a loop: the best a durable appender can do on this disk;
 * - lmdb, 1 in flight: `await storeLogs(batch)` in a loop;
 * - lmdb, 4 in flight: four writers each awaiting their own storeLogs, as a Raft leader keeps
 *   several persistence steps in flight; group commit folds them into shared commits.
 * A shared virtual disk drifts by several times within a minute, so the modes run in short
 * interleaved slices (S seconds, default 0.5) for R rounds (default 8); each round's ratio compares
 * neighbouring slices, and the medians over the rounds are printed.
 * ratio = lmdb entries/s / (raw batches/s x batch size): the share of the disk's raw sync rate for
 * the same bytes that the store achieves.
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

interface OpenStore {
  store: LmdbStore;
  nextIndex: number;
}

async function lmdbAppend(
  target: OpenStore,
  batch: number,
  writers: number,
  seconds: number,
): Promise<Sample> {
  const { store } = target;
  let entries = 0;
  const firstTxn = store.lastTransactionId();
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
  const commits = store.lastTransactionId() - firstTxn;
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
  one: Sample[];
  many: Sample[];
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
  const stores: LmdbStore[] = [];
  const open = async (name: string): Promise<OpenStore> => {
    const store = await LmdbStore.open(join(dir, `${name}.lmdb`));
    stores.push(store);
    return { store, nextIndex: 1 };
  };
  try {
    for (const batch of BATCH_SIZES) {
      const one = await open(`b${batch}-1`);
      const many = await open(`b${batch}-${WRITERS}`);
      const s: Series = { raw: [], one: [], many: [] };
      series.set(batch, s);
      for (let round = 0; round < args.rounds; round++) {
        s.raw.push(rawFdatasync(dir, batch, args.seconds));
        s.one.push(await lmdbAppend(one, batch, 1, args.seconds));
        s.many.push(await lmdbAppend(many, batch, WRITERS, args.seconds));
      }
    }
  } finally {
    for (const store of stores) await store.close();
    await rm(dir, { recursive: true, force: true });
  }
  console.log(
    [
      'batch',
      'raw syncs/s',
      'raw entries/s',
      '| lmdb 1 in flight: entries/s',
      'commits/s',
      'ratio',
      `| lmdb ${WRITERS} in flight: entries/s`,
      'entries/commit',
      'ratio',
    ].join('\t'),
  );
  let ratio64 = 0;
  for (const batch of BATCH_SIZES) {
    const s = series.get(batch)!;
    const entries = (samples: Sample[]) => median(samples.map((x) => x.entriesPerSecond));
    const ratios = (samples: Sample[]) =>
      median(samples.map((x, round) => x.entriesPerSecond / s.raw[round].entriesPerSecond));
    const ratioOne = ratios(s.one);
    if (batch === 64) ratio64 = ratioOne;
    const perCommit = median(s.many.map((x) => x.entriesPerSecond / x.commitsPerSecond));
    console.log(
      [
        batch,
        fmt(median(s.raw.map((x) => x.commitsPerSecond))),
        fmt(entries(s.raw)),
        `| ${fmt(entries(s.one))}`,
        fmt(median(s.one.map((x) => x.commitsPerSecond))),
        pct(ratioOne),
        `| ${fmt(entries(s.many))}`,
        perCommit.toFixed(1),
        pct(ratios(s.many)),
      ].join('\t'),
    );
  }
  console.log(`batch-64 ratio (1 in flight): ${pct(ratio64)} (target >= 50%)`);
}

await main();
