/**
 * Hostile input for the transport fuzz test. A plan is what one connection sends: a few frames,
 * and whether the server is certain to refuse it (close without a reply, logging why).
 *
 * Frames that decode as legitimate RPCs carry a stale term (1; a running cluster is past it) and
 * come from a server outside the configuration. Raft trusts its peers: a well-formed message with
 * a newer term from a forged leader is obeyed by design (mutual TLS is the defence), so mutations
 * that happen to produce one, or a TimeoutNow, are drawn again. What is under test is the
 * transport and decoder, not Byzantine tolerance.
 */
import type { AppendEntriesRequest, LogEntry, Peer, RaftRequest } from '../../src/core/types.js';
import { SeededRandom } from '../../src/testing/prng.js';
import { decodeRequest, encodeRequest } from '../../src/wire/codec.js';
import { Decoder } from '../../src/wire/decoder.js';
import { Encoder } from '../../src/wire/encoder.js';
import { checkProtocolVersion } from '../../src/wire/frames.js';
import { snapshotRequest } from './helpers.js';

export interface Plan {
  category: string;
  /** Each element is one frame (InstallSnapshot frames include their raw bytes). */
  frames: Uint8Array[];
  /** The server must close the connection without replying to the last frame, and log why. */
  fatal: boolean;
}

const stranger: Peer = { id: 'fuzz', address: '127.0.0.1:9' };
const FAR = 1_000_000_000;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const KNOWN_TYPES = new Set([0, 1, 2, 3, 4, 100]);

function encode(request: RaftRequest): Uint8Array {
  const enc = new Encoder();
  encodeRequest(enc, request);
  return enc.finish();
}

