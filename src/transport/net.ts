/**
 * NetworkTransport: hashicorp/raft's wire protocol over any StreamLayer (TCP, TLS, or a test's).
 *
 * Client side, per target: a LIFO pool of idle connections for one-at-a-time RPCs (votes,
 * heartbeats, TimeoutNow, ReadIndex), a dedicated pipelined connection for AppendEntries that
 * carry entries or indexes, and a fresh, never-pooled connection per InstallSnapshot. Every
 * deadline runs on the injected Clock. Server side: see server-conn.ts.
 */
import type { Readable } from 'node:stream';
import type { Clock } from '../core/clock.js';
import {
  ErrLogNotFound,
  ErrNotLeader,
  ErrRaftShutdown,
  ErrReadIndexNotSupported,
  ErrTransportShutdown,
  ErrUnexpectedCommand,
  ErrUnsupportedProtocol,
  ErrUnsupportedRpc,
  RaftError,
} from '../core/errors.js';
import type {
  AppendEntriesRequest,
  AppendEntriesResponse,
  InstallSnapshotRequest,
  InstallSnapshotResponse,
  Peer,
  RaftRequest,
  ResponseMap,
  ServerAddress,
} from '../core/types.js';
import { encodeRequest, type IncomingResponse } from '../wire/codec.js';
import { isHeartbeat } from '../wire/convert.js';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from '../wire/decoder.js';
import { Encoder, utf8Bytes, utf8Text } from '../wire/encoder.js';
import { ClientConn } from './client-conn.js';
import { ErrUnreachable } from './inmem.js';
import { AppendPipeline } from './pipeline.js';
import { ConnPool } from './pool.js';
import { Backoff, isDescriptorExhaustion } from './backoff.js';
import { InboundConnections, type InboundStats } from './inbound.js';
import { resolveInboundLimits, type InboundLimitOptions } from './limits.js';
import type { TransportLogger } from './server-conn.js';
import {
  ErrOutOfDescriptors,
  ErrPeerClosed,
  ErrRpcTimeout,
  type StreamLayer,
  type StreamSocket,
} from './stream-layer.js';
import { RpcTransport, type RpcHandler, type Transport } from './types.js';

/** Options of the NetworkTransport constructor (`newNetworkTransport` fills the usual ones). */
export interface NetworkTransportOptions extends InboundLimitOptions {
  /** Idle connections kept per target (hashicorp's MaxPool). */
  maxPool: number;
  /** I/O deadline of one RPC in ms; InstallSnapshot scales it with the size. */
  timeout: number;
  /** Runs every deadline (the system clock in production, virtual time in tests). */
  clock: Clock;
  /** Where connection trouble is reported (pino-compatible); silent by default. */
  logger?: TransportLogger;
  /** AppendEntries written ahead of their replies per follower (hashicorp's MaxRPCsInFlight). Default 2. */
  maxRpcsInFlight?: number;
  /** Further decoder limits (array lengths, entries per AppendEntries, nesting, ...). */
  decodeLimits?: Partial<DecodeLimits>;
  /** This server's ID, sent in response headers (Go fills it; nothing relies on it). Default ''. */
  localId?: string;
}

/** NetworkTransport.stats(): the inbound side's figures and the open outbound connections. */
export interface NetworkTransportStats extends InboundStats {
  /** Connections this transport dialled that are open now (pooled, pipelined or busy). */
  outboundConnections: number;
}
/** hashicorp scales the InstallSnapshot deadline by one timeout per 256 KiB. */
const SNAPSHOT_DEADLINE_UNIT = 256 * 1024;

const silent: TransportLogger = { warn: () => {}, debug: () => {} };

/** Remote error texts that have a typed error here; others arrive as a RaftError with the text. */
const KNOWN_REMOTE_ERRORS = [
  ErrUnexpectedCommand,
  ErrUnsupportedProtocol,
  ErrRaftShutdown,
  ErrTransportShutdown,
  ErrLogNotFound,
  ErrNotLeader,
];

