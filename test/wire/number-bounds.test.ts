/**
 * Every number that reaches the core from the wire is bounded (src/wire/bounds.ts): a term or
 * index above 2^48-1, a snapshot size outside 0..2^48-1, an oversized header field, too many
 * entries or servers are refused with a typed error before anything is handed on.
 */
import { describe, expect, it } from 'vitest';
import { ErrDecode, ErrTooLarge, RaftError } from '../../src/core/errors.js';
import {
  LogType,
  ServerSuffrage,
  type AppendEntriesRequest,
  type InstallSnapshotRequest,
  type LogEntry,
  type RaftRequest,
  type ResponseMap,
} from '../../src/core/types.js';
import {
  ErrOutOfRange,
  MAX_CONFIGURATION_SERVERS,
  MAX_INDEX,
  MAX_PEER_BYTES,
  MAX_TERM,
  DEFAULT_MAX_ENTRIES,
} from '../../src/wire/bounds.js';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../../src/wire/codec.js';
import { decodeConfiguration, encodeConfiguration } from '../../src/wire/configuration.js';
import { Decoder } from '../../src/wire/decoder.js';
import { Encoder } from '../../src/wire/encoder.js';
import { vote112 } from '../support/forged-frames.js';

const peer = { id: 'n1', address: '127.0.0.1:7001' };

function frame(request: RaftRequest): Uint8Array {
  const enc = new Encoder();
  encodeRequest(enc, request);
  return enc.finish();
}

function decode(bytes: Uint8Array): RaftRequest {
  const decoded = decodeRequest(new Decoder(), bytes, 0);
  if (decoded === null) throw new Error('incomplete frame');
  return decoded.request;
}

function entry(index: number, term: number): LogEntry {
  return {
    index,
    term,
    type: LogType.Command,
    data: new Uint8Array(1),
    extensions: new Uint8Array(0),
    appendedAt: 0,
  };
}

/** One request per bounded field, with that field set to `value` and the others small. */
function requestsWith(value: number): [string, RaftRequest][] {
  const append: AppendEntriesRequest = {
    kind: 'appendEntries',
    term: 2,
    leader: peer,
    prevLogIndex: 1,
    prevLogTerm: 1,
    entries: [],
    leaderCommitIndex: 1,
  };
  const vote = {
    kind: 'requestVote',
    term: 2,
    candidate: peer,
    lastLogIndex: 1,
    lastLogTerm: 1,
    leadershipTransfer: false,
  } as const;
  const preVote = {
    kind: 'requestPreVote',
    term: 2,
    candidate: peer,
    lastLogIndex: 1,
    lastLogTerm: 1,
  } as const;
  const snapshot: InstallSnapshotRequest = {
    kind: 'installSnapshot',
    snapshotVersion: 1,
    term: 2,
    leader: peer,
    lastLogIndex: 1,
    lastLogTerm: 1,
    configuration: { servers: [{ suffrage: ServerSuffrage.Voter, ...peer }] },
    configurationIndex: 1,
    size: 0,
  };
  return [
    ['AppendEntries.Term', { ...append, term: value }],
    ['AppendEntries.PrevLogEntry', { ...append, prevLogIndex: value }],
    ['AppendEntries.PrevLogTerm', { ...append, prevLogTerm: value }],
    ['AppendEntries.LeaderCommitIndex', { ...append, leaderCommitIndex: value }],
    ['AppendEntries.Entries.Index', { ...append, entries: [entry(value, 1)] }],
    ['AppendEntries.Entries.Term', { ...append, entries: [entry(2, value)] }],
    ['RequestVote.Term', { ...vote, term: value }],
    ['RequestVote.LastLogIndex', { ...vote, lastLogIndex: value }],
    ['RequestVote.LastLogTerm', { ...vote, lastLogTerm: value }],
    ['RequestPreVote.Term', { ...preVote, term: value }],
    ['RequestPreVote.LastLogIndex', { ...preVote, lastLogIndex: value }],
    ['RequestPreVote.LastLogTerm', { ...preVote, lastLogTerm: value }],
    ['InstallSnapshot.Term', { ...snapshot, term: value }],
    ['InstallSnapshot.LastLogIndex', { ...snapshot, lastLogIndex: value }],
    ['InstallSnapshot.LastLogTerm', { ...snapshot, lastLogTerm: value }],
    ['InstallSnapshot.ConfigurationIndex', { ...snapshot, configurationIndex: value }],
    ['InstallSnapshot.Size', { ...snapshot, size: value }],
    ['ReadIndex.Term', { kind: 'readIndex', term: value, from: peer }],
  ];
}

