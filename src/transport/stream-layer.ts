/**
 * hashicorp's StreamLayer: where NetworkTransport gets its byte streams. A layer listens and hands
 * each accepted connection to the transport, and dials peers. TCP and TLS layers live in tcp.ts
 * and tls.ts; tests plug in their own.
 */
import type { Duplex } from 'node:stream';
import { RaftError } from '../core/errors.js';
import type { RaftRequest } from '../core/types.js';

/** A connected byte stream; net.Socket and tls.TLSSocket fit. */
export type StreamSocket = Duplex & {
  /** The peer's IP address, when known (for logs). */
  remoteAddress?: string;
  /** The peer's port, when known (for logs). */
  remotePort?: number;
};

/** hashicorp's StreamLayer: listens for and dials the byte streams NetworkTransport speaks over. */
export interface StreamLayer {
  /**
   * Registers the receiver of accepted connections (called once, by the transport). Connections
   * accepted before that are held and handed over then.
   */
  accept(onConnection: (socket: StreamSocket) => void): void;
  /**
   * Connects to `address` ("host:port"); rejects if that takes longer than timeoutMs. A layer that
   * authenticates servers (TLS) checks that the peer is `serverId`.
   */
  dial(address: string, timeoutMs: number, serverId?: string): Promise<StreamSocket>;
  /** Stops listening and destroys the connections it accepted. */
  close(): Promise<void>;
  /** The address peers should dial (the advertised one). */
  addr(): string;
  /**
   * Optional: refuse accepted connections while `max` are open, at the lowest level the layer has
   * (before a TLS handshake), reporting each refused one. The transport checks the cap anyway.
   */
  limitConnections?(max: number, onRefused: (remote: string) => void): void;
  /**
   * Optional: an Error if the peer on this accepted socket may not send `request` (a TLS layer
   * checks the sender against the certificate); the transport then refuses it and closes.
   */
  vet?(socket: StreamSocket, request: RaftRequest): Error | null;
}

/** hashicorp's errNotAdvertisable: binding 0.0.0.0 or :: needs an explicit advertise address. */
export class ErrNotAdvertisable extends RaftError {
  /** `'ErrNotAdvertisable'`. */
  override name = 'ErrNotAdvertisable';
  constructor(detail?: string) {
    super(`local bind address is not advertisable${detail ? `: ${detail}` : ''}`);
  }
}

/** A connection attempt or an RPC ran past its deadline. */
export class ErrRpcTimeout extends RaftError {
  /** `'ErrRpcTimeout'`. */
  override name = 'ErrRpcTimeout';
}

// A dial that found no descriptor: the same error as the stores'.
export { ErrOutOfDescriptors } from '../core/errors.js';

/** The peer closed the connection (EOF or reset) before the reply was complete. */
export class ErrPeerClosed extends RaftError {
  /** `'ErrPeerClosed'`. */
  override name = 'ErrPeerClosed';
}

/** An address split into its parts. */
export interface HostPort {
  /** A hostname or IP address (IPv6 without brackets). */
  host: string;
  /** 0..65535. */
  port: number;
}

/** Splits "host:port" or "[v6]:port"; throws on anything else. */
export function splitHostPort(address: string): HostPort {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(address);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new RaftError(`invalid address ${JSON.stringify(address)}`);
  return { host: match[1] ?? match[2], port };
}

/** "host:port", bracketing IPv6 hosts. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
