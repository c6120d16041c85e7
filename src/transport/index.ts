/** Transports: the interface, the in-memory one, and NetworkTransport over TCP or mutual TLS. */
export type { IncomingRpc, RpcHandler, Transport } from './types.js';
export { ErrUnreachable, InmemNetwork, InmemTransport, type InmemNetworkLike } from './inmem.js';
export { NetworkTransport, remoteError, type NetworkTransportOptions } from './net.js';
export type { TransportLogger } from './server-conn.js';
export type { DecodeLimits } from '../wire/decoder.js';
export {
  ErrNotAdvertisable,
  ErrPeerClosed,
  ErrRpcTimeout,
  joinHostPort,
  splitHostPort,
  type HostPort,
  type StreamLayer,
  type StreamSocket,
} from './stream-layer.js';
export {
  TcpStreamLayer,
  newNetworkTransport,
  newTcpTransport,
  newTlsTransport,
  type TransportFactoryOptions,
} from './tcp.js';
export { TlsStreamLayer, type PemSource, type TlsFiles, type TlsStreamLayerOptions } from './tls.js';