/** The Error for an error string received in a reply. */
export function remoteError(text: string): Error {
  for (const Known of KNOWN_REMOTE_ERRORS) {
    if (text === Known.text) return new Known();
    if (text.startsWith(`${Known.text}: `)) return new Known(text.slice(Known.text.length + 2));
  }
  return new RaftError(text);
}

function settleReply<K extends keyof ResponseMap>(reply: IncomingResponse<K>): ResponseMap[K] {
  if (reply.error !== '') throw remoteError(reply.error);
  if (reply.response === null) throw new RaftError('peer sent an empty response');
  return reply.response;
}

/**
 * hashicorp's NetworkTransport: Raft RPCs in hashicorp/raft's msgpack wire protocol over a
 * StreamLayer, so raftkit and Go servers can form one cluster. Pooled connections for single
 * RPCs, a pipelined connection per follower for AppendEntries, a fresh one per InstallSnapshot.
 * Make one with `newTcpTransport`, `newTlsTransport` or `newNetworkTransport`.
 */
export class NetworkTransport extends RpcTransport implements Transport {
  private handler: RpcHandler | null = null;
  private closed = false;
  private localId: string;
  private blocked: ReadonlySet<string> = new Set();
  private readonly encoder = new Encoder();
  private readonly pool: ConnPool;
  private readonly pipelines = new Map<string, AppendPipeline>();
  /** Every open client connection (idle, busy or pipelined), for close(). */
  private readonly clientConns = new Set<ClientConn>();
  private readonly inbound: InboundConnections;
  private readonly limits: Partial<DecodeLimits>;
  private readonly logger: TransportLogger;
  private readonly clock: Clock;
  private readonly timeout: number;
  private readonly depth: number;
  /** Dials after running out of descriptors wait (fail at once) until this time on the clock. */
  private readonly dialBackoff = new Backoff();
  private dialsPausedUntil = 0;
  /**
   * Largest request frame this transport accepts (and response frame it reads), in bytes. Peers
   * usually share the setting, so a leader keeps each AppendEntries below it.
   */
  readonly maxFrameBytes: number;
  /** Successful dials, per target (tests count them to check pooling). */
  readonly dials = new Map<string, number>();

  constructor(
    private readonly stream: StreamLayer,
    options: NetworkTransportOptions,
  ) {
    super();
    if (!(options.timeout > 0)) throw new RaftError(`timeout must be positive, got ${options.timeout}`);
    this.clock = options.clock;
    this.timeout = options.timeout;
    this.pool = new ConnPool(Math.max(0, options.maxPool));
    this.logger = options.logger ?? silent;
    this.depth = Math.max(1, options.maxRpcsInFlight ?? 2);
    this.localId = options.localId ?? '';
    const limits = resolveInboundLimits(options, options.timeout);
    this.maxFrameBytes = limits.maxFrameBytes;
    this.limits = {
      maxBytes: Math.min(DEFAULT_DECODE_LIMITS.maxBytes, this.maxFrameBytes),
      maxValueBytes: this.maxFrameBytes,
      ...options.decodeLimits,
    };
    this.inbound = new InboundConnections({
      limits,
      decodeLimits: this.limits,
      clock: this.clock,
      logger: this.logger,
      local: () => ({ id: this.localId, address: this.stream.addr() }),
      handler: () => this.handler,
      vet: (socket, request) => this.stream.vet?.(socket, request) ?? null,
    });
    // Where the layer can, it refuses connections beyond the cap before they cost a TLS handshake.
    stream.limitConnections?.(limits.maxInboundConnections, (remote) =>
      this.inbound.refuseConnection(remote),
    );
    stream.accept((socket) => {
      if (this.closed) return void socket.destroy();
      this.inbound.admit(socket);
    });
  }

  /** Open connections, bytes buffered for incomplete requests, and what was refused. */
  stats(): NetworkTransportStats {
    return { ...this.inbound.stats(), outboundConnections: this.clientConns.size };
  }

  localAddr(): ServerAddress {
    return this.stream.addr();
  }

