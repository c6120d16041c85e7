/**
 * Conversions between raftkit's core RPC types and the Go struct mirrors.
 *
 * Outgoing headers carry ProtocolVersion 3, the sender's ID and address; Leader/Candidate keep
 * being filled with the address so that peers older than 1.3.7 still work. Incoming senders
 * prefer Addr over Leader/Candidate, and have id '' when there is no ID (raft 1.1.2 peers).
 *
 * Like Go, raftkit leaves the header of InstallSnapshot and TimeoutNow responses unfilled.
 *
 * Incoming messages are checked against bounds.ts here, on their way to the core: a term, index,
 * size or header field beyond its bound throws ErrOutOfRange and nothing reaches the node.
 */
import {
  ServerSuffrage,
  type AppendEntriesRequest,
  type Configuration,
  type LogEntry,
  type Peer,
  type RaftRequest,
  type RaftResponse,
  type RequestPreVoteRequest,
  type RequestVoteRequest,
  type ResponseMap,
} from '../core/types.js';
import { checkIndex, checkPeerBytes, checkSnapshotSize, checkTerm } from './bounds.js';
import { decodeConfiguration, decodePeers, encodeConfiguration, encodePeers } from './configuration.js';
import { PROTOCOL_VERSION, RpcType, type WireRequest, type WireResponseMap } from './frames.js';
import type { WireHeader, WireRequestPreVoteRequest } from './messages.js';
import { EMPTY_BYTES, utf8Bytes, utf8Text } from './msgpack.js';

/** Map from core request kind to type byte. */
export const RPC_TYPE_OF_KIND = {
  appendEntries: RpcType.AppendEntries,
  requestVote: RpcType.RequestVote,
  installSnapshot: RpcType.InstallSnapshot,
  timeoutNow: RpcType.TimeoutNow,
  requestPreVote: RpcType.RequestPreVote,
  readIndex: RpcType.ReadIndex,
} as const satisfies { readonly [K in RaftRequest['kind']]: RpcType };

// IDs and addresses repeat on every message: keep their UTF-8 bytes. Bounded; cleared when full.
const MAX_CACHED = 1024;
const bytesCache = new Map<string, Uint8Array>();

/** UTF-8 bytes of an ID or address; the result is shared and must not be modified. */
export function peerBytes(s: string): Uint8Array {
  let b = bytesCache.get(s);
  if (b === undefined) {
    if (bytesCache.size >= MAX_CACHED) bytesCache.clear();
    b = s.length === 0 ? EMPTY_BYTES : utf8Bytes(s);
    bytesCache.set(s, b);
  }
  return b;
}

function textOf(b: Uint8Array | null): string {
  return b === null ? '' : utf8Text(b);
}

function headerOf(sender: Peer): WireHeader {
  return { ProtocolVersion: PROTOCOL_VERSION, ID: peerBytes(sender.id), Addr: peerBytes(sender.address) };
}

/** The sender of a request: address from Addr, else from the legacy field (Leader/Candidate). */
function senderOf(h: WireHeader, legacyAddress: Uint8Array | null): Peer {
  const addr = h.Addr !== null && h.Addr.length > 0 ? h.Addr : legacyAddress;
  return { id: textOf(checkPeerBytes(h.ID, 'ID')), address: textOf(checkPeerBytes(addr, 'Addr')) };
}

/** Entries of an AppendEntries, each index and term checked (see bounds.ts). */
function entriesOf(entries: LogEntry[] | null): LogEntry[] {
  if (entries === null) return [];
  for (let i = 0; i < entries.length; i++) {
    checkIndex(entries[i].index, 'Entries.Index');
    checkTerm(entries[i].term, 'Entries.Term');
  }
  return entries;
}

/** hashicorp's heartbeat: no entries and every index zero; it carries Entries nil. */
export function isHeartbeat(r: AppendEntriesRequest): boolean {
  return r.entries.length === 0 && r.prevLogIndex === 0 && r.prevLogTerm === 0 && r.leaderCommitIndex === 0;
}

function voterAddresses(c: Configuration): string[] {
  const out: string[] = [];
  for (const s of c.servers) if (s.suffrage === ServerSuffrage.Voter) out.push(s.address);
  return out;
}

