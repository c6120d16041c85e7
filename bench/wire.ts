/**
 * Wire codec throughput: encode + decode of one AppendEntries request frame with 64 entries of
 * 128 data bytes (the replication hot path), through the core types as a transport uses them.
 *
 *   npx tsc -p tsconfig.bench.json && node dist-bench/bench/wire.js [seconds] [rounds]
 *
 * Prints ops/s (one op = encode a frame into a reused Encoder, copy it out as a transport must,
 * and decode it back into core values) and the equivalent entries/s and MB/s of frame bytes.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { LogType, type AppendEntriesRequest, type LogEntry } from '../src/core/types.js';
import { decodeRequest, encodeRequest } from '../src/wire/codec.js';
import { Decoder } from '../src/wire/decoder.js';
import { Encoder } from '../src/wire/encoder.js';

const ENTRIES = 64;
const DATA_BYTES = 128;

export interface WireBenchResult {
  opsPerSecond: number;
  entriesPerSecond: number;
  frameBytes: number;
  megabytesPerSecond: number;
}

function sampleRequest(): AppendEntriesRequest {
  const entries: LogEntry[] = [];
  for (let i = 0; i < ENTRIES; i++) {
    const data = new Uint8Array(DATA_BYTES);
    for (let j = 0; j < DATA_BYTES; j++) data[j] = (i * 31 + j) & 0xff;
    entries.push({
      index: 1_000_000 + i,
      term: 7,
      type: LogType.Command,
      data,
      extensions: new Uint8Array(0),
      appendedAt: 1_700_000_000_000 + i,
    });
  }
  return {
    kind: 'appendEntries',
    term: 7,
    leader: { id: 'node-1', address: '127.0.0.1:7001' },
    prevLogIndex: 999_999,
    prevLogTerm: 7,
    entries,
    leaderCommitIndex: 999_990,
  };
}

/** Runs encode+decode round trips for about `seconds` and returns the rate. */
export function benchWire(seconds = 2): WireBenchResult {
  const request = sampleRequest();
  const enc = new Encoder();
  const dec = new Decoder();
  let frameBytes = 0;
  let checksum = 0;
  const roundTrip = (): void => {
    enc.reset();
    encodeRequest(enc, request);
    const frame = enc.finish();
    frameBytes = frame.length;
    const got = decodeRequest(dec, frame, 0);
    if (got === null || got.request.kind !== 'appendEntries') throw new Error('round trip failed');
    checksum += got.request.entries.length;
  };
  for (let i = 0; i < 2000; i++) roundTrip(); // warm up the JIT
  let ops = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 500; i++) roundTrip();
    ops += 500;
    now = performance.now();
  }
  if (checksum === 0) throw new Error('nothing decoded');
  const opsPerSecond = ops / ((now - start) / 1000);
  return {
    opsPerSecond,
    entriesPerSecond: opsPerSecond * ENTRIES,
    frameBytes,
    megabytesPerSecond: (opsPerSecond * frameBytes) / 1e6,
  };
}

function main(): void {
  const seconds = Number(process.argv[2] ?? 2);
  const rounds = Number(process.argv[3] ?? 3);
  const results: WireBenchResult[] = [];
  for (let i = 0; i < rounds; i++) results.push(benchWire(seconds));
  results.sort((a, b) => a.opsPerSecond - b.opsPerSecond);
  const median = results[Math.floor(results.length / 2)];
  console.log(
    `wire AppendEntries ${ENTRIES}x${DATA_BYTES}B (frame ${median.frameBytes} B), encode+decode: ` +
      `${Math.round(median.opsPerSecond)} ops/s, ${Math.round(median.entriesPerSecond)} entries/s, ` +
      `${median.megabytesPerSecond.toFixed(1)} MB/s (median of ${rounds} x ${seconds}s)`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
