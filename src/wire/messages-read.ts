/**
 * Decoders of the Go struct mirrors (types in messages.ts). Each starts from Go's zero value, skips
 * unknown keys and leaves missing ones at zero; a nil map gives the zero struct. Byte slices alias
 * the decoder's input unless the Decoder copies (see decoder.ts).
 */
import type { LogEntry } from '../core/types.js';
import type { Decoder } from './decoder.js';
import { readLog } from './log.js';
import {
  AE_REQ,
  AE_RESP,
  HEADER,
  IS_REQ,
  IS_RESP,
  PV_REQ,
  PV_RESP,
  RI_REQ,
  RI_RESP,
  RV_REQ,
  RV_RESP,
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
} from './messages.js';

export function readAppendEntriesRequest(d: Decoder): WireAppendEntriesRequest {
  const m: WireAppendEntriesRequest = {
    Addr: null,
    Entries: null,
    ID: null,
    Leader: null,
    LeaderCommitIndex: 0,
    PrevLogEntry: 0,
    PrevLogTerm: 0,
    ProtocolVersion: 0,
    Term: 0,
  };
  let n = d.readMapHeader();
  for (let hint = 0; n > 0; n--) {
    const k = d.readKey(AE_REQ, hint);
    hint = k + 1;
    switch (k) {
      case 0:
        m.Addr = d.readNullableBytes();
        break;
      case 1:
        m.Entries = readEntries(d);
        break;
      case 2:
        m.ID = d.readNullableBytes();
        break;
      case 3:
        m.Leader = d.readNullableBytes();
        break;
      case 4:
        m.LeaderCommitIndex = d.readUint();
        break;
      case 5:
        m.PrevLogEntry = d.readUint();
        break;
      case 6:
        m.PrevLogTerm = d.readUint();
        break;
      case 7:
        m.ProtocolVersion = d.readInt();
        break;
      case 8:
        m.Term = d.readUint();
        break;
      default:
        d.skip();
    }
  }
  return m;
}

function readEntries(d: Decoder): LogEntry[] | null {
  const count = d.readArrayHeader();
  if (count < 0) return null;
  const entries = new Array<LogEntry>(count);
  for (let i = 0; i < count; i++) entries[i] = readLog(d);
  return entries;
}

export function readAppendEntriesResponse(d: Decoder): WireAppendEntriesResponse {
  const m: WireAppendEntriesResponse = {
    Addr: null,
    ID: null,
    LastLog: 0,
    NoRetryBackoff: false,
    ProtocolVersion: 0,
    Success: false,
    Term: 0,
  };
  let n = d.readMapHeader();
  for (let hint = 0; n > 0; n--) {
    const k = d.readKey(AE_RESP, hint);
    hint = k + 1;
    switch (k) {
      case 0:
        m.Addr = d.readNullableBytes();
        break;
      case 1:
        m.ID = d.readNullableBytes();
        break;
      case 2:
        m.LastLog = d.readUint();
        break;
      case 3:
        m.NoRetryBackoff = d.readBool();
        break;
      case 4:
        m.ProtocolVersion = d.readInt();
        break;
      case 5:
        m.Success = d.readBool();
        break;
      case 6:
        m.Term = d.readUint();
        break;
      default:
        d.skip();
    }
  }
  return m;
}

export function readRequestVoteRequest(d: Decoder): WireRequestVoteRequest {
  const m: WireRequestVoteRequest = {
    Addr: null,
    Candidate: null,
    ID: null,
    LastLogIndex: 0,
    LastLogTerm: 0,
    LeadershipTransfer: false,
    ProtocolVersion: 0,
    Term: 0,
  };
  let n = d.readMapHeader();
  for (let hint = 0; n > 0; n--) {
    const k = d.readKey(RV_REQ, hint);
    hint = k + 1;
    switch (k) {
      case 0:
        m.Addr = d.readNullableBytes();
        break;
      case 1:
        m.Candidate = d.readNullableBytes();
        break;
      case 2:
        m.ID = d.readNullableBytes();
        break;
      case 3:
        m.LastLogIndex = d.readUint();
        break;
      case 4:
        m.LastLogTerm = d.readUint();
        break;
      case 5:
        m.LeadershipTransfer = d.readBool();
        break;
      case 6:
        m.ProtocolVersion = d.readInt();
        break;
      case 7:
        m.Term = d.readUint();
        break;
      default:
        d.skip();
    }
  }
  return m;
}

