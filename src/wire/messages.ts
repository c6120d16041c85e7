/**
 * Mirrors of hashicorp/raft's RPC structs in their latest shape, field for field, with Go's
 * names. A Go []byte is `Uint8Array | null` (null = nil slice: c0 on the wire, an empty array =
 * a0); Go strings are strings; Log is the core LogEntry (see log.ts).
 *
 * Encoding writes every field, keys sorted by byte value, the RPCHeader's ProtocolVersion, ID
 * and Addr flattened into the map, exactly as Go does. Decoding skips unknown keys and leaves
 * missing ones at their zero value, so the older shapes (raft 1.1.2 sends no ID/Addr) read fine.
 *
 * Byte slices from a decoder alias its input buffer unless the Decoder was made with copyBytes.
 */
import type { LogEntry } from '../core/types.js';
import { structKeys } from './keys.js';
import { writeLog } from './log.js';
import type { Encoder } from './encoder.js';

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
// Encoders. Each writes the keys in the order of its key table.

/** @internal */
export const AE_REQ = structKeys(
  'Addr',
  'Entries',
  'ID',
  'Leader',
  'LeaderCommitIndex',
  'PrevLogEntry',
  'PrevLogTerm',
  'ProtocolVersion',
  'Term',
);

export function writeAppendEntriesRequest(enc: Encoder, m: WireAppendEntriesRequest): void {
  enc.writeMapHeader(9);
  enc.writeVerbatim(AE_REQ[0]);
  enc.writeNullableBytes(m.Addr);
  enc.writeVerbatim(AE_REQ[1]);
  const entries = m.Entries;
  if (entries === null) {
    enc.writeNil();
  } else {
    enc.writeArrayHeader(entries.length);
    for (let i = 0; i < entries.length; i++) writeLog(enc, entries[i]);
  }
  enc.writeVerbatim(AE_REQ[2]);
  enc.writeNullableBytes(m.ID);
  enc.writeVerbatim(AE_REQ[3]);
  enc.writeNullableBytes(m.Leader);
  enc.writeVerbatim(AE_REQ[4]);
  enc.writeUint(m.LeaderCommitIndex);
  enc.writeVerbatim(AE_REQ[5]);
  enc.writeUint(m.PrevLogEntry);
  enc.writeVerbatim(AE_REQ[6]);
  enc.writeUint(m.PrevLogTerm);
  enc.writeVerbatim(AE_REQ[7]);
  enc.writeInt(m.ProtocolVersion);
  enc.writeVerbatim(AE_REQ[8]);
  enc.writeUint(m.Term);
}

/** @internal */
export const AE_RESP = structKeys(
  'Addr',
  'ID',
  'LastLog',
  'NoRetryBackoff',
  'ProtocolVersion',
  'Success',
  'Term',
);

export function writeAppendEntriesResponse(enc: Encoder, m: WireAppendEntriesResponse): void {
  enc.writeMapHeader(7);
  enc.writeVerbatim(AE_RESP[0]);
  enc.writeNullableBytes(m.Addr);
  enc.writeVerbatim(AE_RESP[1]);
  enc.writeNullableBytes(m.ID);
  enc.writeVerbatim(AE_RESP[2]);
  enc.writeUint(m.LastLog);
  enc.writeVerbatim(AE_RESP[3]);
  enc.writeBool(m.NoRetryBackoff);
  enc.writeVerbatim(AE_RESP[4]);
  enc.writeInt(m.ProtocolVersion);
  enc.writeVerbatim(AE_RESP[5]);
  enc.writeBool(m.Success);
  enc.writeVerbatim(AE_RESP[6]);
  enc.writeUint(m.Term);
}

/** @internal */
export const RV_REQ = structKeys(
  'Addr',
  'Candidate',
  'ID',
  'LastLogIndex',
  'LastLogTerm',
  'LeadershipTransfer',
  'ProtocolVersion',
  'Term',
);

