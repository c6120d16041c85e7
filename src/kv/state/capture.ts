/**
 * What a KV snapshot writes: the store between two commands, held copy-on-write (the keys) or
 * copied (the small rest), so that it can be written out while later commands apply.
 */
import type { WatchEvent } from './history.js';
import type { KeyspaceCapture } from './keyspace.js';
import { compareKeys } from './sorted-keys.js';
import type { KvStore, LockState } from './store.js';

/** An immutable view of the store, taken between two commands and written out later. */
export interface CapturedState {
  revision: number;
  compactRevision: number;
  /** Copy-on-write (Keyspace.capture): release it once written. */
  keys: KeyspaceCapture;
  leases: { id: number; ttl: number }[];
  locks: { name: string; lock: LockState }[];
  events: WatchEvent[];
}

export function captureState(store: KvStore): CapturedState {
  return {
    revision: store.revision,
    compactRevision: store.history.compactRevision,
    keys: store.keys.capture(),
    leases: [...store.leases.values()].map(({ id, ttl }) => ({ id, ttl })).sort((a, b) => a.id - b.id),
    locks: [...store.locks.entries()]
      .map(([name, lock]) => ({ name, lock: { ...lock, waiters: [...lock.waiters] } }))
      .sort((a, b) => compareKeys(a.name, b.name)),
    events: store.history.toArray(),
  };
}
