import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrUnsupportedProtocol } from '../../src/core/errors.js';
import type { RaftRequest, RequestVoteRequest } from '../../src/core/types.js';
import type { NetworkTransport } from '../../src/transport/net.js';
import { newTcpTransport } from '../../src/transport/tcp.js';
import type { IncomingRpc } from '../../src/transport/types.js';
import { decodeResponse, encodeRequest } from '../../src/wire/codec.js';
import { Decoder } from '../../src/wire/decoder.js';
import { Encoder } from '../../src/wire/encoder.js';
import { leader, patternByte, patternStream, rawClient, snapshotRequest } from './helpers.js';

const open: NetworkTransport[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

async function transport(): Promise<NetworkTransport> {
  const t = await newTcpTransport('127.0.0.1:0', null, 3, 5000);
  open.push(t);
  return t;
}

const MiB = 1024 * 1024;

const vote: RequestVoteRequest = {
  kind: 'requestVote',
  term: 9,
  candidate: leader,
  lastLogIndex: 4,
  lastLogTerm: 2,
  leadershipTransfer: false,
};

function frame(request: RaftRequest): Buffer {
  const enc = new Encoder();
  encodeRequest(enc, request);
  return Buffer.from(enc.finish());
}

/** Checks every byte against the pattern; returns the number of bytes seen. */
function checkPattern(chunk: Uint8Array, offset: number): void {
  for (let i = 0; i < chunk.length; i++) {
    if (chunk[i] !== patternByte(offset + i)) throw new Error(`snapshot byte ${offset + i} is wrong`);
  }
}

/** A handler that answers votes at once and reads snapshots (or ignores their data). */
function handler(options: { readSnapshots: boolean; seen: RaftRequest[]; received?: number[] }) {
  return (rpc: IncomingRpc): void => {
    options.seen.push(rpc.request);
    const request = rpc.request;
    if (request.kind === 'requestVote') return rpc.respond({ term: request.term, granted: true });
    if (request.kind !== 'installSnapshot') return rpc.respond(null, new Error('unexpected'));
    if (!options.readSnapshots) return rpc.respond({ term: request.term, success: false });
    let got = 0;
    rpc.data!.on('data', (chunk: Buffer) => {
      checkPattern(chunk, got);
      got += chunk.length;
    });
    rpc.data!.on('end', () => {
      options.received?.push(got);
      rpc.respond({ term: request.term, success: got === request.size });
    });
  };
}

/** Writes a request, its snapshot bytes and a vote on one raw connection; returns both replies. */
async function snapshotThenVote(address: string, size: number, header = frame(snapshotRequest(size))) {
  const socket = await rawClient(address);
  const dec = new Decoder();
  let buf = Buffer.alloc(0);
  const replies = new Promise<[unknown, unknown]>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const first = decodeResponse(dec, buf, 0, 'installSnapshot');
      if (!first) return;
      const second = decodeResponse(dec, buf, first.bytesUsed, 'requestVote');
      if (second) resolve([first, second]);
    });
    socket.on('close', () => reject(new Error('connection closed')));
  });
  socket.write(header);
  const data = patternStream(size);
  for await (const chunk of data)
    if (!socket.write(chunk as Buffer)) await new Promise((r) => socket.once('drain', r));
  socket.write(frame(vote));
  const result = await replies;
  socket.destroy();
  return result;
}

