/**
 * Mirrors of hashicorp/raft's RPC structs in their latest shape, field for field, with Go's
 * names. A Go []byte is `Uint8Array | null` (null = nil slice: c0 on the wire, an empty array =
 * a0); Go strings are strings; Log is the core LogEntry (see log.ts).
 *
 * Each struct has a schema (schema.ts) with the RPCHeader's ProtocolVersion, ID and Addr
 * flattened into the map, exactly as Go does; older shapes (raft 1.1.2 sends no ID/Addr) decode
 * with the missing fields at zero. Readers are in messages-read.ts.
 *
 * Byte slices from a decoder alias its input buffer unless the Decoder was made with copyBytes.
 */
import type { LogEntry } from '../core/types.js';
import { defineStruct, structWriter } from './schema.js';

export interface WireHeader {
  ProtocolVersion: number;
  /** Sender's ServerID (since 1.3.7). */
  ID: Uint8Array | null;
  /** Sender's address as EncodePeer gives it (since 1.3.7). */
  Addr: Uint8Array | null;
}

export interface WireAppendEntriesRequest extends WireHeader {
  Entries: LogEntry[] | null;
  Leader: Uint8Array | null;
  LeaderCommitIndex: number;
  PrevLogEntry: number;
  PrevLogTerm: number;
  Term: number;
}

export interface WireAppendEntriesResponse extends WireHeader {
  LastLog: number;
  NoRetryBackoff: boolean;
  Success: boolean;
  Term: number;
}

export interface WireRequestVoteRequest extends WireHeader {
  Candidate: Uint8Array | null;
  LastLogIndex: number;
  LastLogTerm: number;
  LeadershipTransfer: boolean;
  Term: number;
}

export interface WireRequestVoteResponse extends WireHeader {
  Granted: boolean;
  Peers: Uint8Array | null;
  Term: number;
}

export interface WireRequestPreVoteRequest extends WireHeader {
  LastLogIndex: number;
  LastLogTerm: number;
  Term: number;
}

export interface WireRequestPreVoteResponse extends WireHeader {
  Granted: boolean;
  Term: number;
}

export interface WireInstallSnapshotRequest extends WireHeader {
  Configuration: Uint8Array | null;
  ConfigurationIndex: number;
  LastLogIndex: number;
  LastLogTerm: number;
  Leader: Uint8Array | null;
  Peers: Uint8Array | null;
  Size: number;
  SnapshotVersion: number;
  Term: number;
}

export interface WireInstallSnapshotResponse extends WireHeader {
  Success: boolean;
  Term: number;
}

export type WireTimeoutNowRequest = WireHeader;
export type WireTimeoutNowResponse = WireHeader;

/** raftkit extension (RPC type 100): no Go counterpart. */
export interface WireReadIndexRequest extends WireHeader {
  Term: number;
}

/** raftkit extension (RPC type 100): no Go counterpart. */
export interface WireReadIndexResponse extends WireHeader {
  ReadIndex: number;
  Success: boolean;
  Term: number;
}

// ---------------------------------------------------------------------------------------------
// Schemas, one per Go struct (@internal: frames.ts and messages-read.ts use them), and writers.

const HEADER_FIELDS = { Addr: 'nullableBytes', ID: 'nullableBytes', ProtocolVersion: 'int' } as const;

/** @internal */
export const AE_REQ = defineStruct<WireAppendEntriesRequest>({
  ...HEADER_FIELDS,
  Entries: 'logs',
  Leader: 'nullableBytes',
  LeaderCommitIndex: 'uint',
  PrevLogEntry: 'uint',
  PrevLogTerm: 'uint',
  Term: 'uint',
});

/** @internal */
export const AE_RESP = defineStruct<WireAppendEntriesResponse>({
  ...HEADER_FIELDS,
  LastLog: 'uint',
  NoRetryBackoff: 'bool',
  Success: 'bool',
  Term: 'uint',
});

/** @internal */
export const RV_REQ = defineStruct<WireRequestVoteRequest>({
  ...HEADER_FIELDS,
  Candidate: 'nullableBytes',
  LastLogIndex: 'uint',
  LastLogTerm: 'uint',
  LeadershipTransfer: 'bool',
  Term: 'uint',
});

/** @internal */
export const RV_RESP = defineStruct<WireRequestVoteResponse>({
  ...HEADER_FIELDS,
  Granted: 'bool',
  Peers: 'nullableBytes',
  Term: 'uint',
});

/** @internal */
export const PV_REQ = defineStruct<WireRequestPreVoteRequest>({
  ...HEADER_FIELDS,
  LastLogIndex: 'uint',
  LastLogTerm: 'uint',
  Term: 'uint',
});

/** @internal */
export const PV_RESP = defineStruct<WireRequestPreVoteResponse>({
  ...HEADER_FIELDS,
  Granted: 'bool',
  Term: 'uint',
});

/** @internal */
export const IS_REQ = defineStruct<WireInstallSnapshotRequest>({
  ...HEADER_FIELDS,
  Configuration: 'nullableBytes',
  ConfigurationIndex: 'uint',
  LastLogIndex: 'uint',
  LastLogTerm: 'uint',
  Leader: 'nullableBytes',
  Peers: 'nullableBytes',
  Size: 'int',
  SnapshotVersion: 'int',
  Term: 'uint',
});

/** @internal */
export const IS_RESP = defineStruct<WireInstallSnapshotResponse>({
  ...HEADER_FIELDS,
  Success: 'bool',
  Term: 'uint',
});

/** @internal TimeoutNow request and response: the header alone. */
export const HEADER = defineStruct<WireHeader>(HEADER_FIELDS);

/** @internal */
export const RI_REQ = defineStruct<WireReadIndexRequest>({ ...HEADER_FIELDS, Term: 'uint' });

/** @internal */
export const RI_RESP = defineStruct<WireReadIndexResponse>({
  ...HEADER_FIELDS,
  ReadIndex: 'uint',
  Success: 'bool',
  Term: 'uint',
});

export const writeAppendEntriesRequest = structWriter(AE_REQ);
export const writeAppendEntriesResponse = structWriter(AE_RESP);
export const writeRequestVoteRequest = structWriter(RV_REQ);
export const writeRequestVoteResponse = structWriter(RV_RESP);
export const writeRequestPreVoteRequest = structWriter(PV_REQ);
export const writeRequestPreVoteResponse = structWriter(PV_RESP);
export const writeInstallSnapshotRequest = structWriter(IS_REQ);
export const writeInstallSnapshotResponse = structWriter(IS_RESP);
/** TimeoutNow request and response: the header alone. */
export const writeHeaderOnly = structWriter(HEADER);
export const writeReadIndexRequest = structWriter(RI_REQ);
export const writeReadIndexResponse = structWriter(RI_RESP);
