/**
 * What a peer can make a NetworkTransport hold (issue 11, items 1 and 2): forged out-of-range
 * numbers are refused at the transport, incomplete requests share one bounded buffer budget,
 * connections beyond the cap are closed on arrival, connections that make no progress are closed
 * after the read or idle timeout (on the injected Clock), and ordinary RPCs keep flowing meanwhile.
 */
import type { Server, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrInvalidConfig } from '../../src/core/errors.js';
import type { RaftRequest } from '../../src/core/types.js';
import { CONNECTION_BUFFER_BYTES } from '../../src/transport/limits.js';
import type { NetworkTransport } from '../../src/transport/net.js';
import { ErrOutOfDescriptors, type StreamLayer } from '../../src/transport/stream-layer.js';
import {
  TcpStreamLayer,
  newNetworkTransport,
  newTcpTransport,
  type TransportFactoryOptions,
} from '../../src/transport/tcp.js';
import { vote112 } from '../support/forged-frames.js';
import {
  ManualClock,
  appendRequest,
  bigAppend,
  collect,
  frameOf,
  heartbeat,
  patternStream,
  rawClient,
  recordingLogger,
  snapshotRequest,
  vote,
  waitFor,
} from './helpers.js';

const MiB = 1024 * 1024;
const open: { close(): Promise<void> }[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(open.splice(0).map((t) => t.close()));
});

async function transport(options: TransportFactoryOptions = {}, timeout = 2000): Promise<NetworkTransport> {
  const t = await newTcpTransport('127.0.0.1:0', null, 3, timeout, options);
  open.push(t);
  return t;
}

/** A server that answers every request at once (snapshots after reading them), recording what it got. */
async function answeringServer(options: TransportFactoryOptions = {}, timeout = 2000) {
  const server = await transport(options, timeout);
  const seen: RaftRequest[] = [];
  server.setHandler((rpc) => {
    seen.push(rpc.request);
    if (rpc.data) {
      rpc.data.on('data', () => {});
      rpc.data.on('end', () => rpc.respond({ term: 3, success: true }));
      return;
    }
    rpc.respond({ term: 3, lastLog: 0, success: true, noRetryBackoff: false });
  });
  return { server, seen, target: { id: 's', address: server.localAddr() } };
}

async function connect(address: string): Promise<Socket> {
  const socket = await rawClient(address);
  socket.on('error', () => {});
  sockets.push(socket);
  return socket;
}

const closed = (socket: Socket): Promise<void> =>
  socket.destroyed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));

describe('NetworkTransport: hostile numbers', () => {
  it('refuses the forged RequestVote of issue 11 (1.1.2 header, Term 2^53-1): connection closed, nothing handed on, one warning per peer', async () => {
    const logger = recordingLogger();
    const { server, seen } = await answeringServer({ logger });
    for (let i = 0; i < 3; i++) {
      const socket = await connect(server.localAddr());
      const got = collect(socket);
      socket.write(vote112({ term: 2 ** 53 - 1, candidate: '10.66.0.1:7000', leadershipTransfer: true }));
      // Closed without a reply: no response frame, not even an error text.
      expect((await got).length).toBe(0);
    }
    expect(seen).toEqual([]);
    const refusals = logger.records.filter((r) => r.msg === 'closing connection: bad request');
    expect(refusals).toHaveLength(3);
    expect(refusals.map((r) => r.level)).toEqual(['warn', 'debug', 'debug']);
    expect(refusals[0].obj).toMatchObject({ error: 'ErrOutOfRange' });
    expect(String(refusals[0].obj.reason)).toContain(
      'Term 9007199254740991 is above the largest accepted term',
    );
    expect(server.stats()).toMatchObject({ refusedRequests: 3, inboundConnections: 0, bufferedBytes: 0 });

    // At the bound the same vote is an ordinary request.
    const socket = await connect(server.localAddr());
    socket.write(vote112({ term: 2 ** 48 - 1, candidate: '10.66.0.1:7000' }));
    await waitFor(() => seen.length === 1);
    expect(seen[0]).toMatchObject({ kind: 'requestVote', term: 2 ** 48 - 1, candidate: { id: '' } });
  });
});

