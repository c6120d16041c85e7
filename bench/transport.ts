/**
 * NetworkTransport over loopback TCP, two transports in one process:
 *  - AppendEntries round trips/s with one 128-byte entry, sequential (one call at a time) and
 *    pipelined (calls issued ahead, the transport keeps maxRpcsInFlight on the wire);
 *  - heartbeat round trips/s over the pooled path;
 *  - InstallSnapshot throughput in MB/s for a streamed snapshot (default 256 MiB).
 *
 *   npx tsc -p tsconfig.bench.json && node dist-bench/bench/transport.js [seconds] [snapshotMiB]
 *
 * Client and server share one event loop (and core), so the round-trip figures include both
 * ends' CPU; two processes or hosts would do better.
 */
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import {
  LogType,
  ServerSuffrage,
  type AppendEntriesRequest,
  type Peer,
  type RaftRequest,
} from '../src/core/types.js';
import type { NetworkTransport } from '../src/transport/net.js';
import { newTcpTransport } from '../src/transport/tcp.js';

const leader: Peer = { id: 'bench-leader', address: '127.0.0.1:1' };

function appendRequest(index: number): AppendEntriesRequest {
  return {
    kind: 'appendEntries',
    term: 2,
    leader,
    prevLogIndex: index - 1,
    prevLogTerm: 2,
    entries: [
      {
        index,
        term: 2,
        type: LogType.Command,
        data: new Uint8Array(128).fill(index & 0xff),
        extensions: new Uint8Array(0),
        appendedAt: 1_700_000_000_000,
      },
    ],
    leaderCommitIndex: index - 1,
  };
}

const heartbeat: AppendEntriesRequest = {
  kind: 'appendEntries',
  term: 2,
  leader,
  prevLogIndex: 0,
  prevLogTerm: 0,
  entries: [],
  leaderCommitIndex: 0,
};

function answer(request: RaftRequest) {
  if (request.kind === 'appendEntries')
    return {
      term: 2,
      lastLog: request.prevLogIndex + request.entries.length,
      success: true,
      noRetryBackoff: false,
    };
  return { term: 2, success: true };
}

async function pair(maxRpcsInFlight: number): Promise<[NetworkTransport, NetworkTransport]> {
  const server = await newTcpTransport('127.0.0.1:0', null, 4, 10_000);
  const client = await newTcpTransport('127.0.0.1:0', null, 4, 10_000, { maxRpcsInFlight });
  server.setHandler((rpc) => {
    if (!rpc.data) return rpc.respond(answer(rpc.request));
    rpc.data.on('data', () => {});
    rpc.data.on('end', () => rpc.respond(answer(rpc.request)));
  });
  return [server, client];
}

/** Round trips per second, keeping `outstanding` calls issued at any time. */
async function roundTrips(
  client: NetworkTransport,
  target: Peer,
  seconds: number,
  outstanding: number,
  makeRequest: (i: number) => AppendEntriesRequest,
): Promise<number> {
  let issued = 0;
  let done = 0;
  const deadline = performance.now() + seconds * 1000;
  const lane = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const response = await client.appendEntries(target, makeRequest(++issued));
      if (!response.success) throw new Error('append failed');
      done++;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: outstanding }, lane));
  return done / ((performance.now() - start) / 1000);
}

async function benchAppend(seconds: number, depth: number, outstanding: number, pooled = false) {
  const [server, client] = await pair(depth);
  const target = { id: 's', address: server.localAddr() };
  try {
    const make = pooled ? () => heartbeat : appendRequest;
    await roundTrips(client, target, 0.3, outstanding, make); // warm up
    return await roundTrips(client, target, seconds, outstanding, make);
  } finally {
    await client.close();
    await server.close();
  }
}

/** A snapshot source that pushes one reused 1 MiB chunk until `size` bytes are out. */
function snapshotSource(size: number): Readable {
  const chunk = Buffer.alloc(1024 * 1024, 0x5a);
  let sent = 0;
  return new Readable({
    highWaterMark: 1024 * 1024,
    read() {
      if (sent >= size) return void this.push(null);
      const n = Math.min(chunk.length, size - sent);
      sent += n;
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    },
  });
}

async function benchSnapshot(megabytes: number): Promise<{ mbPerSecond: number; seconds: number }> {
  const [server, client] = await pair(2);
  const size = megabytes * 1024 * 1024;
  try {
    const start = performance.now();
    const response = await client.installSnapshot(
      { id: 's', address: server.localAddr() },
      {
        kind: 'installSnapshot',
        snapshotVersion: 1,
        term: 2,
        leader,
        lastLogIndex: 1000,
        lastLogTerm: 2,
        configuration: {
          servers: [{ suffrage: ServerSuffrage.Voter, id: 's', address: server.localAddr() }],
        },
        configurationIndex: 1,
        size,
      },
      snapshotSource(size),
    );
    const seconds = (performance.now() - start) / 1000;
    if (!response.success) throw new Error('snapshot failed');
    return { mbPerSecond: size / 1e6 / seconds, seconds };
  } finally {
    await client.close();
    await server.close();
  }
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 2);
  const snapshotMiB = Number(process.argv[3] ?? 256);
  const line = (label: string, rate: number) =>
    console.log(`${label.padEnd(58)} ${Math.round(rate)} round trips/s`);
  line('AppendEntries 1x128B, sequential (pipeline conn, depth 1 used)', await benchAppend(seconds, 2, 1));
  line('AppendEntries 1x128B, pipelined, maxRpcsInFlight 2', await benchAppend(seconds, 2, 64));
  line('AppendEntries 1x128B, pipelined, maxRpcsInFlight 8', await benchAppend(seconds, 8, 64));
  line('heartbeat, sequential over the pool', await benchAppend(seconds, 2, 1, true));
  const snap = await benchSnapshot(snapshotMiB);
  console.log(
    `${`InstallSnapshot ${snapshotMiB} MiB streamed`.padEnd(58)} ${snap.mbPerSecond.toFixed(0)} MB/s (${snap.seconds.toFixed(2)} s)`,
  );
  const heapMiB = process.memoryUsage().heapUsed / 1024 / 1024;
  console.log(`heap used at the end: ${heapMiB.toFixed(1)} MiB`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