export function writeRequestVoteRequest(enc: Encoder, m: WireRequestVoteRequest): void {
  enc.writeMapHeader(8);
  enc.writeVerbatim(RV_REQ[0]);
  enc.writeNullableBytes(m.Addr);
  enc.writeVerbatim(RV_REQ[1]);
  enc.writeNullableBytes(m.Candidate);
  enc.writeVerbatim(RV_REQ[2]);
  enc.writeNullableBytes(m.ID);
  enc.writeVerbatim(RV_REQ[3]);
  enc.writeUint(m.LastLogIndex);
  enc.writeVerbatim(RV_REQ[4]);
  enc.writeUint(m.LastLogTerm);
  enc.writeVerbatim(RV_REQ[5]);
  enc.writeBool(m.LeadershipTransfer);
  enc.writeVerbatim(RV_REQ[6]);
  enc.writeInt(m.ProtocolVersion);
  enc.writeVerbatim(RV_REQ[7]);
  enc.writeUint(m.Term);
}

/** @internal */
export const RV_RESP = structKeys('Addr', 'Granted', 'ID', 'Peers', 'ProtocolVersion', 'Term');

export function writeRequestVoteResponse(enc: Encoder, m: WireRequestVoteResponse): void {
  enc.writeMapHeader(6);
  enc.writeVerbatim(RV_RESP[0]);
  enc.writeNullableBytes(m.Addr);
  enc.writeVerbatim(RV_RESP[1]);
  enc.writeBool(m.Granted);
  enc.writeVerbatim(RV_RESP[2]);
  enc.writeNullableBytes(m.ID);
  enc.writeVerbatim(RV_RESP[3]);
  enc.writeNullableBytes(m.Peers);
  enc.writeVerbatim(RV_RESP[4]);
  enc.writeInt(m.ProtocolVersion);
  enc.writeVerbatim(RV_RESP[5]);
  enc.writeUint(m.Term);
}

/** @internal */
export const PV_REQ = structKeys('Addr', 'ID', 'LastLogIndex', 'LastLogTerm', 'ProtocolVersion', 'Term');

export function writeRequestPreVoteRequest(enc: Encoder, m: WireRequestPreVoteRequest): void {
  enc.writeMapHeader(6);
  enc.writeVerbatim(PV_REQ[0]);
  enc.writeNullableBytes(m.Addr);
  enc.writeVerbatim(PV_REQ[1]);
  enc.writeNullableBytes(m.ID);
  enc.writeVerbatim(PV_REQ[2]);
  enc.writeUint(m.LastLogIndex);
  enc.writeVerbatim(PV_REQ[3]);
  enc.writeUint(m.LastLogTerm);
  enc.writeVerbatim(PV_REQ[4]);
  enc.writeInt(m.ProtocolVersion);
  enc.writeVerbatim(PV_REQ[5]);
  enc.writeUint(m.Term);
}

/** @internal */
export const PV_RESP = structKeys('Addr', 'Granted', 'ID', 'ProtocolVersion', 'Term');

export function writeRequestPreVoteResponse(enc: Encoder, m: WireRequestPreVoteResponse): void {
  enc.writeMapHeader(5);
  enc.writeVerbatim(PV_RESP[0]);
  enc.writeNullableBytes(m.Addr);
  enc.writeVerbatim(PV_RESP[1]);
  enc.writeBool(m.Granted);
  enc.writeVerbatim(PV_RESP[2]);
  enc.writeNullableBytes(m.ID);
  enc.writeVerbatim(PV_RESP[3]);
  enc.writeInt(m.ProtocolVersion);
  enc.writeVerbatim(PV_RESP[4]);
  enc.writeUint(m.Term);
}

/** @internal */
export const IS_REQ = structKeys(
  'Addr',
  'Configuration',
  'ConfigurationIndex',
  'ID',
  'LastLogIndex',
  'LastLogTerm',
  'Leader',
  'Peers',
  'ProtocolVersion',
  'Size',
  'SnapshotVersion',
  'Term',
);

