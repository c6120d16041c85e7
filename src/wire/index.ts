/**
 * The msgpack wire codec of hashicorp/raft's NetworkTransport (see each module for details).
 * RPC type 100 (ReadIndex) is a raftkit extension that Go peers do not understand.
 */
export {
  DEFAULT_DECODE_LIMITS,
  Decoder,
  Encoder,
  NEED_MORE,
  decodeComplete,
  decodeOne,
  type DecodeLimits,
  type Decoded,
} from './msgpack.js';
export {
  decodeConfiguration,
  decodePeers,
  encodeConfiguration,
  encodePeers,
  readConfiguration,
  writeConfiguration,
} from './configuration.js';
export { LOG_WIRE_OVERHEAD, logWireBound, readLog, writeLog } from './log.js';
export { readGoTime, writeGoTime } from './time.js';
export {
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
  type WireHeader,
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
export * from './messages-read.js';
export {
  PROTOCOL_VERSION,
  RpcType,
  checkProtocolVersion,
  decodeRequestFrame,
  decodeResponseFrame,
  isRpcType,
  writeRequestFrame,
  writeResponseFrame,
  type WireRequest,
  type WireRequestMap,
  type WireResponse,
  type WireResponseMap,
} from './frames.js';
export * from './convert.js';
export {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  type IncomingRequest,
  type IncomingResponse,
} from './codec.js';