describe('NetworkTransport: the inbound buffer budget', () => {
  it('keeps half-sent large requests within maxBufferedBytes, refuses the excess, and keeps replicating', async () => {
    // 16 connections reserve 1 MiB; 7 MiB are shared by requests larger than 64 KiB.
    const limits = { maxBufferedBytes: 8 * MiB, maxFrameBytes: 4 * MiB, maxInboundConnections: 16 };
    const logger = recordingLogger();
    const { server, target } = await answeringServer({ ...limits, logger });
    const client = await transport();
    let peak = 0;
    const sample = () => (peak = Math.max(peak, server.stats().bufferedBytes));

    // Six peers each send 2 of a 3.5 MiB AppendEntries and stop: two fit, the others cannot.
    const frame = bigAppend(3.5 * MiB);
    const holders = await Promise.all(Array.from({ length: 6 }, () => connect(server.localAddr())));
    const outcomes = holders.map((socket) => closed(socket).then(() => 'closed'));
    for (const socket of holders) socket.write(frame.subarray(0, 2 * MiB));
    await waitFor(() => {
      sample();
      return server.stats().refusedRequests + Math.floor(server.stats().bufferedBytes / (2 * MiB)) >= 6;
    });
    for (let i = 0; i < 50; i++) {
      // Ordinary replication goes on beside them, out of each connection's own share.
      const response = await client.appendEntries(target, appendRequest(i, 2));
      expect(response.success).toBe(true);
      sample();
    }
    const stats = server.stats();
    expect(peak).toBeLessThanOrEqual(limits.maxBufferedBytes);
    expect(stats.refusedRequests).toBeGreaterThanOrEqual(3);
    const spent = logger.records.filter((r) => r.msg === 'closing connection: inbound buffer budget spent');
    expect(spent.length).toBe(stats.refusedRequests);
    expect(spent[0]).toMatchObject({ level: 'warn', obj: { error: 'ErrBufferBudget' } });
    expect(stats.bufferedBytes).toBeGreaterThanOrEqual(2 * MiB);
    const settled = await Promise.race([
      Promise.all(outcomes),
      new Promise((r) => setTimeout(r, 100, 'open')),
    ]);
    expect(settled).toBe('open');

    // Closing them gives every byte back.
    for (const socket of holders) socket.destroy();
    await waitFor(() => server.stats().bufferedBytes === 0 && server.stats().inboundConnections <= 3);
  });

  it('refuses a request whose declared size is over maxFrameBytes before buffering it', async () => {
    const { server } = await answeringServer({ maxFrameBytes: 1 * MiB, maxBufferedBytes: 32 * MiB });
    const socket = await connect(server.localAddr());
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, server.stats().bufferedBytes)), 1);
    const frame = bigAppend(4 * MiB);
    socket.write(frame.subarray(0, 64 * 1024));
    await closed(socket);
    clearInterval(timer);
    expect(peak).toBeLessThanOrEqual(CONNECTION_BUFFER_BYTES);
    expect(server.stats()).toMatchObject({ refusedRequests: 1, bufferedBytes: 0 });
  });

  it('streams InstallSnapshot bodies without charging them to the budget', async () => {
    const limits = { maxBufferedBytes: 2 * MiB, maxFrameBytes: 1 * MiB, maxInboundConnections: 8 };
    const { server, target } = await answeringServer(limits);
    const client = await transport();
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, server.stats().bufferedBytes)), 1);
    const size = 24 * MiB;
    expect(await client.installSnapshot(target, snapshotRequest(size), patternStream(size))).toEqual({
      term: 3,
      success: true,
    });
    clearInterval(timer);
    expect(peak).toBeLessThan(limits.maxFrameBytes);
  });

  it('refuses limits that cannot hold one largest request', async () => {
    await expect(transport({ maxBufferedBytes: 8 * MiB, maxFrameBytes: 8 * MiB })).rejects.toThrow(
      ErrInvalidConfig,
    );
    await expect(transport({ maxInboundConnections: 0 })).rejects.toThrow('maxInboundConnections');
    await expect(transport({ readTimeout: -1 })).rejects.toThrow('readTimeout');
  });
});