  /** The ID put in response headers; the runtime knows it, the transport does not. */
  setLocalId(id: string): void {
    this.localId = id;
  }

  setHandler(handler: RpcHandler): void {
    this.handler = handler;
  }

  /**
   * Test/demo hook: every outgoing RPC to these addresses fails at once with ErrUnreachable until
   * called with null. Open connections to them are closed.
   */
  blockPeers(addresses: string[] | null): void {
    this.blocked = new Set(addresses ?? []);
    for (const address of this.blocked) this.dropTarget(address, new ErrUnreachable(`${address} is blocked`));
  }

  override appendEntries(target: Peer, request: AppendEntriesRequest): Promise<AppendEntriesResponse> {
    if (isHeartbeat(request)) return this.call(target, request);
    const refused = this.refusal(target.address);
    if (refused) return Promise.reject(refused);
    return this.pipelineTo(target).send(request);
  }

  override async installSnapshot(
    target: Peer,
    request: InstallSnapshotRequest,
    data: Readable,
  ): Promise<InstallSnapshotResponse> {
    const refused = this.refusal(target.address);
    if (refused) {
      data.destroy();
      throw refused;
    }
    try {
      const frame = this.encode(request);
      const conn = this.pooled(target) ?? (await this.dial(target));
      const deadline = this.timeout * Math.max(1, Math.floor(request.size / SNAPSHOT_DEADLINE_UNIT));
      const timer = this.clock.setTimer(deadline, () =>
        conn.destroy(new ErrRpcTimeout(`snapshot to ${target.address} not done within ${deadline} ms`)),
      );
      try {
        conn.write(frame);
        await streamExactly(conn, data, request.size);
        return settleReply(await conn.expect('installSnapshot', 0));
      } finally {
        timer.cancel();
        // hashicorp never pools a snapshot connection.
        conn.destroy(new RaftError('snapshot connection closed'));
      }
    } finally {
      data.destroy();
    }
  }

  encodePeer(_id: string, address: ServerAddress): Uint8Array {
    return utf8Bytes(address);
  }

  decodePeer(bytes: Uint8Array): ServerAddress {
    return utf8Text(bytes);
  }

  /** Stops listening, closes every connection and fails the calls in flight with ErrTransportShutdown. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const error = new ErrTransportShutdown();
    for (const pipeline of this.pipelines.values()) pipeline.close(error);
    this.pipelines.clear();
    this.pool.drop(error);
    for (const conn of [...this.clientConns]) conn.destroy(error);
    this.inbound.closeAll();
    await this.stream.close();
  }

  // ---------------------------------------------------------------------------------------------

  private refusal(address: string): Error | null {
    if (this.closed) return new ErrTransportShutdown();
    if (this.blocked.has(address)) return new ErrUnreachable(`${address} is blocked`);
    return null;
  }

  private encode(request: RaftRequest): Uint8Array {
    const enc = this.encoder;
    enc.reset();
    encodeRequest(enc, request);
    return enc.finish();
  }

  /** An idle connection to `target`, if one was made for the same server ID. */
  private pooled(target: Peer): ClientConn | null {
    const conn = this.pool.take(target.address);
    if (conn === null || conn.serverId === target.id) return conn;
    // Another server now lives at that address: its certificate must be checked afresh.
    conn.destroy(new ErrTransportShutdown(`${target.address} is now ${target.id}`));
    return null;
  }

  private async dial(target: Peer): Promise<ClientConn> {
    const address = target.address;
    const wait = this.dialsPausedUntil - this.clock.now();
    if (wait > 0) throw new ErrOutOfDescriptors(`not dialling ${address} for another ${Math.ceil(wait)} ms`);
    let socket: StreamSocket;
    try {
      socket = await this.stream.dial(address, this.timeout, target.id);
    } catch (error) {
      throw this.dialFailure(address, error as Error);
    }
    this.dialBackoff.reset();
    const refused = this.refusal(address);
    if (refused) {
      socket.destroy();
      throw refused;
    }
    this.dials.set(address, (this.dials.get(address) ?? 0) + 1);
    const conn = new ClientConn(address, target.id, socket, this.clock, this.limits, (c) => {
      this.clientConns.delete(c);
      this.pool.remove(c);
    });
    this.clientConns.add(conn);
    return conn;
  }

