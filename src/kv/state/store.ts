/**
 * The replicated state of the KV service and the only code that changes it: keys with revisions,
 * leases, locks with fencing tokens, and the watch history. Every change happens at one revision
 * (the log index of the command) and is recorded in a Journal that the state machine hands to its
 * observers (watches, lease countdowns, lock waiters). Nothing here reads a clock or does I/O:
 * replicas that apply the same commands end in the same state.
 */
import type { LeaseRevokeReason, TxnCompare, TxnOp } from '../commands.js';
import { WatchHistory, type HistoryLimits, type WatchEvent } from './history.js';
import { Keyspace, type KeyEntry } from './keyspace.js';
import { compareKeys } from './sorted-keys.js';

export interface Lease {
  readonly id: number;
  /** Seconds. */
  readonly ttl: number;
  /** Keys attached to the lease. */
  readonly keys: Set<string>;
  /** The lock whose holder or waiter this lease is (a lease made by a `lock` command), else null. */
  readonly lock: string | null;
}

export interface LockState {
  /** The holder's lease, 0 when free. */
  holder: number;
  /** The fencing token of the current holder (the index that handed the lock over), 0 when free. */
  token: number;
  /** Leases waiting, in arrival order. */
  waiters: number[];
}

/** What one command changed, for the observers of the state machine. */
export interface Journal {
  events: WatchEvent[];
  leasesGranted: Lease[];
  leasesRevoked: { id: number; reason: LeaseRevokeReason }[];
  locksAcquired: { name: string; lease: number; token: number }[];
}

/** The state of one compared key when a transaction applied. */
export interface ComparedKey {
  key: string;
  revision: number;
  value: Buffer | null;
}

export type TxnOutcome =
  | { ok: true; succeeded: boolean; compared: ComparedKey[] }
  | { ok: false; reason: 'lease-not-found'; lease: number };

export function emptyJournal(): Journal {
  return { events: [], leasesGranted: [], leasesRevoked: [], locksAcquired: [] };
}

export class KvStore {
  readonly keys = new Keyspace();
  readonly leases = new Map<number, Lease>();
  readonly locks = new Map<string, LockState>();
  readonly history: WatchHistory;
  /** The log index of the last command applied. */
  revision = 0;
  private journal = emptyJournal();

  constructor(historyLimits: HistoryLimits) {
    this.history = new WatchHistory(historyLimits);
  }

  /** Starts a command at `revision`; its changes are gathered until `end`. */
  begin(revision: number): void {
    this.revision = revision;
    this.journal = emptyJournal();
  }

  /**
   * Ends the command: its changes join the history, which is trimmed, and are handed back (the
   * next `begin` starts a new journal).
   */
  end(): Journal {
    const journal = this.journal;
    for (const event of journal.events) this.history.push(event);
    this.history.trim(this.revision);
    return journal;
  }

  put(key: string, value: Buffer, lease: number): void {
    const old = this.keys.set(key, { value, revision: this.revision, lease });
    if (old !== undefined && old.lease !== 0) this.leases.get(old.lease)?.keys.delete(key);
    if (lease !== 0) this.leases.get(lease)!.keys.add(key);
    this.journal.events.push({ revision: this.revision, op: 'put', key, value });
  }

  /** Deleting an absent key changes nothing (and records nothing). */
  delete(key: string): void {
    const old = this.keys.delete(key);
    if (old === undefined) return;
    if (old.lease !== 0) this.leases.get(old.lease)?.keys.delete(key);
    this.journal.events.push({ revision: this.revision, op: 'delete', key, value: null });
  }

  /**
   * Compares, then applies one branch atomically. A put naming a lease that does not exist fails
   * the whole transaction before anything changes.
   */
  txn(compare: TxnCompare[], success: TxnOp[], failure: TxnOp[]): TxnOutcome {
    const compared = compare.map(({ key }) => this.compared(key));
    const succeeded = compare.every((item, i) => holds(item, compared[i]));
    const ops = succeeded ? success : failure;
    for (const op of ops) {
      if (op.op === 'put' && op.lease !== 0 && !this.leases.has(op.lease))
        return { ok: false, reason: 'lease-not-found', lease: op.lease };
    }
    for (const op of ops) {
      if (op.op === 'put') this.put(op.key, op.value, op.lease);
      else this.delete(op.key);
    }
    return { ok: true, succeeded, compared };
  }

