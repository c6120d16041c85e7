/**
 * Mutual TLS stream layer. The listener demands a client certificate and verifies it against the
 * configured CA (requestCert + rejectUnauthorized); the dialler verifies the server against the
 * same CA and checks that the certificate's subjectAltName matches the dialled host: an IP SAN for
 * "10.0.0.1:7000", a DNS SAN for "node1.example:7000" (Node's tls.checkServerIdentity). So each
 * node's certificate must name the address peers dial, the advertised one.
 * A connection that fails the handshake (plaintext, no certificate, a certificate from another CA)
 * never reaches the transport.
 *
 * With TLS 1.3 a client learns that the server refused its certificate only after its own
 * handshake has completed: Node's server just closes the connection, so the client sees EOF. A
 * RequestPreVote answered that way reads as "peer does not support this rpc" (counted as granted),
 * which is harmless: a node whose certificate is refused cannot get a real vote or disturb anyone.
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { connect as tlsConnect, createServer, type TLSSocket } from 'node:tls';
import type { Clock } from '../core/clock.js';
import type { Peer, RaftRequest } from '../core/types.js';
import {
  certificateIdentity,
  ErrPeerIdentity,
  identityMismatch,
  senderOf,
  type PeerIdentity,
} from './identity.js';
import type { TransportLogger } from './server-conn.js';
import { advertisedAddress, listenOn, SocketStreamLayer, type SocketLayerParts } from './socket-layer.js';
import type { StreamSocket } from './stream-layer.js';

/**
 * PEM text or bytes. A string without a "-----BEGIN" line is taken as the path of a PEM file
 * (what the `--tls-*` command-line flags give).
 */
export type PemSource = string | Uint8Array;

/** A node's TLS identity and the CA its peers' certificates must chain to. */
export interface TlsFiles {
  /** This node's certificate; its SAN must name the address peers dial (the advertised one). */
  cert: PemSource;
  /** The certificate's private key. */
  key: PemSource;
  /** The CA that signed every member's certificate. */
  ca: PemSource;
}

/** Options of `TlsStreamLayer.listen`. */
export interface TlsStreamLayerOptions {
  /** Runs dial deadlines. */
  clock: Clock;
  /**
   * Refuse peers whose certificate names no server ID (`raftkit://server/<id>` URI SAN). Without
   * it, identities are checked for every certificate that carries them. Default false.
   */
  requirePeerIdentity?: boolean;
  /** Hears when accepting pauses for lack of descriptors. */
  logger?: TransportLogger;
  /** Handshakes that fail (wrong CA, no certificate, plaintext) are reported here. */
  onHandshakeError?: (error: Error, remote: string) => void;
  /** Longest a server-side handshake may take, in ms (node:tls's handshakeTimeout). Default 10 s. */
  handshakeTimeout?: number;
}

function pem(source: PemSource): string | Buffer {
  if (typeof source !== 'string') return Buffer.from(source);
  return source.includes('-----BEGIN') ? source : readFileSync(source);
}

/**
 * A mutual-TLS StreamLayer: both sides present a certificate from the same CA and the dialler checks
 * the server's SAN against the dialled host. `newTlsTransport` puts a transport on it.
 */
export class TlsStreamLayer extends SocketStreamLayer {
  private readonly identities = new WeakMap<object, PeerIdentity | null>();

  private constructor(
    parts: SocketLayerParts,
    private readonly secure: { cert: string | Buffer; key: string | Buffer; ca: string | Buffer },
    private readonly requireIdentity: boolean,
  ) {
    super(parts);
    parts.server.on('secureConnection', (socket: TLSSocket) => this.admit(socket));
  }

  /** Refuses a request whose sender the peer's certificate does not name (see identity.ts). */
  vet(socket: StreamSocket, request: RaftRequest): Error | null {
    return this.mismatch(socket, senderOf(request), 'sent by');
  }

  /** Dials as the base layer does, then refuses a server whose certificate does not name `serverId`. */
  override async dial(address: string, timeoutMs: number, serverId = ''): Promise<StreamSocket> {
    const socket = await super.dial(address, timeoutMs);
    const refused = this.mismatch(socket, { id: serverId, address }, 'dialled as');
    if (refused) {
      socket.destroy();
      throw refused;
    }
    return socket;
  }

  private mismatch(socket: StreamSocket, peer: Peer, role: string): ErrPeerIdentity | null {
    let identity = this.identities.get(socket);
    if (identity === undefined) {
      const cert = (socket as TLSSocket).getPeerX509Certificate?.();
      const found = cert ? certificateIdentity(cert) : null;
      identity = found && found.ids.size > 0 ? found : null;
      this.identities.set(socket, identity);
    }
    const who = `${role} ${JSON.stringify(peer.id || peer.address)}`;
    if (identity === null)
      return this.requireIdentity
        ? new ErrPeerIdentity(`${who}: the certificate names no raftkit server ID`)
        : null;
    const why = identityMismatch(identity, peer);
    return why === null ? null : new ErrPeerIdentity(`${who}: ${why}`);
  }

  /** Listens on bindAddr ("host:port", port 0 for a free one) and advertises `advertise` or the bound address. */
  static async listen(
    bindAddr: string,
    advertise: string | null,
    files: TlsFiles,
    options: TlsStreamLayerOptions,
  ): Promise<TlsStreamLayer> {
    const secure = { cert: pem(files.cert), key: pem(files.key), ca: pem(files.ca) };
    const server = createServer({
      ...secure,
      requestCert: true,
      rejectUnauthorized: true,
      handshakeTimeout: options.handshakeTimeout ?? 10_000,
    });
    server.on('tlsClientError', (error: Error, socket: TLSSocket) => {
      options.onHandshakeError?.(error, `${socket.remoteAddress}:${socket.remotePort}`);
    });
    const bound = await listenOn(server, bindAddr);
    try {
      const advertised = advertisedAddress(bound, advertise);
      return new TlsStreamLayer(
        { server, bound, advertised, clock: options.clock, logger: options.logger },
        secure,
        options.requirePeerIdentity ?? false,
      );
    } catch (error) {
      server.close();
      throw error;
    }
  }

  protected connect(host: string, port: number): { socket: Socket; readyEvent: string } {
    const socket = tlsConnect({ host, port, ...this.secure, rejectUnauthorized: true });
    return { socket, readyEvent: 'secureConnect' };
  }
}
