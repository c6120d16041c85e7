/**
 * The transport-facing codec: core RPC types in, frame bytes out, and back. A transport keeps
 * one Encoder and one Decoder per connection (neither is safe to share across interleaved
 * frames), and feeds the decoder its accumulated receive buffer.
 *
 * Aliasing: the `data` and `extensions` of decoded log entries are views into `buf`. A transport
 * that overwrites or reuses its receive buffer must make its Decoder with copyBytes = true.
 * `Encoder.view()` aliases the encoder's buffer too: hand sockets `finish()` (a copy).
 */
import type { Peer, RaftRequest, ResponseMap } from '../core/types.js';
import {
  RPC_TYPE_OF_KIND,
  requestFromWire,
  requestToWire,
  responseFromWire,
  responseToWire,
} from './convert.js';
import {
  decodeRequestFrame,
  decodeResponseFrame,
  writeRequestFrame,
  writeResponseFrame,
  type RpcType,
  type WireResponse,
  type WireResponseMap,
} from './frames.js';
import type { Decoder, Encoder } from './msgpack.js';

/** A request read off the wire. */
export interface IncomingRequest {
  request: RaftRequest;
  /** The sender's header ProtocolVersion, for checkProtocolVersion. */
  protocolVersion: number;
  /** Length of the frame; InstallSnapshot's `size` raw bytes follow at offset + bytesUsed. */
  bytesUsed: number;
}

/** A response read off the wire. `response` is null when the peer sent nil. */
export interface IncomingResponse<K extends keyof ResponseMap> {
  error: string;
  response: ResponseMap[K] | null;
  bytesUsed: number;
}

/** Appends the request frame for `request` to `enc`. */
export function encodeRequest(enc: Encoder, request: RaftRequest): void {
  writeRequestFrame(enc, requestToWire(request));
}

/**
 * Appends a response frame. `response` null sends nil (an RPC refused before it ran, such as an
 * unsupported protocol version); `error` is the error text, '' for none.
 */
export function encodeResponse<K extends keyof ResponseMap>(
  enc: Encoder,
  kind: K,
  response: ResponseMap[K] | null,
  error: string,
  local: Peer,
): void {
  const type = RPC_TYPE_OF_KIND[kind];
  const body = response === null ? null : responseToWire(kind, response, local);
  writeResponseFrame(enc, type as RpcType, { error, body } as WireResponse);
}

/** Reads the request frame at buf[offset..]; null when more bytes are needed. */
export function decodeRequest(d: Decoder, buf: Uint8Array, offset: number): IncomingRequest | null {
  const frame = decodeRequestFrame(d, buf, offset);
  if (frame === null) return null;
  return {
    request: requestFromWire(frame.value),
    protocolVersion: frame.value.body.ProtocolVersion,
    bytesUsed: frame.bytesUsed,
  };
}

/** Reads the response frame for a request of `kind` at buf[offset..]; null when more bytes are needed. */
export function decodeResponse<K extends keyof ResponseMap>(
  d: Decoder,
  buf: Uint8Array,
  offset: number,
  kind: K,
): IncomingResponse<K> | null {
  const frame = decodeResponseFrame(d, buf, offset, RPC_TYPE_OF_KIND[kind]);
  if (frame === null) return null;
  const { error, body } = frame.value;
  return {
    error,
    response:
      body === null ? null : responseFromWire(kind, body as WireResponseMap[(typeof RPC_TYPE_OF_KIND)[K]]),
    bytesUsed: frame.bytesUsed,
  };
}
