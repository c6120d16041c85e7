import { describe, expect, it } from 'vitest';
import { ErrDecode, ErrUnsupportedProtocol } from '../../src/core/errors.js';
import {
  LogType,
  ServerSuffrage,
  type AppendEntriesRequest,
  type Configuration,
  type LogEntry,
  type Peer,
  type RaftRequest,
  type ResponseMap,
} from '../../src/core/types.js';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../../src/wire/codec.js';
import { ErrOutOfRange } from '../../src/wire/bounds.js';
import { decodeConfiguration } from '../../src/wire/configuration.js';
import { Decoder } from '../../src/wire/decoder.js';
import { Encoder } from '../../src/wire/encoder.js';
import { checkProtocolVersion, RpcType } from '../../src/wire/frames.js';
import type { WireAppendEntriesRequest } from '../../src/wire/messages.js';
import { expectedMirror, fromHex, loadGoldens, normalize, toHex, type GoldenCase } from './goldens.js';

const latest = loadGoldens('latest.json');
const v112 = loadGoldens('v1.1.2.json');
const configurations = loadGoldens('configuration.json');
const golden = (cases: GoldenCase[], name: string): GoldenCase => {
  const c = cases.find((x) => x.name === name);
  if (!c) throw new Error(`no golden ${name}`);
  return c;
};
const configMany: Configuration = decodeConfiguration(fromHex(golden(configurations, 'every suffrage').hex));

function requestBytes(r: RaftRequest): string {
  const enc = new Encoder(8);
  encodeRequest(enc, r);
  return toHex(enc.view());
}

function responseBytes<K extends keyof ResponseMap>(
  kind: K,
  r: ResponseMap[K] | null,
  error: string,
  local: Peer,
): string {
  const enc = new Encoder(8);
  encodeResponse(enc, kind, r, error, local);
  return toHex(enc.view());
}

const heartbeat: AppendEntriesRequest = {
  kind: 'appendEntries',
  term: 2,
  leader: { id: 'n1', address: 'a:1' },
  prevLogIndex: 0,
  prevLogTerm: 0,
  entries: [],
  leaderCommitIndex: 0,
};

describe('core requests encode to the Go bytes', () => {
  it('heartbeat: Entries nil, Leader = Addr (the reference example)', () => {
    expect(requestBytes(heartbeat)).toBe(golden(latest, 'heartbeat frame').hex);
  });

  it('append with entries', () => {
    const c = golden(latest, 'append with entries');
    const w = expectedMirror(c) as WireAppendEntriesRequest;
    const r: AppendEntriesRequest = {
      kind: 'appendEntries',
      term: w.Term,
      leader: { id: 'leader-1', address: '127.0.0.1:7001' },
      prevLogIndex: w.PrevLogEntry,
      prevLogTerm: w.PrevLogTerm,
      entries: w.Entries as LogEntry[],
      leaderCommitIndex: w.LeaderCommitIndex,
    };
    expect(requestBytes(r)).toBe(c.hex);
  });

  it('a non-heartbeat with no entries sends an empty array (0x90)', () => {
    const hex = requestBytes({ ...heartbeat, leaderCommitIndex: 1 });
    expect(hex).toContain(Buffer.from('Entries').toString('hex') + '90');
  });

  it('vote, pre-vote, timeout-now and install-snapshot', () => {
    expect(
      requestBytes({
        kind: 'requestVote',
        term: 9,
        candidate: { id: 'n3', address: 'a:3' },
        lastLogIndex: 300,
        lastLogTerm: 8,
        leadershipTransfer: true,
      }),
    ).toBe(golden(latest, 'request vote frame').hex);
    expect(
      requestBytes({
        kind: 'requestPreVote',
        term: 10,
        candidate: { id: 'n3', address: 'a:3' },
        lastLogIndex: 2 ** 40,
        lastLogTerm: 9,
      }),
    ).toBe(golden(latest, 'pre-vote frame').hex);
    expect(requestBytes({ kind: 'timeoutNow', term: 4, from: { id: 'n1', address: 'a:1' } })).toBe(
      golden(latest, 'timeout now frame').hex,
    );
    expect(
      requestBytes({
        kind: 'installSnapshot',
        snapshotVersion: 1,
        term: 4,
        leader: { id: 'n1', address: '127.0.0.1:7001' },
        lastLogIndex: 1000,
        lastLogTerm: 4,
        configuration: configMany,
        configurationIndex: 900,
        size: 2 ** 40,
      }),
    ).toBe(golden(latest, 'install snapshot frame').hex);
  });
});

