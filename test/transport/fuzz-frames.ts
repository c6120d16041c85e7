/**
 * Hostile input for the hostile-peer suite (hostile-frames-fuzz.test.ts). A plan is what one connection
 * sends: a few frames, and whether the server is certain to refuse it (close without a reply,
 * logging why). Families: valid structure at a stale term with extreme in-bound values, numbers
 * beyond the wire's bounds, oversized and half-sent large requests, truncated, mutated and garbage
 * bytes, out-of-order entries and frames, unknown sender IDs, wrong types.
 *
 * Frames that decode as legitimate RPCs carry a stale term (1; a running cluster is past it) and
 * come from a server outside the configuration. Raft trusts its peers: a well-formed message with
 * a newer term from a forged leader is obeyed by design (mutual TLS with certificate identities is
 * the defence), so mutations that happen to produce one, or a TimeoutNow, are drawn again. What is
 * under test is the transport, the decoder and the node's bounds, not Byzantine tolerance.
 *
 * One family, 'stranger newer vote', is a RequestVote (in 1.1.2's header shape, with or without
 * the transfer flag) or RequestPreVote (unknown ID) a thousand or more terms ahead of the target's,
 * from a server outside the configuration. It changes nothing on the receiver: the suite reads each reply and asserts
 * the vote was refused with the receiver's own, older term.
 */
import {
  ServerSuffrage,
  type AppendEntriesRequest,
  type LogEntry,
  type Peer,
  type RaftRequest,
  type Server,
} from '../../src/core/types.js';
import { SeededRandom } from '../../src/testing/prng.js';
import {
  MAX_CONFIGURATION_SERVERS,
  MAX_INDEX,
  MAX_PEER_BYTES,
  MAX_SNAPSHOT_BYTES,
} from '../../src/wire/bounds.js';
import { decodeRequest, encodeRequest, encodeResponse } from '../../src/wire/codec.js';
import { Decoder } from '../../src/wire/decoder.js';
import { Encoder } from '../../src/wire/encoder.js';
import { checkProtocolVersion } from '../../src/wire/frames.js';
import { vote112 } from '../support/forged-frames.js';
import { snapshotRequest } from './helpers.js';

export interface Plan {
  category: string;
  /** Each element is one frame (InstallSnapshot frames include their raw bytes). */
  frames: Uint8Array[];
  /** The server must close the connection without replying to the last frame, and log why. */
  fatal: boolean;
  /** A vote from outside the configuration at a newer term: it must be refused with a term below it. */
  strangerVote?: { kind: 'requestVote' | 'requestPreVote'; term: number };
}

const stranger: Peer = { id: 'fuzz', address: '127.0.0.1:9' };
const FAR = 1_000_000_000;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** The target's limits, so that oversized frames are oversized and half-sent ones fit. */
export interface FrameLimits {
  maxFrameBytes: number;
  maxEntries: number;
  /** The target's current term, to forge votes from strangers at the next one (see the file comment). */
  strangerVoteTerm?: () => number;
}
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
 * A well-formed RPC at a stale term; indexes far beyond any log, or at the very edge of the wire's
 * bound (absurd). Unless `endless`, an absurd snapshot is left out: its 2^48-1 declared bytes
 * would swallow every later frame.
 */
