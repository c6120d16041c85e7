import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ErrReadIndexNotSupported,
  ErrTransportShutdown,
  ErrUnexpectedCommand,
  ErrUnsupportedProtocol,
  ErrUnsupportedRpc,
} from '../../src/core/errors.js';
import type { RaftRequest, RaftResponse } from '../../src/core/types.js';
import { ErrUnreachable } from '../../src/transport/inmem.js';
import { ErrRpcTimeout } from '../../src/transport/stream-layer.js';
import { newTcpTransport } from '../../src/transport/tcp.js';
import type { IncomingRpc } from '../../src/transport/types.js';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../../src/wire/codec.js';
import { Decoder } from '../../src/wire/decoder.js';
import { Encoder } from '../../src/wire/encoder.js';
import {
  ManualClock,
  appendRequest,
  heartbeat,
  leader,
  collect,
  patternStream,
  rawClient,
  rawServer,
  recordingLogger,
  snapshotRequest,
  waitFor,
} from './helpers.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

async function transport(options: Parameters<typeof newTcpTransport>[4] = {}, timeout = 2000) {
  const t = await newTcpTransport('127.0.0.1:0', null, 3, timeout, options);
  open.push(t);
  return t;
}

/** Answers every RPC from its request, so a test can check both directions. */
function answer(request: RaftRequest): RaftResponse {
  switch (request.kind) {
    case 'appendEntries':
      return {
        term: request.term,
        lastLog: request.prevLogIndex + request.entries.length,
        success: true,
        noRetryBackoff: request.entries.length === 0,
      };
    case 'requestVote':
      return { term: request.term + 1, granted: request.lastLogIndex % 2 === 0 };
    case 'requestPreVote':
      return { term: request.term, granted: true };
    case 'installSnapshot':
      return { term: request.term, success: true };
    case 'timeoutNow':
      return {};
    case 'readIndex':
      return { term: request.term, readIndex: 42, success: true };
  }
}

/** A handler that records requests and answers with answer(); snapshot data is hashed. */
function echoHandler() {
  const seen: RaftRequest[] = [];
  const snapshots: { bytes: number; sha: string }[] = [];
  const handler = (rpc: IncomingRpc): void => {
    seen.push(rpc.request);
    if (!rpc.data) return rpc.respond(answer(rpc.request));
    const hash = createHash('sha256');
    let bytes = 0;
    rpc.data.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    rpc.data.on('end', () => {
      snapshots.push({ bytes, sha: hash.digest('hex') });
      rpc.respond(answer(rpc.request));
    });
  };
  return { seen, snapshots, handler };
}

function patternSha(size: number): string {
  const hash = createHash('sha256');
  const s = patternStream(size);
  let chunk: Buffer | null;
  while ((chunk = s.read() as Buffer | null) !== null) hash.update(chunk);
  return hash.digest('hex');
}

