/**
 * `raftkit/client`: the typed client of raftkit's KV service. It runs in any Node.js application
 * without the rest of the library (node built-ins only).
 *
 * ```ts
 * // import { KvClient } from "raftkit/client";
 * const kv = new KvClient({ endpoints: ['http://10.0.0.1:8001', 'http://10.0.0.2:8001'] });
 * await kv.put('config/a', 'hello');
 * ```
 *
 * @packageDocumentation
 */
export {
  KvClient,
  type Bytes,
  type DeleteOptions,
  type GetOptions,
  type KeyValue,
  type KvClientOptions,
  type PutOptions,
  type RangeOptions,
  type RangePage,
  type TxnCompare,
  type TxnOp,
  type TxnRequest,
  type TxnResult,
} from './client.js';
export type { ClientClock, ClientTimer } from './clock.js';
export { Election, type CampaignOptions, type ElectionLeader, type Leadership } from './election.js';
export {
  CompactedError,
  KvClientError,
  KvHttpError,
  KvTimeoutError,
  LeaseLostError,
  LockBusyError,
  OutcomeUnknownError,
  PreconditionFailedError,
  ProtocolError,
  UnavailableError,
} from './errors.js';
export type { ClientTlsOptions } from './http.js';
export { Lease } from './lease.js';
export type { Lock, LockOptions } from './lock.js';
export type { CallOptions } from './requester.js';
export type { WatchEvent, WatchOptions } from './watch.js';
export type { ErrorBody, ServerStateName, StatusBody, StatusMember, SuffrageName } from '../kv/contract.js';