export function readRequestVoteResponse(d: Decoder): WireRequestVoteResponse {
  const m: WireRequestVoteResponse = {
    Addr: null,
    Granted: false,
    ID: null,
    Peers: null,
    ProtocolVersion: 0,
    Term: 0,
  };
  let n = d.readMapHeader();
  for (let hint = 0; n > 0; n--) {
    const k = d.readKey(RV_RESP, hint);
    hint = k + 1;
    switch (k) {
      case 0:
        m.Addr = d.readNullableBytes();
        break;
      case 1:
        m.Granted = d.readBool();
        break;
      case 2:
        m.ID = d.readNullableBytes();
        break;
      case 3:
        m.Peers = d.readNullableBytes();
        break;
      case 4:
        m.ProtocolVersion = d.readInt();
        break;
      case 5:
        m.Term = d.readUint();
        break;
      default:
        d.skip();
    }
  }
  return m;
}

export function readRequestPreVoteRequest(d: Decoder): WireRequestPreVoteRequest {
  const m: WireRequestPreVoteRequest = {
    Addr: null,
    ID: null,
    LastLogIndex: 0,
    LastLogTerm: 0,
    ProtocolVersion: 0,
    Term: 0,
  };
  let n = d.readMapHeader();
  for (let hint = 0; n > 0; n--) {
    const k = d.readKey(PV_REQ, hint);
    hint = k + 1;
    switch (k) {
      case 0:
        m.Addr = d.readNullableBytes();
        break;
      case 1:
        m.ID = d.readNullableBytes();
        break;
      case 2:
        m.LastLogIndex = d.readUint();
        break;
      case 3:
        m.LastLogTerm = d.readUint();
        break;
      case 4:
        m.ProtocolVersion = d.readInt();
        break;
      case 5:
        m.Term = d.readUint();
        break;
      default:
        d.skip();
    }
  }
  return m;
}

export function readRequestPreVoteResponse(d: Decoder): WireRequestPreVoteResponse {
  const m: WireRequestPreVoteResponse = { Addr: null, Granted: false, ID: null, ProtocolVersion: 0, Term: 0 };
  let n = d.readMapHeader();
  for (let hint = 0; n > 0; n--) {
    const k = d.readKey(PV_RESP, hint);
    hint = k + 1;
    switch (k) {
      case 0:
        m.Addr = d.readNullableBytes();
        break;
      case 1:
        m.Granted = d.readBool();
        break;
      case 2:
        m.ID = d.readNullableBytes();
        break;
      case 3:
        m.ProtocolVersion = d.readInt();
        break;
      case 4:
        m.Term = d.readUint();
        break;
      default:
        d.skip();
    }
  }
  return m;
}

