/**
 * NetworkTransport framing. A request is one RPC type byte followed by one msgpack map; a
 * response is a msgpack str with the error text ("" for none) followed by the response map, or
 * nil when the RPC was refused before a response existed. There is no length prefix: the
 * decoders below find where a frame ends (and so where InstallSnapshot's raw bytes, or the next
 * frame, begin) and say "need more" (null) for a partial frame.
 *
 * RPC type 100, ReadIndex, is a raftkit extension: hashicorp peers close the connection on it.
 */
import { ErrDecode, ErrUnsupportedProtocol } from '../core/errors.js';
import { NEED_MORE, type Decoded, type Decoder } from './decoder.js';
import type { Encoder } from './encoder.js';
import * as messages from './messages.js';
import { readStruct, writeStruct, type StructSchema } from './schema.js';

/** The RPC type byte. */
export const RpcType = {
  AppendEntries: 0,
  RequestVote: 1,
  InstallSnapshot: 2,
  TimeoutNow: 3,
  /** hashicorp 1.7.0+ only. */
  RequestPreVote: 4,
  /** raftkit extension. */
  ReadIndex: 100,
} as const;
export type RpcType = (typeof RpcType)[keyof typeof RpcType];

export interface WireRequestMap {
  0: messages.WireAppendEntriesRequest;
  1: messages.WireRequestVoteRequest;
  2: messages.WireInstallSnapshotRequest;
  3: messages.WireTimeoutNowRequest;
  4: messages.WireRequestPreVoteRequest;
  100: messages.WireReadIndexRequest;
}

export interface WireResponseMap {
  0: messages.WireAppendEntriesResponse;
  1: messages.WireRequestVoteResponse;
  2: messages.WireInstallSnapshotResponse;
  3: messages.WireTimeoutNowResponse;
  4: messages.WireRequestPreVoteResponse;
  100: messages.WireReadIndexResponse;
}

export type WireRequest = { [T in RpcType]: { type: T; body: WireRequestMap[T] } }[RpcType];

export interface WireResponse<T extends RpcType = RpcType> {
  /** The remote error text; '' when there is none. */
  error: string;
  /** null when the peer sent nil (the RPC was refused before a response existed). */
  body: WireResponseMap[T] | null;
}

/** The protocol version raftkit sends (hashicorp's ProtocolVersionMax). */
export const PROTOCOL_VERSION = 3;

/**
 * hashicorp's receiver-side header check for a local protocol version 3: versions outside 0..3
 * or below 2 are refused with ErrUnsupportedProtocol (its text goes back as the error string).
 */
export function checkProtocolVersion(version: number): InstanceType<typeof ErrUnsupportedProtocol> | null {
  return version === 2 || version === 3 ? null : new ErrUnsupportedProtocol();
}

// Indexed by type byte; sparse for ReadIndex.
const requestSchemas: { [T in RpcType]: StructSchema<WireRequestMap[T]> } = {
  0: messages.AE_REQ,
  1: messages.RV_REQ,
  2: messages.IS_REQ,
  3: messages.HEADER,
  4: messages.PV_REQ,
  100: messages.RI_REQ,
};

const responseSchemas: { [T in RpcType]: StructSchema<WireResponseMap[T]> } = {
  0: messages.AE_RESP,
  1: messages.RV_RESP,
  2: messages.IS_RESP,
  3: messages.HEADER,
  4: messages.PV_RESP,
  100: messages.RI_RESP,
};

export function isRpcType(b: number): b is RpcType {
  return (b >= 0 && b <= 4) || b === 100;
}

/** Appends a request frame (type byte + map) to `enc`. */
export function writeRequestFrame(enc: Encoder, req: WireRequest): void {
  enc.writeByte(req.type);
  writeStruct(enc, requestSchemas[req.type] as StructSchema<WireRequest['body']>, req.body);
}

/** Appends a response frame (error text + map or nil) to `enc`. */
export function writeResponseFrame<T extends RpcType>(enc: Encoder, type: T, res: WireResponse<T>): void {
  enc.writeString(res.error);
  if (res.body === null) enc.writeNil();
  else writeStruct(enc, responseSchemas[type], res.body);
}

/**
 * Decodes the request frame at buf[offset..]: null if more bytes are needed, else the request
 * and the frame's length (InstallSnapshot's raw data starts right after it). An unknown type
 * byte throws ErrDecode; Go closes the connection in that case, and so should the caller.
 */
export function decodeRequestFrame(d: Decoder, buf: Uint8Array, offset: number): Decoded<WireRequest> | null {
  if (offset >= buf.length) return null;
  const type = buf[offset];
  if (!isRpcType(type)) throw new ErrDecode(`unknown rpc type ${type}`);
  const stop = d.scanValue(buf, offset + 1, buf.length);
  if (stop === NEED_MORE) return null;
  d.reset(buf, offset + 1, stop);
  const body = readStruct(d, requestSchemas[type]);
  return { value: { type, body } as WireRequest, bytesUsed: stop - offset };
}

/** Decodes the response frame at buf[offset..] for an RPC of `type`: null if more bytes are needed. */
export function decodeResponseFrame<T extends RpcType>(
  d: Decoder,
  buf: Uint8Array,
  offset: number,
  type: T,
): Decoded<WireResponse<T>> | null {
  const errorEnd = d.scanValue(buf, offset, buf.length);
  if (errorEnd === NEED_MORE) return null;
  const stop = d.scanValue(buf, errorEnd, buf.length);
  if (stop === NEED_MORE) return null;
  d.reset(buf, offset, stop);
  const error = d.readString();
  const body = d.tryNil() ? null : readStruct(d, responseSchemas[type]);
  return { value: { error, body }, bytesUsed: stop - offset };
}