describe('wire bounds', () => {
  it('terms and indexes share one bound, 2^48-1, far enough below 2^53 for term + 1 and index + count', () => {
    expect(MAX_TERM).toBe(2 ** 48 - 1);
    expect(MAX_INDEX).toBe(2 ** 48 - 1);
    expect(Number.isSafeInteger(MAX_INDEX + DEFAULT_MAX_ENTRIES * 1024)).toBe(true);
  });

  it('refuses the forged RequestVote of issue 11 (1.1.2 header, Term 2^53-1) with ErrOutOfRange', () => {
    const forged = vote112({ term: 2 ** 53 - 1, candidate: '10.9.9.9:7000', leadershipTransfer: true });
    let error: unknown;
    try {
      decode(forged);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ErrOutOfRange);
    // A decode error like the others: everything that closes a connection is an ErrDecode.
    expect(error).toBeInstanceOf(ErrDecode);
    expect(error).toBeInstanceOf(RaftError);
    expect((error as Error).name).toBe('ErrOutOfRange');
    expect((error as Error).message).toContain('Term 9007199254740991 is above the largest accepted term');
    // The same frame at the bound is an ordinary request from a peer known only by its address.
    expect(decode(vote112({ term: MAX_TERM, candidate: '10.9.9.9:7000' }))).toEqual({
      kind: 'requestVote',
      term: MAX_TERM,
      candidate: { id: '', address: '10.9.9.9:7000' },
      lastLogIndex: 0,
      lastLogTerm: 0,
      leadershipTransfer: false,
    });
  });

  it.each(
    requestsWith(MAX_INDEX + 1).map(([name, request], i) => [name, request, requestsWith(MAX_INDEX)[i][1]]),
  )('refuses %s above the bound and accepts it at the bound', (name, over, at) => {
    expect(() => decode(frame(over as RaftRequest))).toThrow(ErrOutOfRange);
    expect(() => decode(frame(over as RaftRequest))).toThrow(name.split('.').at(-1));
    expect(decode(frame(at as RaftRequest))).toEqual(at);
  });

  it('refuses a negative snapshot size', () => {
    const [, snapshot] = requestsWith(-5).find(([name]) => name === 'InstallSnapshot.Size')!;
    expect(() => decode(frame(snapshot))).toThrow(ErrOutOfRange);
  });

  it('bounds every number in a response too', () => {
    const local = { id: 'n2', address: 'a:2' };
    const cases: { [K in keyof ResponseMap]?: ResponseMap[K] }[] = [
      { appendEntries: { term: MAX_TERM + 1, lastLog: 1, success: true, noRetryBackoff: false } },
      { appendEntries: { term: 1, lastLog: MAX_INDEX + 1, success: true, noRetryBackoff: false } },
      { requestVote: { term: MAX_TERM + 1, granted: true } },
      { requestPreVote: { term: MAX_TERM + 1, granted: true } },
      { installSnapshot: { term: MAX_TERM + 1, success: true } },
      { readIndex: { term: 1, readIndex: MAX_INDEX + 1, success: true } },
      { readIndex: { term: MAX_TERM + 1, readIndex: 1, success: true } },
    ];
    for (const entry of cases) {
      const [kind, response] = Object.entries(entry)[0] as [
        keyof ResponseMap,
        ResponseMap[keyof ResponseMap],
      ];
      const enc = new Encoder();
      encodeResponse(enc, kind, response, '', local);
      expect(() => decodeResponse(new Decoder(), enc.finish(), 0, kind), kind).toThrow(ErrOutOfRange);
    }
  });

  it(`refuses a header ID or address longer than ${MAX_PEER_BYTES} bytes`, () => {
    const long = 'x'.repeat(MAX_PEER_BYTES + 1);
    const vote = {
      kind: 'requestVote',
      term: 2,
      lastLogIndex: 1,
      lastLogTerm: 1,
      leadershipTransfer: false,
    } as const;
    expect(() => decode(frame({ ...vote, candidate: { id: long, address: 'a:1' } }))).toThrow(ErrOutOfRange);
    expect(() => decode(frame({ ...vote, candidate: { id: 'n1', address: long } }))).toThrow(ErrOutOfRange);
    expect(() => decode(vote112({ term: 2, candidate: long }))).toThrow(ErrOutOfRange);
    const fits = 'y'.repeat(MAX_PEER_BYTES);
    expect(decode(frame({ ...vote, candidate: { id: fits, address: fits } }))).toMatchObject({
      candidate: { id: fits, address: fits },
    });
  });

  it(`refuses more than ${DEFAULT_MAX_ENTRIES} entries in one AppendEntries (configurable)`, () => {
    const request = (count: number): RaftRequest => ({
      kind: 'appendEntries',
      term: 2,
      leader: peer,
      prevLogIndex: 0,
      prevLogTerm: 0,
      entries: Array.from({ length: count }, (_, i) => entry(i + 1, 1)),
      leaderCommitIndex: 0,
    });
    expect(() => decode(frame(request(DEFAULT_MAX_ENTRIES + 1)))).toThrow(ErrTooLarge);
    expect((decode(frame(request(DEFAULT_MAX_ENTRIES))) as { entries: LogEntry[] }).entries).toHaveLength(
      DEFAULT_MAX_ENTRIES,
    );
    const strict = new Decoder({ maxEntries: 10 });
    expect(() => decodeRequest(strict, frame(request(11)), 0)).toThrow('11 entries (at most 10)');
  });

  it(`refuses a configuration of more than ${MAX_CONFIGURATION_SERVERS} servers`, () => {
    const servers = (n: number) =>
      Array.from({ length: n }, (_, i) => ({
        suffrage: ServerSuffrage.Nonvoter,
        id: `s${i}`,
        address: `a:${i}`,
      }));
    const over = encodeConfiguration({ servers: servers(MAX_CONFIGURATION_SERVERS + 1) });
    expect(() => decodeConfiguration(over)).toThrow(ErrTooLarge);
    const at = encodeConfiguration({ servers: servers(MAX_CONFIGURATION_SERVERS) });
    expect(decodeConfiguration(at).servers).toHaveLength(MAX_CONFIGURATION_SERVERS);
  });
});
