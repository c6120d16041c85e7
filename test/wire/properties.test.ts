/**
 * Seeded property tests: random values round-trip, every prefix of every frame asks for more
 * bytes, and corrupted frames fail only with the codec's typed errors.
 */
import { describe, expect, it } from 'vitest';
import { ErrDecode, ErrTooLarge } from '../../src/core/errors.js';
import {
  LogType,
  ServerSuffrage,
  type LogEntry,
  type Peer,
  type RaftRequest,
  type ResponseMap,
} from '../../src/core/types.js';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../../src/wire/codec.js';
import { Decoder } from '../../src/wire/decoder.js';
import { Encoder } from '../../src/wire/encoder.js';
import { decodeRequestFrame, decodeResponseFrame, type RpcType } from '../../src/wire/frames.js';
import { fromHex, loadGoldens, normalize } from './goldens.js';

/** mulberry32: small, fast, deterministic. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  /** Integers spread over every msgpack width up to the wire's bound for terms and indexes, 2^48-1. */
  const index = (): number => {
    const bits = int(49);
    return Math.floor(next() * 2 ** bits);
  };
  const bytes = (): Uint8Array => {
    const len = pick([0, 0, 1, 5, 31, 32, 100, 255, 256, 1000, int(70000)]);
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) out[i] = int(256);
    return out;
  };
  const text = (): string =>
    pick(['', 'n1', 'node-ünïcödé', '127.0.0.1:7001', '[::1]:65535', 'x'.repeat(int(300))]);
  return { next, int, pick, index, bytes, text };
}
type Rng = ReturnType<typeof prng>;

function randomPeer(r: Rng): Peer {
  return { id: r.text() || 'id', address: r.text() || 'addr' };
}

function randomEntry(r: Rng): LogEntry {
  return {
    index: r.index(),
    term: r.index(),
    type: r.pick([LogType.Command, LogType.Noop, LogType.Barrier, LogType.Configuration]),
    data: r.bytes(),
    extensions: r.int(4) === 0 ? r.bytes() : new Uint8Array(0),
    // Whole milliseconds between year 1 and 9999, 0 being Go's zero time.
    appendedAt: r.int(3) === 0 ? 0 : Math.floor((r.next() - 0.2) * 253402300799999),
  };
}

function randomRequest(r: Rng): RaftRequest {
  switch (r.int(6)) {
    case 0: {
      const entries = Array.from({ length: r.int(8) }, () => randomEntry(r));
      return {
        kind: 'appendEntries',
        term: r.index(),
        leader: randomPeer(r),
        prevLogIndex: r.index(),
        prevLogTerm: r.index(),
        entries,
        leaderCommitIndex: r.index(),
      };
    }
    case 1:
      return {
        kind: 'requestVote',
        term: r.index(),
        candidate: randomPeer(r),
        lastLogIndex: r.index(),
        lastLogTerm: r.index(),
        leadershipTransfer: r.int(2) === 0,
      };
    case 2:
      return {
        kind: 'requestPreVote',
        term: r.index(),
        candidate: randomPeer(r),
        lastLogIndex: r.index(),
        lastLogTerm: r.index(),
      };
    case 3:
      return {
        kind: 'installSnapshot',
        snapshotVersion: 1,
        term: r.index(),
        leader: randomPeer(r),
        lastLogIndex: r.index(),
        lastLogTerm: r.index(),
        configuration: {
          servers: Array.from({ length: r.int(5) }, () => ({
            suffrage: r.pick([ServerSuffrage.Voter, ServerSuffrage.Nonvoter, ServerSuffrage.Staging]),
            id: r.text(),
            address: r.text(),
          })),
        },
        configurationIndex: r.index(),
        size: r.index(),
      };
    case 4:
      return { kind: 'timeoutNow', term: 0, from: randomPeer(r) };
    default:
      return { kind: 'readIndex', term: r.index(), from: randomPeer(r) };
  }
}

function randomResponse(r: Rng, kind: keyof ResponseMap): ResponseMap[keyof ResponseMap] {
  const b = () => r.int(2) === 0;
  switch (kind) {
    case 'appendEntries':
      return { term: r.index(), lastLog: r.index(), success: b(), noRetryBackoff: b() };
    case 'requestVote':
    case 'requestPreVote':
      return { term: r.index(), granted: b() };
    case 'installSnapshot':
      return { term: r.index(), success: b() };
    case 'timeoutNow':
      return {};
    case 'readIndex':
      return { term: r.index(), readIndex: r.index(), success: b() };
  }
}

