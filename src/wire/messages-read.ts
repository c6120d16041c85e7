/**
 * Readers of the Go struct mirrors (types and schemas in messages.ts). Each starts from Go's zero
 * value, skips unknown keys and leaves missing ones at zero; a nil map gives the zero struct.
 * Byte slices alias the decoder's input unless the Decoder copies (see decoder.ts).
 */
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
} from './messages.js';
import { structReader } from './schema.js';

export const readAppendEntriesRequest = structReader(AE_REQ);
export const readAppendEntriesResponse = structReader(AE_RESP);
export const readRequestVoteRequest = structReader(RV_REQ);
export const readRequestVoteResponse = structReader(RV_RESP);
export const readRequestPreVoteRequest = structReader(PV_REQ);
export const readRequestPreVoteResponse = structReader(PV_RESP);
export const readInstallSnapshotRequest = structReader(IS_REQ);
export const readInstallSnapshotResponse = structReader(IS_RESP);
/** TimeoutNow request and response: the header alone. */
export const readHeaderOnly = structReader(HEADER);
export const readReadIndexRequest = structReader(RI_REQ);
export const readReadIndexResponse = structReader(RI_RESP);