describe('NetworkTransport over loopback TCP', () => {
  it('round-trips every RPC type', async () => {
    const server = await transport({ localId: 'srv' });
    const client = await transport();
    const { seen, snapshots, handler } = echoHandler();
    server.setHandler(handler);
    const target = { id: 'srv', address: server.localAddr() };
    const requests: RaftRequest[] = [
      appendRequest(10, 3),
      heartbeat(),
      {
        kind: 'requestVote',
        term: 5,
        candidate: leader,
        lastLogIndex: 8,
        lastLogTerm: 4,
        leadershipTransfer: true,
      },
      { kind: 'requestPreVote', term: 6, candidate: leader, lastLogIndex: 9, lastLogTerm: 4 },
      { kind: 'timeoutNow', term: 0, from: leader },
      { kind: 'readIndex', term: 7, from: leader },
    ];
    const responses = [
      await client.appendEntries(target, requests[0] as never),
      await client.appendEntries(target, requests[1] as never),
      await client.requestVote(target, requests[2] as never),
      await client.requestPreVote(target, requests[3] as never),
      await client.timeoutNow(target, requests[4] as never),
      await client.readIndex(target, requests[5] as never),
    ];
    expect(seen).toEqual(requests);
    expect(responses).toEqual(requests.map(answer));

    const size = 300_000;
    const snap = snapshotRequest(size);
    expect(await client.installSnapshot(target, snap, patternStream(size))).toEqual(answer(snap));
    expect(seen[6]).toEqual(snap);
    expect(snapshots).toEqual([{ bytes: size, sha: patternSha(size) }]);
    expect(client.decodePeer(client.encodePeer('x', '10.0.0.1:7000'))).toBe('10.0.0.1:7000');
  });

  it('turns an error string into a rejection, typed where the text is known', async () => {
    const server = await transport();
    const client = await transport();
    const target = { id: 's', address: server.localAddr() };
    server.setHandler((rpc) =>
      rpc.request.kind === 'requestVote'
        ? rpc.respond(null, new ErrUnexpectedCommand())
        : rpc.respond(null, new Error('disk on fire')),
    );
    const vote = client.requestVote(target, {
      kind: 'requestVote',
      term: 1,
      candidate: leader,
      lastLogIndex: 0,
      lastLogTerm: 0,
      leadershipTransfer: false,
    });
    await expect(vote).rejects.toBeInstanceOf(ErrUnexpectedCommand);
    await expect(client.appendEntries(target, heartbeat())).rejects.toThrow('disk on fire');
    // The connection stays usable after a decoded error reply.
    expect(client.dials.get(server.localAddr())).toBe(1);
  });

  it('pools connections: sequential calls reuse one, concurrent ones are kept up to maxPool', async () => {
    const server = await transport();
    const client = await transport();
    const target = { id: 's', address: server.localAddr() };
    const { handler } = echoHandler();
    server.setHandler(handler);
    for (let i = 0; i < 10; i++) await client.appendEntries(target, heartbeat());
    expect(client.dials.get(target.address)).toBe(1);
    await Promise.all(Array.from({ length: 6 }, () => client.appendEntries(target, heartbeat())));
    expect(client.dials.get(target.address)).toBe(6);
    // maxPool is 3: the other connections were closed on return, so 3 more calls need no dial.
    await Promise.all(Array.from({ length: 3 }, () => client.appendEntries(target, heartbeat())));
    expect(client.dials.get(target.address)).toBe(6);
  });

  it('pipelines AppendEntries: requests are written ahead of replies and settle in order', async () => {
    // A raw peer that answers only once it holds two requests: a client without pipelining
    // would wait forever for the first reply.
    const received: number[] = [];
    const peer = await rawServer((socket) => {
      const dec = new Decoder({}, true);
      const enc = new Encoder();
      let buf = Buffer.alloc(0);
      const queue: RaftRequest[] = [];
      socket.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        let frame;
        while ((frame = decodeRequest(dec, buf, 0)) !== null) {
          buf = buf.subarray(frame.bytesUsed);
          queue.push(frame.request);
          if (frame.request.kind === 'appendEntries') received.push(frame.request.prevLogIndex);
        }
        while (queue.length >= 2 || (queue.length > 0 && received.length >= 8)) {
          const request = queue.shift()!;
          enc.reset();
          encodeResponse(enc, 'appendEntries', answer(request) as never, '', leader);
          socket.write(enc.finish());
        }
      });
    });
    open.push(peer);
    const client = await transport({ maxRpcsInFlight: 2 });
    const target = { id: 'p', address: peer.address };
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => client.appendEntries(target, appendRequest(i * 10, 2))),
    );
    expect(received).toEqual([0, 10, 20, 30, 40, 50, 60, 70]);
    expect(results.map((r) => r.lastLog)).toEqual([2, 12, 22, 32, 42, 52, 62, 72]);
    expect(client.dials.get(peer.address)).toBe(1);
  });

  it('keeps at most maxRpcsInFlight requests unanswered on the pipeline', async () => {
    let maxUnanswered = 0;
    const peer = await rawServer((socket) => {
      const dec = new Decoder({}, true);
      let buf = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        let count = 0;
        let offset = 0;
        let frame;
        while ((frame = decodeRequest(dec, buf, offset)) !== null) {
          offset += frame.bytesUsed;
          count++;
        }
        maxUnanswered = Math.max(maxUnanswered, count);
      });
    });
    open.push(peer);
    const client = await transport({ maxRpcsInFlight: 3 }, 200);
    const target = { id: 'p', address: peer.address };
    const calls = Array.from({ length: 10 }, (_, i) => client.appendEntries(target, appendRequest(i, 1)));
    const outcomes = await Promise.allSettled(calls);
    expect(maxUnanswered).toBe(3);
    expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
  });

  it('sends heartbeats over the pool, not the pipeline', async () => {
    const server = await transport();
    const client = await transport();
    server.setHandler(echoHandler().handler);
    const target = { id: 's', address: server.localAddr() };
    await client.appendEntries(target, appendRequest(1, 1));
    await client.appendEntries(target, heartbeat());
    await client.appendEntries(target, appendRequest(2, 1));
    await client.appendEntries(target, heartbeat());
    expect(client.dials.get(target.address)).toBe(2);
  });

  it('times out on the Clock when a peer accepts and never answers', async () => {
    const peer = await rawServer(() => {});
    open.push(peer);
    const clock = new ManualClock();
    const client = await transport({ clock }, 500);
    const target = { id: 'p', address: peer.address };
    const call = client.appendEntries(target, heartbeat());
    let settled = false;
    call.catch(() => {}).finally(() => (settled = true));
    await waitFor(() => clock.pending > 0);
    await new Promise((r) => setTimeout(r, 50));
    expect(settled).toBe(false);
    clock.advance(499);
    await new Promise((r) => setTimeout(r, 10));
    expect(settled).toBe(false);
    clock.advance(1);
    await expect(call).rejects.toBeInstanceOf(ErrRpcTimeout);
  });

  it('reports ErrUnsupportedRpc when a peer closes on RequestPreVote, ErrReadIndexNotSupported on ReadIndex', async () => {
    // Like hashicorp before 1.7: answers RequestVote, closes the connection on an unknown type.
    const peer = await rawServer((socket: Socket) => {
      const dec = new Decoder({}, true);
      const enc = new Encoder();
      socket.on('data', (chunk: Buffer) => {
        if (chunk[0] === 4 || chunk[0] === 100) return void socket.destroy();
        const frame = decodeRequest(dec, chunk, 0)!;
        enc.reset();
        encodeResponse(enc, 'requestVote', answer(frame.request) as never, '', leader);
        socket.write(enc.finish());
      });
    });
    open.push(peer);
    const client = await transport();
    const target = { id: 'p', address: peer.address };
    const vote = {
      kind: 'requestVote',
      term: 2,
      candidate: leader,
      lastLogIndex: 2,
      lastLogTerm: 1,
      leadershipTransfer: false,
    } as const;
    expect(await client.requestVote(target, vote)).toEqual({ term: 3, granted: true });
    // The pre-vote goes over the pooled connection first; its EOF proves nothing, so the client
    // tries a fresh connection before concluding.
    const preVote = {
      kind: 'requestPreVote',
      term: 3,
      candidate: leader,
      lastLogIndex: 2,
      lastLogTerm: 1,
    } as const;
    const error = await client.requestPreVote(target, preVote).catch((e: Error) => e);
    expect(error).toBeInstanceOf(ErrUnsupportedRpc);
    expect((error as Error).name).toBe('ErrUnsupportedRpc');
    expect((error as Error).message).toContain('peer does not support this rpc');
    expect(client.dials.get(peer.address)).toBe(2);
    await expect(
      client.readIndex(target, { kind: 'readIndex', term: 3, from: leader }),
    ).rejects.toBeInstanceOf(ErrReadIndexNotSupported);
  });

  it('answers a bad protocol version with the hashicorp error text and a nil body', async () => {
    const server = await transport();
    const called: RaftRequest[] = [];
    server.setHandler((rpc) => (called.push(rpc.request), rpc.respond(answer(rpc.request))));
    const socket = await rawClient(server.localAddr());
    const got = collect(socket);
    // RequestVote with ProtocolVersion 1: 1 + fixmap(1) "ProtocolVersion" 1.
    socket.end(
      Buffer.concat([Buffer.from([1, 0x81, 0xaf]), Buffer.from('ProtocolVersion'), Buffer.from([1])]),
    );
    const bytes = await got;
    const text = ErrUnsupportedProtocol.text;
    expect(bytes.toString('hex')).toBe(
      Buffer.concat([Buffer.from([0xda, 0, text.length]), Buffer.from(text), Buffer.from([0xc0])]).toString(
        'hex',
      ),
    );
    expect(called).toEqual([]);
  });

  it('still answers a client that half-closes right after its requests', async () => {
    const server = await transport();
    // Answers later, so the peer's FIN arrives while the requests are being handled.
    server.setHandler((rpc) => void setTimeout(() => rpc.respond(answer(rpc.request)), 20));
    const socket = await rawClient(server.localAddr());
    const got = collect(socket);
    const enc = new Encoder();
    encodeRequest(enc, heartbeat());
    encodeRequest(enc, { kind: 'readIndex', term: 4, from: leader });
    socket.end(enc.finish());
    const bytes = await got;
    const dec = new Decoder();
    const first = decodeResponse(dec, bytes, 0, 'appendEntries')!;
    const second = decodeResponse(dec, bytes, first.bytesUsed, 'readIndex')!;
    expect(first.response).toEqual(answer(heartbeat()));
    expect(second.response).toEqual({ term: 4, readIndex: 42, success: true });
    expect(first.bytesUsed + second.bytesUsed).toBe(bytes.length);
  });

  it('closes the connection without a reply on an unknown type, a decode failure or an oversized frame', async () => {
    const logger = recordingLogger();
    const server = await transport({ logger, maxFrameBytes: 4096 });
    server.setHandler(echoHandler().handler);
    const cases: [Buffer, string][] = [
      [Buffer.from([7, 0x80]), 'unknown rpc type 7'],
      [Buffer.from([1, 0x81, 0xa1, 0x41, 0xc1]), ''],
      [Buffer.from([0, 0xdb, 0xff, 0xff, 0xff, 0xff]), ''],
      // 5000 one-element arrays, cut off after 5000 bytes: no declared length is too large, but
      // the unfinished frame outgrows maxFrameBytes.
      [
        Buffer.concat([Buffer.from([0, 0xdc, 0x13, 0x88]), Buffer.from('9101'.repeat(2500), 'hex')]),
        'frame larger than 4096',
      ],
      [Buffer.from([0, 0xdb, 0, 0, 0x20, 0]), 'value exceeds configured maximum'],
    ];
    for (const [frame, reason] of cases) {
      const socket = await rawClient(server.localAddr());
      const port = socket.localPort;
      const got = collect(socket);
      socket.write(frame);
      expect((await got).length).toBe(0);
      const record = logger.records.at(-1)!;
      expect(record.msg).toBe('closing connection: bad request');
      expect(record.obj.remote).toBe(`127.0.0.1:${port}`);
      expect(String(record.obj.reason)).toContain(reason);
    }
    // A warning for the first refusal from a host; the rest go to debug, and all are counted.
    expect(logger.records.filter((r) => r.level === 'warn')).toHaveLength(1);
    expect(logger.records.filter((r) => r.msg === 'closing connection: bad request')).toHaveLength(
      cases.length,
    );
    expect(server.stats()).toMatchObject({ refusedRequests: cases.length, bufferedBytes: 0 });
  });

  it('fails calls in flight with ErrTransportShutdown on close()', async () => {
    const server = await transport();
    server.setHandler(() => {}); // never answers
    const client = await transport();
    const target = { id: 's', address: server.localAddr() };
    const calls = [
      client.appendEntries(target, heartbeat()),
      client.appendEntries(target, appendRequest(1, 1)),
      client.appendEntries(target, appendRequest(2, 1)),
      client.appendEntries(target, appendRequest(3, 1)),
    ];
    await waitFor(() => (client.dials.get(target.address) ?? 0) >= 2);
    await new Promise((r) => setTimeout(r, 20));
    await client.close();
    for (const call of calls) await expect(call).rejects.toBeInstanceOf(ErrTransportShutdown);
    await expect(client.appendEntries(target, heartbeat())).rejects.toBeInstanceOf(ErrTransportShutdown);
  });

  it('blockPeers makes calls to those peers fail at once until unblocked', async () => {
    const server = await transport();
    server.setHandler(echoHandler().handler);
    const client = await transport();
    const target = { id: 's', address: server.localAddr() };
    await client.appendEntries(target, heartbeat());
    client.blockPeers([target.address]);
    await expect(client.appendEntries(target, heartbeat())).rejects.toBeInstanceOf(ErrUnreachable);
    await expect(client.appendEntries(target, appendRequest(1, 1))).rejects.toBeInstanceOf(ErrUnreachable);
    await expect(
      client.installSnapshot(target, snapshotRequest(10), patternStream(10)),
    ).rejects.toBeInstanceOf(ErrUnreachable);
    client.blockPeers(null);
    expect((await client.appendEntries(target, heartbeat())).success).toBe(true);
  });

  it('reports the bound port when binding port 0, and refuses to advertise 0.0.0.0', async () => {
    const t = await transport();
    expect(t.localAddr()).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(t.localAddr()).not.toBe('127.0.0.1:0');
    await expect(newTcpTransport('0.0.0.0:0', null, 1, 1000)).rejects.toThrow('not advertisable');
    const advertised = await newTcpTransport('0.0.0.0:0', '10.1.2.3:7000', 1, 1000);
    open.push(advertised);
    expect(advertised.localAddr()).toBe('10.1.2.3:7000');
  });
});