/** A heartbeat's empty entries travel as nil, which reads back as empty: the same core value. */
describe('random round trips (seeded)', () => {
  it('requests', () => {
    const r = prng(1);
    const enc = new Encoder(64);
    const d = new Decoder();
    for (let i = 0; i < 300; i++) {
      const req = randomRequest(r);
      enc.reset();
      encodeRequest(enc, req);
      const back = decodeRequest(d, enc.view(), 0);
      expect(back?.bytesUsed).toBe(enc.length);
      expect(normalize(back?.request)).toEqual(normalize(req));
    }
  });

  it('responses with error texts', () => {
    const r = prng(2);
    const enc = new Encoder(64);
    const d = new Decoder();
    const kinds: (keyof ResponseMap)[] = [
      'appendEntries',
      'requestVote',
      'requestPreVote',
      'installSnapshot',
      'timeoutNow',
      'readIndex',
    ];
    for (let i = 0; i < 300; i++) {
      const kind = r.pick(kinds);
      const res = r.int(5) === 0 ? null : randomResponse(r, kind);
      const error = r.pick(['', 'short read', 'ünïcödé error', 'e'.repeat(r.int(70000))]);
      enc.reset();
      encodeResponse(enc, kind, res, error, randomPeer(r));
      expect(decodeResponse(d, enc.view(), 0, kind)).toEqual({ error, response: res, bytesUsed: enc.length });
    }
  });
});

interface Frame {
  bytes: Uint8Array;
  response?: RpcType;
}

function allFrames(): Frame[] {
  const frames: Frame[] = [];
  for (const file of ['latest.json', 'v1.1.2.json']) {
    for (const c of loadGoldens(file)) {
      if (c.frame === 'request') frames.push({ bytes: fromHex(c.hex) });
      if (c.frame === 'response') frames.push({ bytes: fromHex(c.hex), response: c.rpcType as RpcType });
    }
  }
  const r = prng(3);
  const enc = new Encoder(64);
  for (let i = 0; i < 30; i++) {
    enc.reset();
    encodeRequest(enc, randomRequest(r));
    frames.push({ bytes: enc.finish() });
  }
  return frames;
}

function decodeFrame(d: Decoder, f: Frame, buf: Uint8Array): { bytesUsed: number } | null {
  return f.response === undefined
    ? decodeRequestFrame(d, buf, 0)
    : decodeResponseFrame(d, buf, 0, f.response);
}

describe('truncation and corruption', () => {
  const frames = allFrames();

  it('every proper prefix of every frame needs more bytes, without throwing', () => {
    const d = new Decoder();
    let checked = 0;
    for (const f of frames) {
      for (let cut = 0; cut < f.bytes.length; cut++) {
        const result = decodeFrame(d, f, f.bytes.subarray(0, cut));
        if (result !== null) throw new Error(`frame of ${f.bytes.length} bytes decoded from ${cut}`);
        checked++;
      }
      expect(decodeFrame(d, f, f.bytes)?.bytesUsed).toBe(f.bytes.length);
    }
    expect(checked).toBeGreaterThan(100_000);
  });

  it('corrupted frames decode, need more, or fail with ErrDecode/ErrTooLarge only', () => {
    const r = prng(4);
    const d = new Decoder({ maxBytes: 1 << 20, maxValueBytes: 1 << 22 });
    const small = frames.filter((f) => f.bytes.length < 5000);
    const outcomes = { ok: 0, needMore: 0, refused: 0 };
    for (let i = 0; i < 5000; i++) {
      const f = r.pick(small);
      const bytes = f.bytes.slice();
      for (let flips = 1 + r.int(4); flips > 0; flips--) bytes[r.int(bytes.length)] = r.int(256);
      try {
        const result = decodeFrame(d, f, bytes);
        outcomes[result === null ? 'needMore' : 'ok']++;
      } catch (err) {
        if (!(err instanceof ErrDecode || err instanceof ErrTooLarge)) throw err;
        outcomes.refused++;
      }
    }
    expect(outcomes.refused).toBeGreaterThan(100);
    expect(outcomes.ok).toBeGreaterThan(100);
  });

  it('a stream cut into random chunks yields each frame and the snapshot bytes in between', () => {
    const r = prng(5);
    const enc = new Encoder(64);
    const requests: RaftRequest[] = [];
    const snapshot = Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff);
    const parts: Uint8Array[] = [];
    for (let i = 0; i < 40; i++) {
      const req = randomRequest(r);
      if (req.kind === 'installSnapshot') req.size = snapshot.length;
      requests.push(req);
      enc.reset();
      encodeRequest(enc, req);
      parts.push(enc.finish());
      if (req.kind === 'installSnapshot') parts.push(snapshot);
    }
    const stream = Buffer.concat(parts);
    const d = new Decoder();
    const seen: RaftRequest[] = [];
    let buffered = new Uint8Array(0);
    let pendingSnapshot = 0;
    for (let pos = 0; pos < stream.length;) {
      const chunk = stream.subarray(pos, Math.min(stream.length, pos + 1 + r.int(20000)));
      pos += chunk.length;
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        if (pendingSnapshot > 0) {
          if (buffered.length < pendingSnapshot) break;
          expect(Buffer.compare(buffered.subarray(0, pendingSnapshot), snapshot)).toBe(0);
          buffered = buffered.subarray(pendingSnapshot);
          pendingSnapshot = 0;
        }
        const got = decodeRequest(d, buffered, 0);
        if (got === null) break;
        seen.push(got.request);
        // Decoded bytes alias `buffered`; that is safe here because concat always makes a new buffer.
        buffered = buffered.subarray(got.bytesUsed);
        if (got.request.kind === 'installSnapshot') pendingSnapshot = got.request.size;
      }
    }
    expect(buffered.length).toBe(0);
    expect(normalize(seen)).toEqual(normalize(requests));
  });
});
