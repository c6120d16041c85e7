/**
 * Plain TCP stream layer and the hashicorp-style constructors: newTcpTransport (NewTCPTransport),
 * newTlsTransport (mutual TLS, see tls.ts) and newNetworkTransport (any StreamLayer).
 */
import { connect, createServer, type Socket } from 'node:net';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../platform/clock.js';
import type { InboundLimitOptions } from './limits.js';
import { NetworkTransport } from './net.js';
import type { TransportLogger } from './server-conn.js';
import { advertisedAddress, listenOn, SocketStreamLayer, type SocketLayerParts } from './socket-layer.js';
import type { StreamLayer } from './stream-layer.js';
import { TlsStreamLayer, type TlsFiles } from './tls.js';

/** The plain TCP StreamLayer (hashicorp's TCPStreamLayer); `newTcpTransport` puts a transport on it. */
export class TcpStreamLayer extends SocketStreamLayer {
  private constructor(parts: SocketLayerParts) {
    super(parts);
    parts.server.on('connection', (socket: Socket) => this.admit(socket));
  }

  /**
   * Listens on bindAddr ("host:port", port 0 for a free one) and advertises `advertise` or the
   * bound address. The logger hears when accepting pauses for lack of descriptors.
   */
  static async listen(
    bindAddr: string,
    advertise: string | null,
    clock: Clock,
    logger?: TransportLogger,
  ): Promise<TcpStreamLayer> {
    const server = createServer({ allowHalfOpen: true });
    const bound = await listenOn(server, bindAddr);
    try {
      return new TcpStreamLayer({
        server,
        bound,
        advertised: advertisedAddress(bound, advertise),
        clock,
        logger,
      });
    } catch (error) {
      server.close();
      throw error;
    }
  }

  protected connect(host: string, port: number): { socket: Socket; readyEvent: string } {
    return { socket: connect({ host, port }), readyEvent: 'connect' };
  }
}

/** Options of the constructors below (all optional); the inbound limits are described in limits.ts. */
export interface TransportFactoryOptions extends InboundLimitOptions {
  /** Defaults to the system clock. */
  clock?: Clock;
  /** Where connection trouble is reported (pino-compatible); silent by default. */
  logger?: TransportLogger;
  /** AppendEntries in flight per follower; default 2. */
  maxRpcsInFlight?: number;
  /** This server's ID for response headers. */
  localId?: string;
  /** TLS only: refuse peers whose certificate names no server ID (see identity.ts). Default false. */
  requirePeerIdentity?: boolean;
}

/** hashicorp's NewNetworkTransport: a transport over any stream layer. */
export function newNetworkTransport(
  stream: StreamLayer,
  maxPool: number,
  timeout: number,
  options: TransportFactoryOptions = {},
): NetworkTransport {
  return new NetworkTransport(stream, { ...options, maxPool, timeout, clock: options.clock ?? systemClock });
}

/**
 * hashicorp's NewTCPTransport. Resolves once listening. Binding port 0 picks a free port, which
 * localAddr() then reports. With advertise null the bound address is advertised, so it must not
 * be 0.0.0.0 or ::.
 */
export async function newTcpTransport(
  bindAddr: string,
  advertise: string | null,
  maxPool: number,
  timeout: number,
  options: TransportFactoryOptions = {},
): Promise<NetworkTransport> {
  const stream = await TcpStreamLayer.listen(
    bindAddr,
    advertise,
    options.clock ?? systemClock,
    options.logger,
  );
  return newNetworkTransport(stream, maxPool, timeout, options);
}

/** Like newTcpTransport, over mutual TLS (see tls.ts for what is verified). */
export async function newTlsTransport(
  bindAddr: string,
  advertise: string | null,
  maxPool: number,
  timeout: number,
  tls: TlsFiles,
  options: TransportFactoryOptions = {},
): Promise<NetworkTransport> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger;
  const stream = await TlsStreamLayer.listen(bindAddr, advertise, tls, {
    clock,
    logger,
    requirePeerIdentity: options.requirePeerIdentity,
    onHandshakeError: (error, remote) =>
      logger?.warn({ remote, err: error.message }, 'refused connection: tls handshake failed'),
  });
  return newNetworkTransport(stream, maxPool, timeout, options);
}