describe('core responses encode to the Go bytes', () => {
  it('fill the header with the local server where Go does', () => {
    expect(
      responseBytes('appendEntries', { term: 7, lastLog: 9, success: true, noRetryBackoff: false }, '', {
        id: 'n2',
        address: 'a:2',
      }),
    ).toBe(golden(latest, 'append response frame').hex);
    expect(responseBytes('requestVote', { term: 9, granted: true }, '', { id: 'n1', address: 'a:1' })).toBe(
      golden(latest, 'vote response frame').hex,
    );
    expect(
      responseBytes('requestPreVote', { term: 10, granted: false }, '', { id: 'n1', address: 'a:1' }),
    ).toBe(golden(latest, 'pre-vote response frame').hex);
  });

  it('leave the header empty for InstallSnapshot and TimeoutNow, as Go does', () => {
    const local = { id: 'n9', address: 'a:9' };
    expect(responseBytes('installSnapshot', { term: 4, success: true }, '', local)).toBe(
      golden(latest, 'install snapshot response frame').hex,
    );
    expect(responseBytes('installSnapshot', { term: 4, success: false }, 'short read', local)).toBe(
      golden(latest, 'short read frame').hex,
    );
    expect(responseBytes('timeoutNow', {}, '', local)).toBe(golden(latest, 'timeout now response frame').hex);
  });

  it('a refused RPC is the error text then nil: da0035...c0', () => {
    const hex = responseBytes('appendEntries', null, ErrUnsupportedProtocol.text, {
      id: 'n1',
      address: 'a:1',
    });
    expect(hex).toBe(
      'da0035' + Buffer.from('operation not supported with current protocol version').toString('hex') + 'c0',
    );
    expect(hex).toBe(golden(v112, '1.1.2 unsupported protocol').hex);
    const back = decodeResponse(new Decoder(), fromHex(hex), 0, 'appendEntries');
    expect(back).toEqual({ error: ErrUnsupportedProtocol.text, response: null, bytesUsed: hex.length / 2 });
  });
});

describe('Go frames decode to core values', () => {
  const d = new Decoder();
  it('a 1.1.2 heartbeat has no ID: the sender id is empty, the address comes from Leader', () => {
    const r = decodeRequest(d, fromHex(golden(v112, '1.1.2 heartbeat').hex), 0);
    expect(r?.request).toEqual({ ...heartbeat, leader: { id: '', address: 'a:1' } });
    expect(r?.protocolVersion).toBe(3);
  });

  it('a latest heartbeat carries the sender id', () => {
    expect(decodeRequest(d, fromHex(golden(latest, 'heartbeat frame').hex), 0)?.request).toEqual(heartbeat);
  });

  it('a version 0 snapshot takes its membership from the legacy peers, ID = address', () => {
    const r = decodeRequest(d, fromHex(golden(v112, '1.1.2 install snapshot version 0').hex), 0);
    expect(r?.request).toMatchObject({
      kind: 'installSnapshot',
      snapshotVersion: 0,
      size: 70000,
      configuration: {
        servers: [
          { suffrage: ServerSuffrage.Voter, id: '10.0.0.1:8300', address: '10.0.0.1:8300' },
          { suffrage: ServerSuffrage.Voter, id: '10.0.0.2:8300', address: '10.0.0.2:8300' },
        ],
      },
    });
  });

  it('a version 1 snapshot takes its membership from Configuration', () => {
    const r = decodeRequest(d, fromHex(golden(v112, '1.1.2 install snapshot').hex), 0);
    expect(r?.request).toMatchObject({ kind: 'installSnapshot', configuration: configMany, size: 300 });
  });

  it('responses of 1.1.2 peers', () => {
    // Go sent LastLog 2^53-1 here: a safe integer, but beyond the bound raftkit accepts (bounds.ts).
    const bytes = fromHex(golden(v112, '1.1.2 append response').hex);
    expect(() => decodeResponse(d, bytes, 0, 'appendEntries')).toThrow(ErrOutOfRange);
    expect(() => decodeResponse(d, bytes, 0, 'appendEntries')).toThrow('LastLog 9007199254740991');
    const t = decodeResponse(d, fromHex(golden(v112, '1.1.2 timeout now response').hex), 0, 'timeoutNow');
    expect(t).toEqual({ error: '', response: {}, bytesUsed: 19 });
  });
});