function staleFrame(rng: SeededRandom, absurd: boolean, endless = true): Uint8Array {
  const big = (): number => (absurd ? MAX_INDEX - rng.int(0, 1000) : FAR + rng.int(0, 1000));
  switch (rng.int(0, 6)) {
    case 0: {
      const prevLogIndex = big();
      const request: AppendEntriesRequest = {
        kind: 'appendEntries',
        term: 1,
        leader: stranger,
        prevLogIndex,
        prevLogTerm: absurd ? MAX_INDEX : 1,
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
        lastLogTerm: absurd ? MAX_INDEX : 1,
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
      // A snapshot at a stale term; an absurd one declares 2^48-1 bytes and sends a few.
      const size = absurd && endless ? MAX_SNAPSHOT_BYTES : rng.int(0, 64);
      const header = encode({ ...snapshotRequest(size), term: 1, leader: stranger });
      return concat([header, bytes(rng, size === MAX_SNAPSHOT_BYTES ? rng.int(0, 64) : size)]);
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

function logEntry(index: number): LogEntry {
  return { index, term: 1, type: 0, data: new Uint8Array(0), extensions: new Uint8Array(0), appendedAt: 0 };
}

function peerName(rng: SeededRandom, length: number): string {
  return Array.from({ length }, () => String.fromCharCode(rng.int(0x61, 0x7b))).join('');
}

function servers(count: number): Server[] {
  return Array.from({ length: count }, (_, i) => ({
    suffrage: ServerSuffrage.Nonvoter,
    id: `s${i}`,
    address: `10.0.${i >> 8}.${i & 255}:7000`,
  }));
}

/** Valid structure, stale term, every value at the edge of what the wire accepts. */
function extremeFrame(rng: SeededRandom): Uint8Array {
  const longPeer = { id: peerName(rng, MAX_PEER_BYTES), address: peerName(rng, MAX_PEER_BYTES) };
  switch (rng.int(0, 4)) {
    case 0:
      return encode({
        kind: 'requestVote',
        term: 1,
        candidate: longPeer,
        lastLogIndex: MAX_INDEX,
        lastLogTerm: MAX_INDEX,
        leadershipTransfer: true,
      });
    case 1:
      return encode({
        ...snapshotRequest(0),
        term: 1,
        leader: longPeer,
        lastLogIndex: MAX_INDEX,
        lastLogTerm: MAX_INDEX,
        configurationIndex: MAX_INDEX,
        configuration: { servers: servers(rng.int(1, MAX_CONFIGURATION_SERVERS + 1)) },
      });
    case 2:
      // hashicorp 1.1.2's header: no ID, the candidate known only by its address.
      return vote112({
        term: 1,
        candidate: peerName(rng, 12),
        lastLogIndex: MAX_INDEX,
        leadershipTransfer: true,
      });
    default:
      return encode({ kind: 'readIndex', term: 1, from: longPeer });
  }
}

/** Numbers and sizes beyond the wire's bounds: each must be refused (ErrOutOfRange / ErrTooLarge). */
function beyondBoundsFrame(rng: SeededRandom, limits: FrameLimits): Uint8Array {
  const over = MAX_INDEX + 1 + rng.int(0, 2 ** 20) * rng.int(1, 2 ** 12);
  const append: AppendEntriesRequest = {
    kind: 'appendEntries',
    term: 1,
    leader: stranger,
    prevLogIndex: 1,
    prevLogTerm: 1,
    entries: [],
    leaderCommitIndex: 1,
  };
  switch (rng.int(0, 8)) {
    case 0:
      // Issue 11's frame: RequestVote in 1.1.2's shape at Term 2^53-1 with the transfer flag.
      return vote112({
        term: MAX_SAFE - rng.int(0, 2),
        candidate: '10.66.0.1:7000',
        leadershipTransfer: true,
      });
    case 1:
      return encode({ ...append, term: over });
    case 2:
      return encode({ ...append, prevLogIndex: over });
    case 3:
      return encode({ ...append, entries: [logEntry(2), logEntry(over)] });
    case 4:
      return encode({
        kind: 'requestPreVote',
        term: 1,
        candidate: stranger,
        lastLogIndex: over,
        lastLogTerm: 1,
      });
    case 5:
      return encode({
        ...snapshotRequest(0),
        term: 1,
        leader: { id: peerName(rng, MAX_PEER_BYTES + 1), address: 'a:1' },
      });
    case 6:
      return encode({
        ...append,
        entries: Array.from({ length: limits.maxEntries + 1 }, (_, i) => logEntry(i + 2)),
      });
    default:
      return encode({
        ...snapshotRequest(0),
        term: 1,
        leader: stranger,
        configuration: { servers: servers(MAX_CONFIGURATION_SERVERS + 1) },
      });
  }
}

/** An AppendEntries whose one entry declares `dataBytes` bytes; `sent` of the frame's bytes are sent. */
function largeAppend(rng: SeededRandom, dataBytes: number, sent: number): Uint8Array {
  const header = encode({
    kind: 'appendEntries',
    term: 1,
    leader: stranger,
    prevLogIndex: FAR,
    prevLogTerm: 1,
    entries: [logEntry(FAR + 1)],
    leaderCommitIndex: 0,
  });
  // Re-encode the entry's Data as a str32 of dataBytes: splice its header in place of the empty one.
  const marker = Buffer.from('Data');
  const at = Buffer.from(header).indexOf(marker) + marker.length;
  const prefix = header.subarray(0, at);
  const declared = Uint8Array.of(
    0xdb,
    dataBytes >>> 24,
    (dataBytes >>> 16) & 0xff,
    (dataBytes >>> 8) & 0xff,
    dataBytes & 0xff,
  );
  const body = new Uint8Array(Math.max(0, sent - prefix.length - declared.length)).fill(rng.int(0, 256));
  return concat([prefix, declared, body]);
}

/** Entries in the wrong order (descending, repeated, gaps) at a stale term: the node must just say no. */
function outOfOrderFrame(rng: SeededRandom): Uint8Array {
  const first = FAR + rng.int(0, 1000);
  const list = entries(rng, first);
  const order = rng.pick(['reverse', 'repeat', 'gap']);
  const shuffled =
    order === 'reverse'
      ? [...list, ...entries(rng, first)].reverse()
      : order === 'repeat'
        ? [...list, ...list]
        : list.map((e, i) => ({ ...e, index: e.index + i * 7 }));
  return encode({
    kind: 'appendEntries',
    term: 1,
    leader: stranger,
    prevLogIndex: first - 1,
    prevLogTerm: 1,
    entries: shuffled,
    leaderCommitIndex: first,
  });
}

/** Stale requests from servers nobody knows: random IDs and addresses, or none at all. */
function unknownSenderFrame(rng: SeededRandom): Uint8Array {
  const who = rng.pick([
    { id: peerName(rng, rng.int(1, 40)), address: `10.${rng.int(0, 256)}.0.1:${rng.int(1, 65536)}` },
    { id: '', address: '' },
    { id: 'n1', address: '192.0.2.1:7000' },
    { id: peerName(rng, 8), address: 'not an address' },
  ]);
  switch (rng.int(0, 4)) {
    case 0:
      return encode({
        kind: 'requestVote',
        term: 1,
        candidate: who,
        lastLogIndex: 0,
        lastLogTerm: 0,
        leadershipTransfer: rng.chance(0.5),
      });
    case 1:
      return encode({
        kind: 'appendEntries',
        term: 1,
        leader: who,
        prevLogIndex: 0,
        prevLogTerm: 0,
        entries: [],
        leaderCommitIndex: 0,
      });
    case 2:
      return encode({ kind: 'readIndex', term: 1, from: who });
    default:
      return encode({ kind: 'requestPreVote', term: 1, candidate: who, lastLogIndex: 0, lastLogTerm: 0 });
  }
}

/** A response frame sent as a request: its first byte (an error text) is no RPC type. */
function responseAsRequest(): Uint8Array {
  const enc = new Encoder();
  encodeResponse(enc, 'requestVote', { term: 1, granted: true }, '', stranger);
  return enc.finish();
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

/** The next connection's plan against a server with these limits. */
export function nextPlan(rng: SeededRandom, limits: FrameLimits): Plan {
  const lead = Array.from({ length: rng.int(0, 3) }, () => staleFrame(rng, rng.chance(0.3), false));
  const plan = (category: string, last: Uint8Array[], fatal: boolean): Plan => ({
    category,
    frames: [...lead, ...last],
    fatal,
  });
  const roll = rng.next();
  if (roll < 0.1) return plan('valid stale', [staleFrame(rng, false)], false);
  if (roll < 0.16) return plan('extreme values', [staleFrame(rng, true)], false);
  if (roll < 0.2) return plan('extreme values', [extremeFrame(rng)], false);
  if (roll < 0.26) return plan('unknown ids', [unknownSenderFrame(rng)], false);
  if (roll < 0.3) return plan('out of order', [outOfOrderFrame(rng)], false);
  if (roll < 0.4) {
    const frame = staleFrame(rng, false);
    return plan('truncated', [frame.subarray(0, rng.int(1, frame.length))], false);
  }
  if (roll < 0.41) {
    // Half of a large request, then silence or a hang-up: what the buffer budget is for.
    const size = rng.int(limits.maxFrameBytes / 4, limits.maxFrameBytes - 1024);
    return plan('half-sent large', [largeAppend(rng, size, rng.int(64 * 1024, size / 2))], false);
  }
  if (roll < 0.55) {
    let frame: Uint8Array;
    do frame = mutate(rng, staleFrame(rng, rng.chance(0.3)));
    while (wouldObey(frame));
    return plan('mutated', [frame], false);
  }
  if (roll < 0.62) {
    let frame: Uint8Array;
    do frame = bytes(rng, rng.int(1, 200));
    while (wouldObey(frame));
    return plan('garbage', [frame], false);
  }
  if (roll < 0.7) {
    // A valid frame followed by garbage that starts with an unknown type byte.
    let type: number;
    do type = rng.int(0, 256);
    while (KNOWN_TYPES.has(type));
    const tail = concat([Uint8Array.of(type), bytes(rng, rng.int(0, 100))]);
    return plan('garbage after frame', [staleFrame(rng, false, false), tail], true);
  }
  if (roll < 0.8) return plan('beyond bounds', [beyondBoundsFrame(rng, limits)], true);
  if (roll < 0.82) {
    const declared = limits.maxFrameBytes + rng.int(1, limits.maxFrameBytes);
    return plan('oversized', [largeAppend(rng, declared, rng.int(100, 64 * 1024))], true);
  }
  if (roll < 0.84) return plan('response as request', [responseAsRequest()], true);
  if (roll < 0.86 && limits.strangerVoteTerm) {
    // Far enough ahead that no real election reaches it while the vote is on its way.
    const term = limits.strangerVoteTerm() + 1000 + rng.int(0, 1000);
    const kind = rng.chance(0.5) ? 'requestVote' : 'requestPreVote';
    const vote =
      kind === 'requestVote'
        ? vote112({
            term,
            candidate: '10.66.0.2:7000',
            lastLogIndex: MAX_INDEX,
            lastLogTerm: term - 1,
            leadershipTransfer: rng.chance(0.5),
          })
        : encode({
            kind: 'requestPreVote',
            term,
            candidate: stranger,
            lastLogIndex: MAX_INDEX,
            lastLogTerm: term - 1,
          });
    // Alone on its connection, so that the reply read back is this vote's.
    return { category: 'stranger newer vote', frames: [vote], fatal: false, strangerVote: { kind, term } };
  }
  const { category, frame } = fatalFrame(rng);
  return plan(category, [frame], true);
}
