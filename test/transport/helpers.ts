/** Shared pieces of the transport tests: sample RPCs, raw sockets, a manual clock, a recording logger. */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { Clock, Timer } from '../../src/core/clock.js';
import {
  LogType,
  ServerSuffrage,
  type AppendEntriesRequest,
  type InstallSnapshotRequest,
  type LogEntry,
  type Peer,
  type RaftRequest,
  type RequestVoteRequest,
} from '../../src/core/types.js';
import type { TransportLogger } from '../../src/transport/server-conn.js';
import { encodeRequest } from '../../src/wire/codec.js';
import { Encoder } from '../../src/wire/encoder.js';

export const leader: Peer = { id: 'n1', address: '127.0.0.1:1' };

export function entry(index: number, size = 16): LogEntry {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (index * 7 + i) & 0xff;
  return {
    index,
    term: 3,
    type: LogType.Command,
    data,
    extensions: new Uint8Array(0),
    appendedAt: 1_700_000_000_000 + index,
  };
}

export function appendRequest(prevLogIndex: number, count: number): AppendEntriesRequest {
  return {
    kind: 'appendEntries',
    term: 3,
    leader,
    prevLogIndex,
    prevLogTerm: 3,
    entries: Array.from({ length: count }, (_, i) => entry(prevLogIndex + 1 + i)),
    leaderCommitIndex: prevLogIndex,
  };
}

export const vote: RequestVoteRequest = {
  kind: 'requestVote',
  term: 4,
  candidate: leader,
  lastLogIndex: 2,
  lastLogTerm: 1,
  leadershipTransfer: false,
};

/** The frame bytes of a request, as a peer would send them. */
export function frameOf(request: RaftRequest): Buffer {
  const enc = new Encoder();
  encodeRequest(enc, request);
  return Buffer.from(enc.finish());
}

/** The frame of an AppendEntries whose one entry carries `bytes` bytes. */
export function bigAppend(bytes: number): Buffer {
  const request = appendRequest(0, 0);
  request.entries = [{ ...entry(1), data: new Uint8Array(bytes).fill(7) }];
  return frameOf(request);
}

export function heartbeat(): AppendEntriesRequest {
  return {
    kind: 'appendEntries',
    term: 3,
    leader,
    prevLogIndex: 0,
    prevLogTerm: 0,
    entries: [],
    leaderCommitIndex: 0,
  };
}

export function snapshotRequest(size: number): InstallSnapshotRequest {
  return {
    kind: 'installSnapshot',
    snapshotVersion: 1,
    term: 3,
    leader,
    lastLogIndex: 100,
    lastLogTerm: 3,
    configuration: {
      servers: [{ suffrage: ServerSuffrage.Voter, id: 'n1', address: '127.0.0.1:1' }],
    },
    configurationIndex: 1,
    size,
  };
}

/** Deterministic snapshot bytes: byte i of the stream is patternByte(i). */
export function patternByte(i: number): number {
  return (i * 31 + (i >>> 11)) & 0xff;
}

/** A Readable of `size` pattern bytes in chunks, generated lazily; `produced` counts what was read. */
export function patternStream(size: number, chunkSize = 64 * 1024): Readable & { produced: number } {
  let offset = 0;
  const stream = new Readable({
    read() {
      if (offset >= size) return void this.push(null);
      const n = Math.min(chunkSize, size - offset);
      const chunk = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) chunk[i] = patternByte(offset + i);
      offset += n;
      stream.produced = offset;
      this.push(chunk);
    },
  }) as Readable & { produced: number };
  stream.produced = 0;
  return stream;
}

/** A clock whose timers fire only when the test advances it. */
export class ManualClock implements Clock {
  private time = 0;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];

  now(): number {
    return this.time;
  }

  wallTime(): number {
    return this.time;
  }

  setTimer(delayMs: number, fn: () => void): Timer {
    const timer = { at: this.time + delayMs, fn, live: true };
    this.timers.push(timer);
    return { cancel: () => void (timer.live = false) };
  }

  get pending(): number {
    return this.timers.filter((t) => t.live).length;
  }

  advance(ms: number): void {
    this.time += ms;
    const due = this.timers.filter((t) => t.live && t.at <= this.time);
    this.timers = this.timers.filter((t) => t.live && t.at > this.time);
    for (const t of due) t.fn();
  }
}

export interface RecordedLog {
  level: 'warn' | 'debug';
  obj: Record<string, unknown>;
  msg: string | undefined;
}

export function recordingLogger(): TransportLogger & { records: RecordedLog[] } {
  const records: RecordedLog[] = [];
  return {
    records,
    warn: (obj, msg) => records.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
    debug: (obj, msg) => records.push({ level: 'debug', obj: obj as Record<string, unknown>, msg }),
  };
}

/** A raw TCP server on a free loopback port; close() also destroys its connections. */
export async function rawServer(
  onSocket: (socket: Socket) => void,
): Promise<{ server: Server; address: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    server,
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** A raw client socket, connected. */
export function rawClient(address: string): Promise<Socket> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port: Number(port) }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Everything the socket receives until it closes. */
export function collect(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => socket.on('close', () => resolve(Buffer.concat(chunks))));
}

export async function waitFor<T>(fn: () => T | undefined | null | false, ms = 5000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = fn();
    if (value) return value;
    if (Date.now() - start > ms) throw new Error('timed out waiting for a condition');
    await new Promise((r) => setTimeout(r, 5));
  }
}
