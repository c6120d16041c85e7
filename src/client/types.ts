/**
 * The value and option types of KvClient's key calls, apart from client.ts so that the election
 * recipe can name them without importing the client (no import circle).
 */
import type { Lease } from './lease.js';
import type { Bytes } from './paths.js';
import type { CallOptions } from './requester.js';

/** A value read with its revision. */
export interface KeyValue {
  /** The key. */
  key: string;
  /** The value's raw bytes. */
  value: Buffer;
  /** The log index of the command that last changed the key. */
  revision: number;
}

export interface GetOptions extends CallOptions {
  /** Answer from the asked member's applied state, not through the leader (may be stale). */
  stale?: boolean;
}

export interface PutOptions extends CallOptions {
  /** Only if the key's revision is this (If-Match); 412 otherwise. */
  ifRevision?: number;
  /** Only if the key does not exist (If-None-Match: *). */
  ifAbsent?: boolean;
  /** Only if the current value is this (compare-and-set; null: the key must be absent). */
  prev?: Bytes | null;
  /** Attach the key to a lease: it is deleted when the lease ends. */
  lease?: string | Lease;
}

/** Conditions of a delete (both must hold when given); a failed one is a PreconditionFailedError. */
export interface DeleteOptions extends CallOptions {
  /** Only if the key's revision is this (If-Match). */
  ifRevision?: number;
  /** Only if the current value is this (compare-and-delete). */
  prev?: Bytes;
}

export interface RangeOptions extends GetOptions {
  /** Keys at most (1..10,000, default 100). */
  limit?: number;
  /** Only keys strictly after this one (paging: pass the last key of the previous page). */
  after?: string;
}

/** One page of a range. */
export interface RangePage {
  /** The store revision the page was read at: watch with `since` this to continue from it. */
  revision: number;
  /** The keys, sorted by their UTF-8 bytes. */
  items: KeyValue[];
  /** More keys follow; ask again with `after` = the last key. */
  more: boolean;
}