export function requestToWire(r: RaftRequest): WireRequest {
  switch (r.kind) {
    case 'appendEntries': {
      const h = headerOf(r.leader);
      return {
        type: RpcType.AppendEntries,
        body: {
          Addr: h.Addr,
          Entries: isHeartbeat(r) ? null : r.entries,
          ID: h.ID,
          Leader: h.Addr,
          LeaderCommitIndex: r.leaderCommitIndex,
          PrevLogEntry: r.prevLogIndex,
          PrevLogTerm: r.prevLogTerm,
          ProtocolVersion: h.ProtocolVersion,
          Term: r.term,
        },
      };
    }
    case 'requestVote': {
      const body = campaignToWire(r);
      return {
        type: RpcType.RequestVote,
        body: { ...body, Candidate: body.Addr, LeadershipTransfer: r.leadershipTransfer },
      };
    }
    case 'requestPreVote':
      return { type: RpcType.RequestPreVote, body: campaignToWire(r) };
    case 'installSnapshot': {
      const h = headerOf(r.leader);
      return {
        type: RpcType.InstallSnapshot,
        body: {
          ...h,
          Configuration: encodeConfiguration(r.configuration),
          ConfigurationIndex: r.configurationIndex,
          LastLogIndex: r.lastLogIndex,
          LastLogTerm: r.lastLogTerm,
          Leader: h.Addr,
          Peers: encodePeers(voterAddresses(r.configuration)),
          Size: r.size,
          SnapshotVersion: r.snapshotVersion,
          Term: r.term,
        },
      };
    }
    case 'timeoutNow':
      return { type: RpcType.TimeoutNow, body: headerOf(r.from) };
    case 'readIndex':
      return { type: RpcType.ReadIndex, body: { ...headerOf(r.from), Term: r.term } };
  }
}

/**
 * Converts a decoded request; throws ErrOutOfRange for a number beyond its bound, ErrDecode when an
 * embedded configuration is malformed.
 */
export function requestFromWire(w: WireRequest): RaftRequest {
  switch (w.type) {
    case RpcType.AppendEntries: {
      const b = w.body;
      return {
        kind: 'appendEntries',
        term: checkTerm(b.Term, 'Term'),
        leader: senderOf(b, b.Leader),
        prevLogIndex: checkIndex(b.PrevLogEntry, 'PrevLogEntry'),
        prevLogTerm: checkTerm(b.PrevLogTerm, 'PrevLogTerm'),
        entries: entriesOf(b.Entries),
        leaderCommitIndex: checkIndex(b.LeaderCommitIndex, 'LeaderCommitIndex'),
      };
    }
    case RpcType.RequestVote:
      return {
        kind: 'requestVote',
        ...campaignFromWire(w.body, w.body.Candidate),
        leadershipTransfer: w.body.LeadershipTransfer,
      };
    case RpcType.RequestPreVote:
      return { kind: 'requestPreVote', ...campaignFromWire(w.body, null) };
    case RpcType.InstallSnapshot: {
      const b = w.body;
      return {
        kind: 'installSnapshot',
        snapshotVersion: b.SnapshotVersion,
        term: checkTerm(b.Term, 'Term'),
        leader: senderOf(b, b.Leader),
        lastLogIndex: checkIndex(b.LastLogIndex, 'LastLogIndex'),
        lastLogTerm: checkTerm(b.LastLogTerm, 'LastLogTerm'),
        configuration: snapshotConfiguration(b.SnapshotVersion, b.Configuration, b.Peers),
        configurationIndex: checkIndex(b.ConfigurationIndex, 'ConfigurationIndex'),
        size: checkSnapshotSize(b.Size),
      };
    }
    case RpcType.TimeoutNow:
      return { kind: 'timeoutNow', term: 0, from: senderOf(w.body, null) };
    case RpcType.ReadIndex:
      return { kind: 'readIndex', term: checkTerm(w.body.Term, 'Term'), from: senderOf(w.body, null) };
  }
}

/** What RequestVote and RequestPreVote both carry: the candidate's header, its last log, the term. */
function campaignToWire(r: RequestVoteRequest | RequestPreVoteRequest): WireRequestPreVoteRequest {
  return { ...headerOf(r.candidate), LastLogIndex: r.lastLogIndex, LastLogTerm: r.lastLogTerm, Term: r.term };
}

/** The fields both campaign requests share, checked; `candidate` is RequestVote's legacy field. */
function campaignFromWire(
  b: WireRequestPreVoteRequest,
  candidate: Uint8Array | null,
): Pick<RequestVoteRequest, 'term' | 'candidate' | 'lastLogIndex' | 'lastLogTerm'> {
  return {
    term: checkTerm(b.Term, 'Term'),
    candidate: senderOf(b, candidate),
    lastLogIndex: checkIndex(b.LastLogIndex, 'LastLogIndex'),
    lastLogTerm: checkTerm(b.LastLogTerm, 'LastLogTerm'),
  };
}