  grantLease(ttl: number, lock: string | null = null): Lease {
    const lease: Lease = { id: this.revision, ttl, keys: new Set(), lock };
    this.leases.set(lease.id, lease);
    this.journal.leasesGranted.push(lease);
    return lease;
  }

  /**
   * Deletes the lease and its keys (in key order, so that every replica records the same events)
   * and lets go of its lock. False when there is no such lease: a second revoke changes nothing.
   */
  revokeLease(id: number, reason: LeaseRevokeReason): boolean {
    const lease = this.leases.get(id);
    if (lease === undefined) return false;
    for (const key of [...lease.keys].sort(compareKeys)) this.delete(key);
    this.leases.delete(id);
    if (lease.lock !== null) this.leaveLock(lease.lock, id);
    this.journal.leasesRevoked.push({ id, reason });
    return true;
  }

  /** A new lease queued for `name`; it holds the lock at once when the lock is free. */
  lock(name: string, ttl: number): { lease: number; token: number | null } {
    const lease = this.grantLease(ttl, name);
    let lock = this.locks.get(name);
    if (lock === undefined) {
      lock = { holder: 0, token: 0, waiters: [] };
      this.locks.set(name, lock);
    }
    lock.waiters.push(lease.id);
    if (lock.holder === 0) this.handOver(name, lock);
    return { lease: lease.id, token: lock.holder === lease.id ? lock.token : null };
  }

  /** Releases the lock if `token` is its holder's; answers the holder's token otherwise (null: free). */
  releaseLock(name: string, token: number): { released: true } | { released: false; token: number | null } {
    const lock = this.locks.get(name);
    if (lock === undefined || lock.holder === 0 || lock.token !== token)
      return { released: false, token: lock?.holder ? lock.token : null };
    this.revokeLease(lock.holder, 'revoke');
    return { released: true };
  }

  /** A waiter gave up: its lease goes, and with it the lock if it was handed over meanwhile. */
  cancelLock(name: string, lease: number): boolean {
    if (this.leases.get(lease)?.lock !== name) return false;
    return this.revokeLease(lease, 'revoke');
  }

  private leaveLock(name: string, lease: number): void {
    const lock = this.locks.get(name);
    if (lock === undefined) return;
    if (lock.holder === lease) {
      lock.holder = 0;
      lock.token = 0;
      this.handOver(name, lock);
    } else {
      const at = lock.waiters.indexOf(lease);
      if (at >= 0) lock.waiters.splice(at, 1);
    }
    if (lock.holder === 0 && lock.waiters.length === 0) this.locks.delete(name);
  }

  /** The next waiter holds the lock; its fencing token is this command's index. */
  private handOver(name: string, lock: LockState): void {
    const next = lock.waiters.shift();
    if (next === undefined) return;
    lock.holder = next;
    lock.token = this.revision;
    this.journal.locksAcquired.push({ name, lease: next, token: this.revision });
  }

  private compared(key: string): ComparedKey {
    const entry: KeyEntry | undefined = this.keys.get(key);
    return { key, revision: entry?.revision ?? 0, value: entry?.value ?? null };
  }
}

function holds(compare: TxnCompare, current: ComparedKey): boolean {
  if ('exists' in compare) return (current.value !== null) === compare.exists;
  if ('value' in compare) return current.value !== null && current.value.equals(compare.value);
  switch (compare.cmp) {
    case '=':
      return current.revision === compare.revision;
    case '!=':
      return current.revision !== compare.revision;
    case '<':
      return current.revision < compare.revision;
    case '>':
      return current.revision > compare.revision;
  }
}
