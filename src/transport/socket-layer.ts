/**
 * What the TCP and TLS stream layers share: a listening node:net (or node:tls) server whose
 * connections are held until the transport registers for them, dialling with a deadline on the
 * injected Clock, and the advertised address (hashicorp's NewTCPTransport rules: an unspecified
 * bind address needs an explicit advertise address).
 *
 * Out of file descriptors: the listener pauses accepting and listens again (accept-backoff.ts).
 */
import type { Server, Socket } from 'node:net';
import { isIP } from 'node:net';
import type { Clock } from '../core/clock.js';
import { AcceptBackoff } from './accept-backoff.js';
import type { TransportLogger } from './server-conn.js';
import {
  ErrNotAdvertisable,
  ErrRpcTimeout,
  joinHostPort,
  splitHostPort,
  type StreamLayer,
  type StreamSocket,
} from './stream-layer.js';

const noop = (): void => {};

/** What a socket layer is built from: its listening server, where it is bound, and its surroundings. */
export interface SocketLayerParts {
  server: Server;
  bound: { host: string; port: number };
  advertised: string;
  clock: Clock;
  logger?: TransportLogger;
}

export abstract class SocketStreamLayer implements StreamLayer {
  protected readonly server: Server;
  protected readonly clock: Clock;
  private readonly bound: { host: string; port: number };
  private readonly advertised: string;
  private readonly logger: TransportLogger | undefined;
  private onConnection: ((socket: StreamSocket) => void) | null = null;
  private readonly held: Socket[] = [];
  private readonly sockets = new Set<Socket>();
  private closing: Promise<void> | null = null;
  private readonly acceptBackoff: AcceptBackoff;

  protected constructor(parts: SocketLayerParts) {
    ({ server: this.server, bound: this.bound, advertised: this.advertised, clock: this.clock } = parts);
    this.logger = parts.logger;
    // Every raw connection, including TLS ones still in their handshake, so close() ends them all.
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.acceptBackoff = new AcceptBackoff(this.server, {
      bound: this.bound,
      clock: this.clock,
      logger: this.logger,
      name: this.advertised,
    });
  }

  limitConnections(max: number, onRefused: (remote: string) => void): void {
    this.server.maxConnections = max;
    this.server.on('drop', (data) => onRefused(data ? `${data.remoteAddress}:${data.remotePort}` : '?'));
  }

  /** Subclasses call this for each connection that is ready for RPCs. */
  protected admit(socket: Socket): void {
    // Until the transport attaches its own listener an error must not crash the process.
    socket.on('error', noop);
    socket.setNoDelay(true);
    if (this.closing) return void socket.destroy();
    if (this.onConnection) this.onConnection(socket);
    else this.held.push(socket);
  }

  accept(onConnection: (socket: StreamSocket) => void): void {
    this.onConnection = onConnection;
    for (const socket of this.held.splice(0)) if (!socket.destroyed) onConnection(socket);
  }

  addr(): string {
    return this.advertised;
  }

  /** Opens the connection; resolves once it is ready for RPCs. */
  protected abstract connect(host: string, port: number): { socket: Socket; readyEvent: string };

  dial(address: string, timeoutMs: number): Promise<StreamSocket> {
    let target: { host: string; port: number };
    try {
      target = splitHostPort(address);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return new Promise<StreamSocket>((resolve, reject) => {
      const { socket, readyEvent } = this.connect(target.host, target.port);
      const timer = this.clock.setTimer(timeoutMs, () => {
        socket.destroy();
        reject(new ErrRpcTimeout(`dial ${address} timed out after ${timeoutMs} ms`));
      });
      const onError = (error: Error): void => {
        timer.cancel();
        reject(error);
      };
      socket.once('error', onError);
      socket.once(readyEvent, () => {
        timer.cancel();
        socket.removeListener('error', onError);
        socket.on('error', noop);
        socket.setNoDelay(true);
        resolve(socket);
      });
    });
  }

  close(): Promise<void> {
    this.acceptBackoff.stop();
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
      for (const socket of this.held.splice(0)) socket.destroy();
    });
    return this.closing;
  }
}

/** Starts `server` listening on bindAddr ("host:port"; port 0 picks a free one). */
export async function listenOn(server: Server, bindAddr: string): Promise<{ host: string; port: number }> {
  const { host, port } = splitHostPort(bindAddr);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: host === '' ? undefined : host, port }, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  if (bound === null || typeof bound === 'string') throw new ErrNotAdvertisable('not a TCP listener');
  return { host: bound.address, port: bound.port };
}

/**
 * The address peers should dial: `advertise` when given, else the bound address, which must then
 * be a specific IP (hashicorp refuses to advertise 0.0.0.0 or ::).
 */
export function advertisedAddress(bound: { host: string; port: number }, advertise: string | null): string {
  if (advertise !== null && advertise !== '') {
    const { host, port } = splitHostPort(advertise);
    if (host === '' || port === 0 || isUnspecified(host)) throw new ErrNotAdvertisable(advertise);
    return joinHostPort(host, port);
  }
  if (isUnspecified(bound.host)) throw new ErrNotAdvertisable(joinHostPort(bound.host, bound.port));
  return joinHostPort(bound.host, bound.port);
}

function isUnspecified(host: string): boolean {
  return isIP(host) !== 0 && (host === '0.0.0.0' || /^[0:]+$/.test(host));
}
