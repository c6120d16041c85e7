/**
 * The KV log commands as values, and their bounds: what both encodings (the JSON of commands.ts
 * and the binary form of command-binary.ts) carry. A module of its own so that neither encoding
 * imports the other.
 */

/** Revision compares; `=` is the default. */
export type CompareOp = '=' | '!=' | '<' | '>';
/** The revision compares, in the order of their binary codes. */
export const COMPARE_OPS: readonly CompareOp[] = ['=', '!=', '<', '>'];

export type TxnCompare =
  /** The key's revision (0 when absent) against `revision`. */
  | { key: string; revision: number; cmp: CompareOp }
  /** The key exists and holds exactly `value`. */
  | { key: string; value: Buffer }
  | { key: string; exists: boolean };

export type TxnOp =
  /** `lease` 0: no lease (the key is detached from any it had). */
  { op: 'put'; key: string; value: Buffer; lease: number } | { op: 'delete'; key: string };

export type LeaseRevokeReason = 'revoke' | 'expire';

export type KvCommand =
  | { op: 'put'; key: string; value: Uint8Array }
  | { op: 'delete'; key: string }
  /** `prev: null` means "the key must be absent". */
  | { op: 'cas'; key: string; prev: Uint8Array | null; value: Uint8Array }
  | { op: 'txn'; compare: TxnCompare[]; success: TxnOp[]; failure: TxnOp[] }
  | { op: 'lease-grant'; ttl: number }
  | { op: 'lease-revoke'; id: number; reason: LeaseRevokeReason }
  | { op: 'lock'; name: string; ttl: number }
  | { op: 'lock-release'; name: string; token: number }
  | { op: 'lock-cancel'; name: string; lease: number };

/** Bounds of a transaction (per branch for operations). */
export const MAX_TXN_COMPARES = 128;
export const MAX_TXN_OPS = 128;
/** Lease TTLs in seconds. */
export const MIN_TTL = 1;
export const MAX_TTL = 86_400;