function bytes(rng: SeededRandom, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(0, 256);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

function entries(rng: SeededRandom, first: number): LogEntry[] {
  return Array.from({ length: rng.int(0, 4) }, (_, i) => ({
    index: first + i,
    term: 1,
    type: rng.int(0, 6),
    data: bytes(rng, rng.int(0, 40)),
    extensions: new Uint8Array(0),
    appendedAt: rng.chance(0.5) ? 0 : 1_700_000_000_000,
  }));
}

/**
 * A well-formed RPC at a stale term; indexes far beyond any log, or absurd. Unless `endless`, an
 * absurd snapshot is left out: its 2^53-1 declared bytes would swallow every later frame.
 */
function staleFrame(rng: SeededRandom, absurd: boolean, endless = true): Uint8Array {
  const big = (): number => (absurd ? MAX_SAFE - rng.int(0, 1000) : FAR + rng.int(0, 1000));
  switch (rng.int(0, 6)) {
    case 0: {
      const prevLogIndex = big();
      const request: AppendEntriesRequest = {
        kind: 'appendEntries',
        term: 1,
        leader: stranger,
        prevLogIndex,
        prevLogTerm: absurd ? MAX_SAFE : 1,
        entries: absurd ? [] : entries(rng, prevLogIndex + 1),
        leaderCommitIndex: big(),
      };
      return encode(request);
    }
    case 1:
      return encode({
        kind: 'requestVote',
        term: 1,
        candidate: stranger,
        lastLogIndex: big(),
        lastLogTerm: absurd ? MAX_SAFE : 1,
        leadershipTransfer: rng.chance(0.5),
      });
    case 2:
      return encode({
        kind: 'requestPreVote',
        term: 1,
        candidate: stranger,
        lastLogIndex: big(),
        lastLogTerm: 1,
      });
    case 3:
      return encode({ kind: 'readIndex', term: 1, from: stranger });
    default: {
      // A snapshot at a stale term; an absurd one declares 2^53-1 bytes and sends a few.
      const size = absurd && endless ? MAX_SAFE : rng.int(0, 64);
      const header = encode({ ...snapshotRequest(size), term: 1, leader: stranger });
      return concat([header, bytes(rng, size === MAX_SAFE ? rng.int(0, 64) : size)]);
    }
  }
}

/** Map body helpers for hand-made, wrongly typed requests. */
function mapFrame(type: number, fields: [string, (enc: Encoder) => void][]): Uint8Array {
  const enc = new Encoder();
  enc.writeByte(type);
  enc.writeMapHeader(fields.length);
  for (const [key, write] of fields) {
    enc.writeString(key);
    write(enc);
  }
  return enc.finish();
}

const v3 = (enc: Encoder): void => enc.writeUint(3);

/** Frames the server must refuse: decode errors, limits, unknown types, invalid values. */
function fatalFrame(rng: SeededRandom): { category: string; frame: Uint8Array } {
  const valid = () => rng.pick([0, 1, 2, 3, 4, 100]);
  switch (rng.int(0, 9)) {
    case 0: {
      let type: number;
      do type = rng.int(0, 256);
      while (KNOWN_TYPES.has(type));
      return { category: 'unknown type', frame: concat([Uint8Array.of(type), bytes(rng, rng.int(0, 64))]) };
    }
    case 1: {
      // Declared sizes far beyond the limits: str32/bin32 bodies, array32, map32, ext32.
      const header = rng.pick([0xdb, 0xc6, 0xdd, 0xdf, 0xc9]);
      const n = 0x7fffffff + rng.int(0, 0x7fffffff);
      const body = Uint8Array.of(header, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
      const nested = rng.chance(0.5);
      const prefix = nested ? concat([Uint8Array.of(0x81, 0xa7), Buffer.from('Entries')]) : new Uint8Array(0);
      return { category: 'huge length', frame: concat([Uint8Array.of(valid()), prefix, body]) };
    }
    case 2: {
      const depth = rng.int(17, 400);
      const open = new Uint8Array(depth).fill(rng.chance(0.5) ? 0x91 : 0x81);
      return { category: 'deep nesting', frame: concat([Uint8Array.of(valid()), open]) };
    }
    case 3:
      return {
        category: 'wrong type',
        frame: mapFrame(rng.pick([0, 1, 4]), [
          ['ProtocolVersion', v3],
          ['Term', (enc) => enc.writeString('not a number')],
        ]),
      };
    case 4:
      return {
        category: 'wrong type',
        frame: mapFrame(0, [
          ['Entries', (enc) => (enc.writeMapHeader(1), enc.writeString('x'), enc.writeUint(1))],
          ['ProtocolVersion', v3],
        ]),
      };
    case 5: {
      // Size as a negative int64 (d3) or int8.
      const negative = rng.chance(0.5)
        ? Uint8Array.of(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb)
        : Uint8Array.of(0xfb);
      const frame = mapFrame(2, [
        ['ProtocolVersion', v3],
        ['Size', (enc) => enc.writeVerbatim(negative)],
      ]);
      return { category: 'negative size', frame };
    }
    case 6: {
      // A term of 2^53 or more (uint64), beyond what raftkit accepts.
      const hi = 0x200000 + rng.int(0, 0x7fe00000);
      const term = Uint8Array.of(
        0xcf,
        hi >>> 24,
        (hi >>> 16) & 0xff,
        (hi >>> 8) & 0xff,
        hi & 0xff,
        0,
        0,
        0,
        rng.int(0, 256),
      );
      const frame = mapFrame(rng.pick([0, 1, 4]), [
        ['ProtocolVersion', v3],
        ['Term', (enc) => enc.writeVerbatim(term)],
      ]);
      return { category: 'term beyond 2^53', frame };
    }
    case 7:
      return {
        category: 'float',
        frame: mapFrame(1, [
          ['ProtocolVersion', v3],
          ['LastLogIndex', (enc) => enc.writeVerbatim(Uint8Array.of(0xcb, 0x40, 0x45, 0, 0, 0, 0, 0, 0))],
        ]),
      };
    default:
      // 0xc1 is never used by msgpack; here it is the value of key "A".
      return { category: 'reserved byte', frame: Uint8Array.of(valid(), 0x82, 0xa1, 0x41, 0xc1) };
  }
}

function mutate(rng: SeededRandom, frame: Uint8Array): Uint8Array {
  const out = Array.from(frame);
  for (let i = rng.int(1, 4); i > 0 && out.length > 0; i--) {
    const at = rng.int(0, out.length);
    switch (rng.int(0, 4)) {
      case 0:
        out[at] = rng.int(0, 256);
        break;
      case 1:
        out[at] ^= 1 << rng.int(0, 8);
        break;
      case 2:
        out.splice(at, 1);
        break;
      default:
        out.splice(at, 0, rng.int(0, 256));
    }
  }
  return Uint8Array.from(out);
}

/**
 * True if the bytes hold a request the server would hand to Raft with a current-looking term
 * (or a TimeoutNow): the thing a forged leader could do, excluded here (see the file comment).
 */
function wouldObey(buf: Uint8Array): boolean {
  const dec = new Decoder({}, true);
  let offset = 0;
  try {
    for (;;) {
      const frame = decodeRequest(dec, buf, offset);
      if (frame === null) return false;
      const { request } = frame;
      if (checkProtocolVersion(frame.protocolVersion) === null) {
        if (request.kind === 'timeoutNow' || request.term >= 2) return true;
      }
      offset += frame.bytesUsed + (request.kind === 'installSnapshot' ? request.size : 0);
      if (offset >= buf.length) return false;
    }
  } catch {
    return false;
  }
}

/** The next connection's plan. */
export function nextPlan(rng: SeededRandom): Plan {
  const lead = Array.from({ length: rng.int(0, 3) }, () => staleFrame(rng, rng.chance(0.3), false));
  const roll = rng.next();
  if (roll < 0.15)
    return { category: 'valid stale', frames: [...lead, staleFrame(rng, false)], fatal: false };
  if (roll < 0.25)
    return { category: 'absurd values', frames: [...lead, staleFrame(rng, true)], fatal: false };
  if (roll < 0.4) {
    const frame = staleFrame(rng, false);
    return {
      category: 'truncated',
      frames: [...lead, frame.subarray(0, rng.int(1, frame.length))],
      fatal: false,
    };
  }
  if (roll < 0.6) {
    let frame: Uint8Array;
    do frame = mutate(rng, staleFrame(rng, rng.chance(0.3)));
    while (wouldObey(frame));
    return { category: 'mutated', frames: [...lead, frame], fatal: false };
  }
  if (roll < 0.7) {
    let frame: Uint8Array;
    do frame = bytes(rng, rng.int(1, 200));
    while (wouldObey(frame));
    return { category: 'garbage', frames: [...lead, frame], fatal: false };
  }
  if (roll < 0.8) {
    // A valid frame followed by garbage that starts with an unknown type byte.
    let type: number;
    do type = rng.int(0, 256);
    while (KNOWN_TYPES.has(type));
    const tail = concat([Uint8Array.of(type), bytes(rng, rng.int(0, 100))]);
    return {
      category: 'garbage after frame',
      frames: [...lead, staleFrame(rng, false, false), tail],
      fatal: true,
    };
  }
  const { category, frame } = fatalFrame(rng);
  return { category, frames: [...lead, frame], fatal: true };
}
