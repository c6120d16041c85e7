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
import {
  readAppendEntriesRequest,
  readAppendEntriesResponse,
  readHeaderOnly,
  readInstallSnapshotRequest,
  readInstallSnapshotResponse,
  readReadIndexRequest,
  readReadIndexResponse,
  readRequestPreVoteRequest,
  readRequestPreVoteResponse,
  readRequestVoteRequest,
  readRequestVoteResponse,
} from './messages-read.js';
import {
  writeAppendEntriesRequest,
  writeAppendEntriesResponse,
  writeHeaderOnly,
  writeInstallSnapshotRequest,
  writeInstallSnapshotResponse,
  writeReadIndexRequest,
  writeReadIndexResponse,
  writeRequestPreVoteRequest,
  writeRequestPreVoteResponse,
  writeRequestVoteRequest,
  writeRequestVoteResponse,
  type WireAppendEntriesRequest,
  type WireAppendEntriesResponse,
  type WireInstallSnapshotRequest,
  type WireInstallSnapshotResponse,
  type WireReadIndexRequest,
  type WireReadIndexResponse,
  type WireRequestPreVoteRequest,
  type WireRequestPreVoteResponse,
  type WireRequestVoteRequest,
  type WireRequestVoteResponse,
  type WireTimeoutNowRequest,
  type WireTimeoutNowResponse,
} from './messages.js';

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
  0: WireAppendEntriesRequest;
  1: WireRequestVoteRequest;
  2: WireInstallSnapshotRequest;
  3: WireTimeoutNowRequest;
  4: WireRequestPreVoteRequest;
  100: WireReadIndexRequest;
}

export interface WireResponseMap {
  0: WireAppendEntriesResponse;
  1: WireRequestVoteResponse;
  2: WireInstallSnapshotResponse;
  3: WireTimeoutNowResponse;
  4: WireRequestPreVoteResponse;
  100: WireReadIndexResponse;
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
const requestWriters: { [T in RpcType]: (enc: Encoder, m: WireRequestMap[T]) => void } = {
  0: writeAppendEntriesRequest,
  1: writeRequestVoteRequest,
  2: writeInstallSnapshotRequest,
  3: writeHeaderOnly,
  4: writeRequestPreVoteRequest,
  100: writeReadIndexRequest,
};

const requestReaders: { [T in RpcType]: (d: Decoder) => WireRequestMap[T] } = {
  0: readAppendEntriesRequest,
  1: readRequestVoteRequest,
  2: readInstallSnapshotRequest,
  3: readHeaderOnly,
  4: readRequestPreVoteRequest,
  100: readReadIndexRequest,
};

const responseWriters: { [T in RpcType]: (enc: Encoder, m: WireResponseMap[T]) => void } = {
  0: writeAppendEntriesResponse,
  1: writeRequestVoteResponse,
  2: writeInstallSnapshotResponse,
  3: writeHeaderOnly,
  4: writeRequestPreVoteResponse,
  100: writeReadIndexResponse,
};

const responseReaders: { [T in RpcType]: (d: Decoder) => WireResponseMap[T] } = {
  0: readAppendEntriesResponse,
  1: readRequestVoteResponse,
  2: readInstallSnapshotResponse,
  3: readHeaderOnly,
  4: readRequestPreVoteResponse,
  100: readReadIndexResponse,
};

export function isRpcType(b: number): b is RpcType {
  return (b >= 0 && b <= 4) || b === 100;
}

/** Appends a request frame (type byte + map) to `enc`. */
export function writeRequestFrame(enc: Encoder, req: WireRequest): void {
  enc.writeByte(req.type);
  (requestWriters[req.type] as (enc: Encoder, m: WireRequest['body']) => void)(enc, req.body);
}

/** Appends a response frame (error text + map or nil) to `enc`. */
export function writeResponseFrame<T extends RpcType>(enc: Encoder, type: T, res: WireResponse<T>): void {
  enc.writeString(res.error);
  if (res.body === null) enc.writeNil();
  else responseWriters[type](enc, res.body);
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
  const body = requestReaders[type](d);
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
  const body = d.tryNil() ? null : responseReaders[type](d);
  return { value: { error, body }, bytesUsed: stop - offset };
}
