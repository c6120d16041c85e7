/**
 * The accepted side of a NetworkTransport: the open server connections and the limits they share
 * (limits.ts). It refuses connections beyond maxInboundConnections as they arrive, keeps the
 * buffer budget, closes connections that make no progress (one sweep timer on the injected
 * Clock, every quarter of the shortest timeout, so a connection goes within 1.25 times its
 * timeout), logs refusals once per peer, and counts what it refused for stats().
 */
import type { Clock, Timer } from '../core/clock.js';
import type { Peer, RaftRequest } from '../core/types.js';
import type { DecodeLimits } from '../wire/decoder.js';
import { BufferBudget, ErrBufferBudget } from './budget.js';
import { ErrPeerIdentity } from './identity.js';
import { CONNECTION_BUFFER_BYTES, type InboundLimits } from './limits.js';
import { PeerLog } from './peer-log.js';
import { ServerConn, type ServerConnHost, type TransportLogger } from './server-conn.js';
import type { StreamSocket } from './stream-layer.js';
import type { RpcHandler } from './types.js';

/** The shortest pause between two sweeps, whatever the timeouts. */
const MIN_SWEEP_MS = 10;

/** What the accepted side holds and has refused (see NetworkTransport.stats()). */
export interface InboundStats {
  /** Inbound connections open now. */
  inboundConnections: number;
  /** Bytes held for incomplete requests by all inbound connections together. */
  bufferedBytes: number;
  /** Connections closed on arrival because maxInboundConnections were open. */
  refusedConnections: number;
  /** Connections closed for a bad request: malformed, out of range, too large, or a sender its certificate does not name. */
  refusedRequests: number;
  /** Connections closed for making no progress (readTimeout) or for idling (idleTimeout). */
  timedOutConnections: number;
}

export interface InboundDeps {
  limits: InboundLimits;
  decodeLimits: Partial<DecodeLimits>;
  clock: Clock;
  logger: TransportLogger;
  local(): Peer;
  handler(): RpcHandler | null;
  /** Identity checks of a TLS layer; null lets every request through. */
  vet(socket: StreamSocket, request: RaftRequest): Error | null;
}

export class InboundConnections implements ServerConnHost {
  readonly budget: BufferBudget;
  readonly clock: Clock;
  readonly logger: TransportLogger;
  readonly limits: Partial<DecodeLimits>;
  readonly maxFrameBytes: number;
  private readonly conns = new Set<ServerConn>();
  private readonly peerLog: PeerLog;
  private readonly sweepEvery: number;
  private sweepTimer: Timer | null = null;
  /** True from the first connection refused at the cap until the count falls below it again. */
  private atCap = false;
  private refusedConnections = 0;
  private refusedRequests = 0;
  private timedOut = 0;

  constructor(private readonly deps: InboundDeps) {
    const { limits } = deps;
    this.budget = new BufferBudget(limits.sharedBufferBytes, CONNECTION_BUFFER_BYTES);
    this.clock = deps.clock;
    this.logger = deps.logger;
    this.limits = deps.decodeLimits;
    this.maxFrameBytes = limits.maxFrameBytes;
    this.peerLog = new PeerLog(deps.logger);
    const shortest =
      limits.idleTimeout > 0 ? Math.min(limits.readTimeout, limits.idleTimeout) : limits.readTimeout;
    this.sweepEvery = Math.max(MIN_SWEEP_MS, Math.floor(shortest / 4));
  }

  /** Takes an accepted connection, or closes it at once when maxInboundConnections are open. */
  admit(socket: StreamSocket): void {
    if (this.conns.size >= this.deps.limits.maxInboundConnections) {
      this.refuseConnection(`${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`);
      socket.destroy();
      return;
    }
    this.conns.add(new ServerConn(socket, this));
    this.sweepTimer ??= this.clock.setTimer(this.sweepEvery, () => this.sweep());
  }

  /** Counts and logs a connection refused at the cap: a warning once per episode of refusals. */
  refuseConnection(remote: string): void {
    this.refusedConnections++;
    const max = this.deps.limits.maxInboundConnections;
    if (this.atCap)
      return this.logger.debug({ remote, max }, 'refused connection: too many inbound connections');
    this.atCap = true;
    this.logger.warn(
      { remote, max, note: 'further refusals are counted in stats() until the count falls below the limit' },
      'refused connection: too many inbound connections',
    );
  }

  stats(): InboundStats {
    return {
      inboundConnections: this.conns.size,
      bufferedBytes: this.budget.bufferedBytes,
      refusedConnections: this.refusedConnections,
      refusedRequests: this.refusedRequests,
      timedOutConnections: this.timedOut,
    };
  }

  closeAll(): void {
    this.sweepTimer?.cancel();
    this.sweepTimer = null;
    for (const conn of [...this.conns]) conn.close();
  }

  // ServerConnHost ------------------------------------------------------------------------------

  local(): Peer {
    return this.deps.local();
  }

  handler(): RpcHandler | null {
    return this.deps.handler();
  }

  vet(conn: ServerConn, request: RaftRequest): Error | null {
    return this.deps.vet(conn.socket, request);
  }

  refused(conn: ServerConn, error: Error): void {
    this.refusedRequests++;
    this.peerLog.refusal(conn.remote, refusalMessage(error), { reason: error.message, error: error.name });
  }

  onClosed(conn: ServerConn): void {
    this.conns.delete(conn);
    if (this.conns.size < this.deps.limits.maxInboundConnections) this.atCap = false;
  }

  private sweep(): void {
    this.sweepTimer = null;
    const now = this.clock.now();
    const { readTimeout, idleTimeout } = this.deps.limits;
    for (const conn of [...this.conns]) {
      const why = conn.expiry(now, readTimeout, idleTimeout);
      if (why === null) continue;
      this.timedOut++;
      if (why === 'idle') this.logger.debug({ remote: conn.remote }, 'closing idle connection');
      else this.peerLog.refusal(conn.remote, 'closing connection: no progress', { reason: why });
      conn.close();
    }
    if (this.conns.size > 0) this.sweepTimer = this.clock.setTimer(this.sweepEvery, () => this.sweep());
  }
}

/**
 * The log message for a refused request: a peer speaking for someone else, and a node out of
 * buffer space, each get their own once-per-peer warning, apart from malformed input.
 */
function refusalMessage(error: Error): string {
  if (error instanceof ErrPeerIdentity) return 'closing connection: sender not named by its certificate';
  if (error instanceof ErrBufferBudget) return 'closing connection: inbound buffer budget spent';
  return 'closing connection: bad request';
}