describe('NetworkTransport: connection cap and timeouts', () => {
  it('closes connections beyond maxInboundConnections on arrival and logs once', async () => {
    const logger = recordingLogger();
    const { server, target } = await answeringServer({ logger, maxInboundConnections: 4 });
    const kept = await Promise.all(Array.from({ length: 4 }, () => connect(server.localAddr())));
    await waitFor(() => server.stats().inboundConnections === 4);
    const extra = await Promise.all(Array.from({ length: 3 }, () => connect(server.localAddr())));
    await Promise.all(extra.map(closed));
    expect(server.stats()).toMatchObject({ inboundConnections: 4, refusedConnections: 3 });
    const refusals = logger.records.filter(
      (r) => r.msg === 'refused connection: too many inbound connections',
    );
    expect(refusals.map((r) => r.level)).toEqual(['warn', 'debug', 'debug']);

    kept[0].destroy();
    await waitFor(() => server.stats().inboundConnections === 3);
    const client = await transport();
    expect((await client.appendEntries(target, heartbeat())).success).toBe(true);
  });

  it('closes a connection whose request stalls after readTimeout, an idle one after idleTimeout, on the Clock', async () => {
    const clock = new ManualClock();
    const logger = recordingLogger();
    const { server } = await answeringServer({ clock, logger, readTimeout: 1000, idleTimeout: 5000 });
    const stalled = await connect(server.localAddr());
    stalled.write(frameOf(appendRequest(1, 4)).subarray(0, 40));
    const silent = await connect(server.localAddr());
    const served = await connect(server.localAddr());
    const replies = collect(served);
    served.write(frameOf(heartbeat()));
    await waitFor(() => server.stats().inboundConnections === 3 && server.stats().bufferedBytes > 0);
    served.on('data', () => {});

    const advance = async (ms: number) => {
      for (let t = 0; t < ms; t += 50) {
        clock.advance(50);
        await new Promise((r) => setImmediate(r));
      }
    };
    await advance(900);
    expect(stalled.destroyed).toBe(false);
    await advance(1000);
    await closed(stalled);
    expect(server.stats()).toMatchObject({ inboundConnections: 2, timedOutConnections: 1, bufferedBytes: 0 });
    const noProgress = logger.records.filter((r) => r.msg === 'closing connection: no progress');
    expect(noProgress).toHaveLength(1);
    expect(String(noProgress[0].obj.reason)).toContain('request incomplete after 1000 ms');

    await advance(2000);
    expect(server.stats().inboundConnections).toBe(2);
    await advance(2500);
    await Promise.all([closed(silent), closed(served)]);
    expect(server.stats()).toMatchObject({ inboundConnections: 0, timedOutConnections: 3 });
    expect((await replies).length).toBeGreaterThan(0);
  });
});

describe('NetworkTransport: out of file descriptors', () => {
  it('pauses accepting when accept fails with EMFILE and listens again after 5 ms, doubling (Go net/http style)', async () => {
    const clock = new ManualClock();
    const logger = recordingLogger();
    const layer = await TcpStreamLayer.listen('127.0.0.1:0', null, clock, logger);
    const server = newNetworkTransport(layer, 2, 2000, { clock });
    open.push(server);
    server.setHandler((rpc) => rpc.respond({ term: 3, lastLog: 0, success: true, noRetryBackoff: false }));
    const listener = (layer as unknown as { server: Server }).server;
    const emfile = Object.assign(new Error('accept EMFILE'), {
      code: 'EMFILE',
      errno: -24,
      syscall: 'accept',
    });
    const client = await transport();
    const target = { id: 's', address: server.localAddr() };

    for (const delay of [5, 10, 20]) {
      // node:net would throw this from emit() without a listener: the process would die.
      listener.emit('error', emfile);
      expect(listener.listening).toBe(false);
      await expect(rawClient(server.localAddr())).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      clock.advance(delay - 1);
      expect(listener.listening).toBe(false);
      clock.advance(1);
      await waitFor(() => listener.listening);
    }
    expect(logger.records.map((r) => r.obj.retryInMs)).toEqual([5, 10, 20]);
    // Serving again, on the same port; a successful accept starts the back-off over.
    expect((await client.appendEntries(target, heartbeat())).success).toBe(true);
    listener.emit('error', emfile);
    expect(logger.records.at(-1)!.obj.retryInMs).toBe(5);
  });

  it('fails dials that hit EMFILE with ErrOutOfDescriptors and holds further dials back 5 ms, doubling', async () => {
    const clock = new ManualClock();
    let dials = 0;
    const layer: StreamLayer = {
      accept: () => {},
      dial: () => {
        dials++;
        return Promise.reject(
          Object.assign(new Error('connect EMFILE'), { code: 'EMFILE', syscall: 'connect' }),
        );
      },
      close: () => Promise.resolve(),
      addr: () => '127.0.0.1:1',
    };
    const client = newNetworkTransport(layer, 2, 2000, { clock });
    open.push(client);
    const target = { id: 'p', address: '127.0.0.1:2' };
    const first = await client.appendEntries(target, heartbeat()).catch((e: Error) => e);
    expect(first).toBeInstanceOf(ErrOutOfDescriptors);
    expect((first as Error).message).toContain('dials wait 5 ms');
    await expect(client.appendEntries(target, appendRequest(1, 1))).rejects.toThrow(ErrOutOfDescriptors);
    expect(dials).toBe(1);
    clock.advance(5);
    await expect(client.requestVote(target, vote)).rejects.toThrow('dials wait 10 ms');
    expect(dials).toBe(2);
  });
});