/** Version 1 snapshots carry the configuration; version 0 only the legacy voter list (ID = address). */
function snapshotConfiguration(
  version: number,
  configuration: Uint8Array | null,
  peers: Uint8Array | null,
): Configuration {
  if (version >= 1) return configuration === null ? { servers: [] } : decodeConfiguration(configuration);
  if (peers === null) return { servers: [] };
  return {
    servers: decodePeers(peers).map((address) => ({ suffrage: ServerSuffrage.Voter, id: address, address })),
  };
}

const ZERO_HEADER: WireHeader = Object.freeze({ ProtocolVersion: 0, ID: null, Addr: null });

/** Builds the Go response struct for a core response; `local` fills the header where Go does. */
export function responseToWire<K extends keyof ResponseMap>(
  kind: K,
  response: ResponseMap[K],
  local: Peer,
): WireResponseMap[(typeof RPC_TYPE_OF_KIND)[K]] {
  return responseToWireUntyped(
    kind,
    response as RaftResponse,
    local,
  ) as WireResponseMap[(typeof RPC_TYPE_OF_KIND)[K]];
}

function responseToWireUntyped(
  kind: keyof ResponseMap,
  response: RaftResponse,
  local: Peer,
): WireResponseMap[RpcType] {
  switch (kind) {
    case 'appendEntries': {
      const r = response as ResponseMap['appendEntries'];
      // Spelled out, not spread from headerOf: a follower answers every frame, and the spread
      // cost it ~3 µs per answer (bench/PROFILE.md, 2026-12-05 perffollow).
      return {
        ProtocolVersion: PROTOCOL_VERSION,
        ID: peerBytes(local.id),
        Addr: peerBytes(local.address),
        LastLog: r.lastLog,
        NoRetryBackoff: r.noRetryBackoff,
        Success: r.success,
        Term: r.term,
      };
    }
    case 'requestVote': {
      const r = response as ResponseMap['requestVote'];
      return { ...headerOf(local), Granted: r.granted, Peers: null, Term: r.term };
    }
    case 'requestPreVote': {
      const r = response as ResponseMap['requestPreVote'];
      return { ...headerOf(local), Granted: r.granted, Term: r.term };
    }
    case 'installSnapshot': {
      const r = response as ResponseMap['installSnapshot'];
      return { ...ZERO_HEADER, Success: r.success, Term: r.term };
    }
    case 'timeoutNow':
      return { ...ZERO_HEADER };
    case 'readIndex': {
      const r = response as ResponseMap['readIndex'];
      return { ...headerOf(local), ReadIndex: r.readIndex, Success: r.success, Term: r.term };
    }
  }
}

/** Converts a decoded Go response into the core response of the given request kind. */
export function responseFromWire<K extends keyof ResponseMap>(
  kind: K,
  body: WireResponseMap[(typeof RPC_TYPE_OF_KIND)[K]],
): ResponseMap[K] {
  return responseFromWireUntyped(kind, body as WireResponseMap[RpcType]) as ResponseMap[K];
}

function responseFromWireUntyped(kind: keyof ResponseMap, body: WireResponseMap[RpcType]): RaftResponse {
  switch (kind) {
    case 'appendEntries': {
      const b = body as WireResponseMap[0];
      return {
        term: checkTerm(b.Term, 'Term'),
        lastLog: checkIndex(b.LastLog, 'LastLog'),
        success: b.Success,
        noRetryBackoff: b.NoRetryBackoff,
      };
    }
    case 'requestVote':
    case 'requestPreVote': {
      const b = body as WireResponseMap[1];
      return { term: checkTerm(b.Term, 'Term'), granted: b.Granted };
    }
    case 'installSnapshot': {
      const b = body as WireResponseMap[2];
      return { term: checkTerm(b.Term, 'Term'), success: b.Success };
    }
    case 'timeoutNow':
      return {};
    case 'readIndex': {
      const b = body as WireResponseMap[100];
      return {
        term: checkTerm(b.Term, 'Term'),
        readIndex: checkIndex(b.ReadIndex, 'ReadIndex'),
        success: b.Success,
      };
    }
  }
}