export function readInstallSnapshotRequest(d: Decoder): WireInstallSnapshotRequest {
  const m: WireInstallSnapshotRequest = {
    Addr: null,
    Configuration: null,
    ConfigurationIndex: 0,
    ID: null,
    LastLogIndex: 0,
    LastLogTerm: 0,
    Leader: null,
    Peers: null,
    ProtocolVersion: 0,
    Size: 0,
    SnapshotVersion: 0,
    Term: 0,
  };
  let n = d.readMapHeader();
  for (let hint = 0; n > 0; n--) {
    const k = d.readKey(IS_REQ, hint);
    hint = k + 1;
    switch (k) {
      case 0:
        m.Addr = d.readNullableBytes();
        break;
      case 1:
        m.Configuration = d.readNullableBytes();
        break;
      case 2:
        m.ConfigurationIndex = d.readUint();
        break;
      case 3:
        m.ID = d.readNullableBytes();
        break;
      case 4:
        m.LastLogIndex = d.readUint();
        break;
      case 5:
        m.LastLogTerm = d.readUint();
        break;
      case 6:
        m.Leader = d.readNullableBytes();
        break;
      case 7:
        m.Peers = d.readNullableBytes();
        break;
      case 8:
        m.ProtocolVersion = d.readInt();
        break;
      case 9:
        m.Size = d.readInt();
        break;
      case 10:
        m.SnapshotVersion = d.readInt();
        break;
      case 11:
        m.Term = d.readUint();
        break;
      default:
        d.skip();
    }
  }
  return m;
}

export function readInstallSnapshotResponse(d: Decoder): WireInstallSnapshotResponse {
  const m: WireInstallSnapshotResponse = {
    Addr: null,
    ID: null,
    ProtocolVersion: 0,
    Success: false,
    Term: 0,
  };
  let n = d.readMapHeader();
  for (let hint = 0; n > 0; n--) {
    const k = d.readKey(IS_RESP, hint);
    hint = k + 1;
    switch (k) {
      case 0:
        m.Addr = d.readNullableBytes();
        break;
      case 1:
        m.ID = d.readNullableBytes();
        break;
      case 2:
        m.ProtocolVersion = d.readInt();
        break;
      case 3:
        m.Success = d.readBool();
        break;
      case 4:
        m.Term = d.readUint();
        break;
      default:
        d.skip();
    }
  }
  return m;
}

export function readHeaderOnly(d: Decoder): WireHeader {
  const m: WireHeader = { Addr: null, ID: null, ProtocolVersion: 0 };
  let n = d.readMapHeader();
  for (let hint = 0; n > 0; n--) {
    const k = d.readKey(HEADER, hint);
    hint = k + 1;
    switch (k) {
      case 0:
        m.Addr = d.readNullableBytes();
        break;
      case 1:
        m.ID = d.readNullableBytes();
        break;
      case 2:
        m.ProtocolVersion = d.readInt();
        break;
      default:
        d.skip();
    }
  }
  return m;
}

export function readReadIndexRequest(d: Decoder): WireReadIndexRequest {
  const m: WireReadIndexRequest = { Addr: null, ID: null, ProtocolVersion: 0, Term: 0 };
  let n = d.readMapHeader();
  for (let hint = 0; n > 0; n--) {
    const k = d.readKey(RI_REQ, hint);
    hint = k + 1;
    switch (k) {
      case 0:
        m.Addr = d.readNullableBytes();
        break;
      case 1:
        m.ID = d.readNullableBytes();
        break;
      case 2:
        m.ProtocolVersion = d.readInt();
        break;
      case 3:
        m.Term = d.readUint();
        break;
      default:
        d.skip();
    }
  }
  return m;
}

export function readReadIndexResponse(d: Decoder): WireReadIndexResponse {
  const m: WireReadIndexResponse = {
    Addr: null,
    ID: null,
    ProtocolVersion: 0,
    ReadIndex: 0,
    Success: false,
    Term: 0,
  };
  let n = d.readMapHeader();
  for (let hint = 0; n > 0; n--) {
    const k = d.readKey(RI_RESP, hint);
    hint = k + 1;
    switch (k) {
      case 0:
        m.Addr = d.readNullableBytes();
        break;
      case 1:
        m.ID = d.readNullableBytes();
        break;
      case 2:
        m.ProtocolVersion = d.readInt();
        break;
      case 3:
        m.ReadIndex = d.readUint();
        break;
      case 4:
        m.Success = d.readBool();
        break;
      case 5:
        m.Term = d.readUint();
        break;
      default:
        d.skip();
    }
  }
  return m;
}