describe('InstallSnapshot streaming', () => {
  it('streams 32 MiB between transports with bounded buffering', async () => {
    const server = await transport();
    const client = await transport();
    const size = 32 * MiB;
    let consumed = 0;
    let maxWindow = 0;
    const source = patternStream(size);
    server.setHandler(async (rpc) => {
      const hash = createHash('sha256');
      let chunks = 0;
      for await (const chunk of rpc.data!) {
        hash.update(chunk as Buffer);
        consumed += (chunk as Buffer).length;
        maxWindow = Math.max(maxWindow, source.produced - consumed);
        // A consumer slower than the network, so that backpressure has to hold the sender back.
        if (++chunks % 16 === 0) await new Promise((r) => setTimeout(r, 1));
      }
      rpc.respond({ term: 1, success: consumed === size });
    });
    const heapBefore = process.memoryUsage().heapUsed;
    const response = await client.installSnapshot(
      { id: 's', address: server.localAddr() },
      snapshotRequest(size),
      source,
    );
    expect(response).toEqual({ term: 1, success: true });
    expect(consumed).toBe(size);
    // Bytes produced but not yet consumed: socket buffers and stream high-water marks, not the
    // snapshot (kernel loopback buffers account for most of it).
    expect(maxWindow).toBeLessThan(12 * MiB);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(24 * MiB);
  });

  it('parses the next frame on the same connection after the snapshot bytes', async () => {
    const server = await transport();
    const seen: RaftRequest[] = [];
    const received: number[] = [];
    server.setHandler(handler({ readSnapshots: true, seen, received }));
    const size = 32 * MiB + 17;
    const [snap, reply] = await snapshotThenVote(server.localAddr(), size);
    expect(snap).toMatchObject({ error: '', response: { term: 3, success: true } });
    expect(reply).toMatchObject({ error: '', response: { term: 9, granted: true } });
    expect(received).toEqual([size]);
    expect(seen.map((r) => r.kind)).toEqual(['installSnapshot', 'requestVote']);
    expect(seen[1]).toEqual(vote);
  });

  it('drains snapshot bytes the handler does not read', async () => {
    const server = await transport();
    const seen: RaftRequest[] = [];
    server.setHandler(handler({ readSnapshots: false, seen }));
    const [snap, reply] = await snapshotThenVote(server.localAddr(), 3 * MiB);
    expect(snap).toMatchObject({ error: '', response: { success: false } });
    expect(reply).toMatchObject({ response: { granted: true } });
    expect(seen[1]).toEqual(vote);
  });

  it('reads the snapshot bytes of a request refused for its protocol version', async () => {
    const server = await transport();
    const seen: RaftRequest[] = [];
    server.setHandler(handler({ readSnapshots: true, seen }));
    const size = 100_000;
    const header = frame(snapshotRequest(size));
    // ProtocolVersion is the byte after the "ProtocolVersion" key; 3 becomes 1.
    const at = header.indexOf(Buffer.from('ProtocolVersion')) + 'ProtocolVersion'.length;
    expect(header[at]).toBe(3);
    header[at] = 1;
    const [snap, reply] = await snapshotThenVote(server.localAddr(), size, header);
    expect(snap).toMatchObject({ error: ErrUnsupportedProtocol.text, response: null });
    expect(reply).toMatchObject({ response: { granted: true } });
    expect(seen).toEqual([vote]);
  });

  it('survives a client that hangs up mid-snapshot, whether or not the handler still reads', async () => {
    const server = await transport();
    const errors: Error[] = [];
    let calls = 0;
    server.setHandler((rpc) => {
      // The first snapshot is answered at once (its bytes are drained), the second one is read.
      if (calls++ === 0) return rpc.respond({ term: 1, success: false });
      rpc.data!.on('error', (error: Error) => errors.push(error));
      rpc.data!.resume();
    });
    for (let i = 0; i < 2; i++) {
      const socket = await rawClient(server.localAddr());
      socket.write(frame(snapshotRequest(10 * MiB)));
      socket.write(Buffer.alloc(64 * 1024));
      await new Promise((r) => setTimeout(r, 20));
      socket.destroy();
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toBe(2);
    expect(errors.map((e) => e.name)).toEqual(['ErrPeerClosed']);
  });

  it('rejects a snapshot whose data is shorter than its size', async () => {
    const server = await transport();
    server.setHandler(handler({ readSnapshots: true, seen: [] }));
    const client = await transport();
    await expect(
      client.installSnapshot(
        { id: 's', address: server.localAddr() },
        snapshotRequest(1000),
        patternStream(999),
      ),
    ).rejects.toThrow('short read');
  });
});