  /** One request, one reply, over a pooled connection (hashicorp's genericRPC). */
  protected async call<K extends keyof ResponseMap>(
    target: Peer,
    request: RaftRequest & { kind: K },
  ): Promise<ResponseMap[K]> {
    const kind: K = request.kind;
    const refused = this.refusal(target.address);
    if (refused) throw refused;
    const frame = this.encode(request);
    let conn = this.pooled(target) ?? (await this.dial(target));
    for (;;) {
      let reply: IncomingResponse<K>;
      try {
        conn.write(frame);
        reply = await conn.expect(kind, this.timeout);
      } catch (error) {
        conn.destroy(error as Error);
        const probing = kind === 'requestPreVote' || kind === 'readIndex';
        if (!probing || !(error instanceof ErrPeerClosed) || conn.partialReply || this.closed) throw error;
        // A pooled connection may have died while idle: only a fresh one's EOF says anything.
        // Both RPCs are free of side effects, so sending again is harmless.
        if (conn.reused) {
          conn = await this.dial(target);
          continue;
        }
        throw unsupportedRpcError(kind, target.address);
      }
      // Even a reply carrying an error text leaves the connection clean for reuse.
      this.pool.give(conn, new ErrTransportShutdown('pool full'));
      return settleReply(reply);
    }
  }

  private pipelineTo(target: Peer): AppendPipeline {
    let pipeline = this.pipelines.get(target.address);
    if (pipeline && pipeline.serverId !== target.id) {
      pipeline.close(new ErrTransportShutdown(`${target.address} is now ${target.id}`));
      pipeline = undefined;
    }
    if (!pipeline) {
      pipeline = new AppendPipeline({
        serverId: target.id,
        depth: this.depth,
        timeoutMs: this.timeout,
        dial: () => this.dial(target),
        encode: (request) => this.encode(request),
        settle: settleReply,
      });
      this.pipelines.set(target.address, pipeline);
    }
    return pipeline;
  }

  /** A dial that failed for lack of descriptors pauses all dials, 5 ms doubling to 1 s (backoff.ts). */
  private dialFailure(address: string, error: Error): Error {
    if (!isDescriptorExhaustion(error)) return error;
    const delay = this.dialBackoff.next();
    this.dialsPausedUntil = this.clock.now() + delay;
    this.logger.warn(
      { target: address, err: error.message, retryInMs: delay },
      'dial failed: out of file descriptors',
    );
    return new ErrOutOfDescriptors(`dial ${address}: ${error.message}; dials wait ${delay} ms`);
  }

  private dropTarget(address: string, error: Error): void {
    this.pipelines.get(address)?.close(error);
    this.pipelines.delete(address);
    this.pool.drop(error, address);
  }
}

/**
 * A peer that closes the connection on a request without replying does not know its type:
 * hashicorp before 1.7 on RequestPreVote, any hashicorp on raftkit's ReadIndex.
 */
function unsupportedRpcError(kind: 'requestPreVote' | 'readIndex', address: string): Error {
  if (kind === 'requestPreVote')
    return new ErrUnsupportedRpc(`${address} closed the connection on RequestPreVote`);
  return new ErrReadIndexNotSupported(address);
}

/** Writes exactly `size` bytes of data to conn, honouring backpressure. */
async function streamExactly(conn: ClientConn, data: Readable, size: number): Promise<void> {
  let sent = 0;
  if (size > 0) {
    for await (const chunk of data) {
      const bytes = chunk as Uint8Array;
      const part = sent + bytes.length > size ? bytes.subarray(0, size - sent) : bytes;
      sent += part.length;
      if (!conn.write(part)) await conn.drained();
      if (conn.failure) throw conn.failure;
      if (sent === size) break;
    }
  }
  if (sent < size) throw new RaftError(`short read: snapshot data ended after ${sent} of ${size} bytes`);
}