export function writeInstallSnapshotRequest(enc: Encoder, m: WireInstallSnapshotRequest): void {
  enc.writeMapHeader(12);
  enc.writeVerbatim(IS_REQ[0]);
  enc.writeNullableBytes(m.Addr);
  enc.writeVerbatim(IS_REQ[1]);
  enc.writeNullableBytes(m.Configuration);
  enc.writeVerbatim(IS_REQ[2]);
  enc.writeUint(m.ConfigurationIndex);
  enc.writeVerbatim(IS_REQ[3]);
  enc.writeNullableBytes(m.ID);
  enc.writeVerbatim(IS_REQ[4]);
  enc.writeUint(m.LastLogIndex);
  enc.writeVerbatim(IS_REQ[5]);
  enc.writeUint(m.LastLogTerm);
  enc.writeVerbatim(IS_REQ[6]);
  enc.writeNullableBytes(m.Leader);
  enc.writeVerbatim(IS_REQ[7]);
  enc.writeNullableBytes(m.Peers);
  enc.writeVerbatim(IS_REQ[8]);
  enc.writeInt(m.ProtocolVersion);
  enc.writeVerbatim(IS_REQ[9]);
  enc.writeInt(m.Size);
  enc.writeVerbatim(IS_REQ[10]);
  enc.writeInt(m.SnapshotVersion);
  enc.writeVerbatim(IS_REQ[11]);
  enc.writeUint(m.Term);
}

/** @internal */
export const IS_RESP = structKeys('Addr', 'ID', 'ProtocolVersion', 'Success', 'Term');

export function writeInstallSnapshotResponse(enc: Encoder, m: WireInstallSnapshotResponse): void {
  enc.writeMapHeader(5);
  enc.writeVerbatim(IS_RESP[0]);
  enc.writeNullableBytes(m.Addr);
  enc.writeVerbatim(IS_RESP[1]);
  enc.writeNullableBytes(m.ID);
  enc.writeVerbatim(IS_RESP[2]);
  enc.writeInt(m.ProtocolVersion);
  enc.writeVerbatim(IS_RESP[3]);
  enc.writeBool(m.Success);
  enc.writeVerbatim(IS_RESP[4]);
  enc.writeUint(m.Term);
}

/** @internal */
export const HEADER = structKeys('Addr', 'ID', 'ProtocolVersion');

/** TimeoutNow request and response: the header alone. */
export function writeHeaderOnly(enc: Encoder, m: WireHeader): void {
  enc.writeMapHeader(3);
  enc.writeVerbatim(HEADER[0]);
  enc.writeNullableBytes(m.Addr);
  enc.writeVerbatim(HEADER[1]);
  enc.writeNullableBytes(m.ID);
  enc.writeVerbatim(HEADER[2]);
  enc.writeInt(m.ProtocolVersion);
}

/** @internal */
export const RI_REQ = structKeys('Addr', 'ID', 'ProtocolVersion', 'Term');

export function writeReadIndexRequest(enc: Encoder, m: WireReadIndexRequest): void {
  enc.writeMapHeader(4);
  enc.writeVerbatim(RI_REQ[0]);
  enc.writeNullableBytes(m.Addr);
  enc.writeVerbatim(RI_REQ[1]);
  enc.writeNullableBytes(m.ID);
  enc.writeVerbatim(RI_REQ[2]);
  enc.writeInt(m.ProtocolVersion);
  enc.writeVerbatim(RI_REQ[3]);
  enc.writeUint(m.Term);
}

/** @internal */
export const RI_RESP = structKeys('Addr', 'ID', 'ProtocolVersion', 'ReadIndex', 'Success', 'Term');

export function writeReadIndexResponse(enc: Encoder, m: WireReadIndexResponse): void {
  enc.writeMapHeader(6);
  enc.writeVerbatim(RI_RESP[0]);
  enc.writeNullableBytes(m.Addr);
  enc.writeVerbatim(RI_RESP[1]);
  enc.writeNullableBytes(m.ID);
  enc.writeVerbatim(RI_RESP[2]);
  enc.writeInt(m.ProtocolVersion);
  enc.writeVerbatim(RI_RESP[3]);
  enc.writeUint(m.ReadIndex);
  enc.writeVerbatim(RI_RESP[4]);
  enc.writeBool(m.Success);
  enc.writeVerbatim(RI_RESP[5]);
  enc.writeUint(m.Term);
}
