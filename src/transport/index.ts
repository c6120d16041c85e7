/** Transports: the interface, the in-memory one, and NetworkTransport over TCP or mutual TLS. */
export { RpcTransport, type IncomingRpc, type RpcHandler, type Transport } from './types.js';
export { ErrUnreachable, InmemNetwork, InmemTransport, type InmemNetworkLike } from './inmem.js';
export {
  NetworkTransport,
  remoteError,
  type NetworkTransportOptions,
  type NetworkTransportStats,
} from './net.js';
export {
  CONNECTION_BUFFER_BYTES,
  DEFAULT_IDLE_TIMEOUT,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_INBOUND_CONNECTIONS,
  type InboundLimitOptions,
} from './limits.js';
export { ErrPeerIdentity, SERVER_ID_URI_PREFIX } from './identity.js';
export { ErrBufferBudget } from './budget.js';
export { AcceptBackoff, type AcceptBackoffLogger, type AcceptBackoffOptions } from './accept-backoff.js';
// The wire's bound errors reach users through the transport; the bounds themselves are documented there.
export { ErrOutOfRange, MAX_INDEX, MAX_TERM } from '../wire/bounds.js';
export type { TransportLogger } from './server-conn.js';
export type { DecodeLimits } from '../wire/decoder.js';
export {
  ErrNotAdvertisable,
  ErrOutOfDescriptors,
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