describe('round trips through the codec', () => {
  const local: Peer = { id: 'me', address: '127.0.0.1:9000' };
  const entry: LogEntry = {
    index: 5,
    term: 2,
    type: LogType.Configuration,
    data: Uint8Array.of(1, 2, 3),
    extensions: new Uint8Array(0),
    appendedAt: 1_700_000_000_123,
  };
  const requests: RaftRequest[] = [
    heartbeat,
    {
      ...heartbeat,
      prevLogIndex: 4,
      prevLogTerm: 2,
      leaderCommitIndex: 3,
      entries: [entry, { ...entry, index: 6 }],
    },
    {
      kind: 'requestVote',
      term: 3,
      candidate: { id: 'ñ', address: 'x:1' },
      lastLogIndex: 1,
      lastLogTerm: 1,
      leadershipTransfer: false,
    },
    {
      kind: 'requestPreVote',
      term: 4,
      candidate: { id: 'c', address: 'c:1' },
      lastLogIndex: 0,
      lastLogTerm: 0,
    },
    {
      kind: 'installSnapshot',
      snapshotVersion: 1,
      term: 4,
      leader: local,
      lastLogIndex: 9,
      lastLogTerm: 3,
      configuration: { servers: [] },
      configurationIndex: 0,
      size: 0,
    },
    { kind: 'timeoutNow', term: 0, from: local },
    { kind: 'readIndex', term: 12, from: local },
  ];
  for (const r of requests) {
    it(`request ${r.kind}`, () => {
      const enc = new Encoder(8);
      encodeRequest(enc, r);
      const bytes = enc.finish();
      const back = decodeRequest(new Decoder(), bytes, 0);
      expect(back?.bytesUsed).toBe(bytes.length);
      expect(back?.protocolVersion).toBe(3);
      expect(normalize(back?.request)).toEqual(normalize(r));
    });
  }

  const responses: { [K in keyof ResponseMap]: ResponseMap[K] } = {
    appendEntries: { term: 3, lastLog: 2 ** 40, success: false, noRetryBackoff: true },
    requestVote: { term: 3, granted: true },
    requestPreVote: { term: 4, granted: true },
    installSnapshot: { term: 5, success: true },
    timeoutNow: {},
    readIndex: { term: 6, readIndex: 77, success: true },
  };
  for (const kind of Object.keys(responses) as (keyof ResponseMap)[]) {
    it(`response ${kind}`, () => {
      const enc = new Encoder(8);
      encodeResponse(enc, kind, responses[kind], 'some error', local);
      const back = decodeResponse(new Decoder(), enc.view(), 0, kind);
      expect(back).toEqual({ error: 'some error', response: responses[kind], bytesUsed: enc.length });
    });
  }

  it('ReadIndex (raftkit extension) uses type 100 and sorted keys', () => {
    const enc = new Encoder(8);
    encodeRequest(enc, { kind: 'readIndex', term: 1, from: { id: 'a', address: 'b' } });
    const str = (s: string) => (0xa0 | s.length).toString(16) + Buffer.from(s).toString('hex');
    expect(toHex(enc.view())).toBe(
      '64' +
        '84' +
        str('Addr') +
        str('b') +
        str('ID') +
        str('a') +
        str('ProtocolVersion') +
        '03' +
        str('Term') +
        '01',
    );
    expect(RpcType.ReadIndex).toBe(100);
  });
});

describe('protocol version check', () => {
  it('accepts 2 and 3 and refuses the rest with hashicorp text', () => {
    expect(checkProtocolVersion(2)).toBeNull();
    expect(checkProtocolVersion(3)).toBeNull();
    for (const v of [-1, 0, 1, 4]) {
      const err = checkProtocolVersion(v);
      expect(err).toBeInstanceOf(ErrUnsupportedProtocol);
      expect(err?.message).toBe('operation not supported with current protocol version');
    }
  });

  it('an unknown rpc type is a decode error (Go closes the connection)', () => {
    expect(() => decodeRequest(new Decoder(), Uint8Array.of(5, 0x80), 0)).toThrow(ErrDecode);
  });

  it('a negative snapshot size is refused', () => {
    const enc = new Encoder(8);
    encodeRequest(enc, {
      kind: 'installSnapshot',
      snapshotVersion: 1,
      term: 1,
      leader: { id: 'a', address: 'b' },
      lastLogIndex: 1,
      lastLogTerm: 1,
      configuration: { servers: [] },
      configurationIndex: 0,
      size: -5,
    });
    expect(() => decodeRequest(new Decoder(), enc.view(), 0)).toThrow(ErrDecode);
  });
});
