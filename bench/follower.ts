/**
 * A follower's CPU per write outside the runtime: AppendEntries frames as a leader sends them
 * (binary put commands of 100-byte values over 100,000 keys, filled first as `npm run bench` does)
 * are decoded by a copying Decoder, as a server connection does, applied to a KvFsm, and answered
 * (the AppendEntries response encoded and copied as server-conn.ts writes it). It prints µs per
 * write for the decode, the apply and the answer, and CPU µs per write in all.
 *
 *   npm run bench:follower [-- --entries 32 --frames 4000 --keys 100000]
 *
 * Add `node --cpu-prof` or `--heap-prof` (run dist-bench/bench/follower.js) for the stacks.
 */
import { performance } from 'node:perf_hooks';
import { integerFlag } from '../src/cli/command.js';
import { LogType, type AppendEntriesRequest, type LogEntry } from '../src/core/types.js';
import { encodeCommand } from '../src/kv/commands.js';
import { KvFsm } from '../src/kv/fsm.js';
import { decodeRequest, encodeRequest, encodeResponse } from '../src/wire/codec.js';
import { Decoder } from '../src/wire/decoder.js';
import { Encoder } from '../src/wire/encoder.js';

/** `--name N`, checked against its bounds (integerFlag refuses anything else with a clear message). */
function flag(name: string, fallback: number, max: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return integerFlag(at < 0 ? undefined : (process.argv[at + 1] ?? ''), `--${name}`, {
    fallback,
    min: 1,
    max,
  });
}

const perFrame = flag('entries', 32, 4096);
const frames = flag('frames', 4000, 1_000_000);
const keyCount = flag('keys', 100_000, 10_000_000);
const value = new Uint8Array(100).fill(0x61);
const keyOf = (n: number): string => `key-${String(n).padStart(6, '0')}`;

/** A fixed pseudo-random walk over the keys, the same each run. */
let seed = 12345;
function nextKey(): string {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return keyOf(seed % keyCount);
}

function frame(first: number): Uint8Array {
  const entries: LogEntry[] = [];
  for (let i = 0; i < perFrame; i++) {
    // Copied, so that the state machine decodes it (encodeCommand remembers what it encoded).
    const data = encodeCommand({ op: 'put', key: nextKey(), value }, 'binary').slice();
    entries.push({
      index: first + i,
      term: 2,
      type: LogType.Command,
      data,
      extensions: new Uint8Array(0),
      appendedAt: 0,
    });
  }
  const request: AppendEntriesRequest = {
    kind: 'appendEntries',
    term: 2,
    leader: { id: 'n1', address: '127.0.0.1:7001' },
    prevLogIndex: first - 1,
    prevLogTerm: 2,
    entries,
    leaderCommitIndex: first - 1,
  };
  const enc = new Encoder();
  encodeRequest(enc, request);
  return enc.finish();
}

const fsm = new KvFsm();
let index = 1;
for (let n = 0; n < keyCount; n++) {
  const data = encodeCommand({ op: 'put', key: keyOf(n), value }, 'binary').slice();
  fsm.apply({
    index: index++,
    term: 2,
    type: LogType.Command,
    data,
    extensions: new Uint8Array(0),
    appendedAt: 0,
  });
}
const wire: Uint8Array[] = [];
for (let f = 0; f < frames; f++) wire.push(frame(index + f * perFrame));

const decoder = new Decoder({}, true);
const answers = new Encoder(512);
const local = { id: 'n2', address: '127.0.0.1:7002' };
let decodeMs = 0;
let applyMs = 0;
let answerMs = 0;
let answered = 0;
globalThis.gc?.();
const heapBefore = process.memoryUsage();
const cpuBefore = process.cpuUsage();
for (const bytes of wire) {
  const t0 = performance.now();
  const request = decodeRequest(decoder, bytes, 0)!.request as AppendEntriesRequest;
  const t1 = performance.now();
  for (const entry of request.entries) fsm.apply(entry);
  const t2 = performance.now();
  answers.reset();
  const lastLog = request.entries[request.entries.length - 1].index;
  encodeResponse(
    answers,
    'appendEntries',
    { term: 2, lastLog, success: true, noRetryBackoff: false },
    '',
    local,
  );
  answered += Buffer.from(answers.view()).length;
  answerMs += performance.now() - t2;
  applyMs += t2 - t1;
  decodeMs += t1 - t0;
}
const cpu = process.cpuUsage(cpuBefore);
const writes = frames * perFrame;
const us = (ms: number): string => ((ms * 1000) / writes).toFixed(3);
console.log(
  JSON.stringify({
    writes,
    entriesPerFrame: perFrame,
    keys: fsm.size,
    decodeUsPerWrite: us(decodeMs),
    applyUsPerWrite: us(applyMs),
    answerUsPerWrite: us(answerMs),
    answerBytes: answered / frames,
    cpuUsPerWrite: ((cpu.user + cpu.system) / writes).toFixed(3),
    externalGrowthBytes: process.memoryUsage().external - heapBefore.external,
  }),
);
