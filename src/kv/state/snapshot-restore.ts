/**
 * Rebuilding a KvStore from the records of a snapshot, whatever their encoding (version 2 NDJSON,
 * version 3 binary: snapshot.ts, snapshot-binary.ts): every bound and cross-reference is checked
 * here once, so both formats refuse the same damage with the same ErrDecode.
 */
import { ErrDecode } from '../../index.js';
import { MAX_TTL, MIN_TTL } from '../commands.js';
import { checkInt } from '../json-fields.js';
import { keyProblem } from '../validate.js';
import type { HistoryLimits } from './history.js';
import { KvStore, type LockState } from './store.js';

/** Builds a store from snapshot records given in the format's order (header first). */
export class SnapshotRestorer {
  private readonly store: KvStore;
  private lastEvent = 0;
  private readonly keyLeases: [string, number][] = [];
  private readonly lockLines: { name: string; lock: LockState }[] = [];

  constructor(historyLimits: HistoryLimits) {
    this.store = new KvStore(historyLimits);
  }

  header(revision: number, compactRevision: number): void {
    this.store.revision = checkInt(revision, '"revision"', 0, Number.MAX_SAFE_INTEGER);
    this.store.history.compactRevision = checkInt(compactRevision, '"compactRevision"', 0, revision);
    this.lastEvent = compactRevision;
  }

  /** A key; `lease` 0 for none. */
  key(key: string, value: Buffer, revision: number, lease: number, where: string): void {
    checkKey(key, where);
    checkInt(revision, `${where} revision`, 0, this.store.revision);
    if (lease !== 0) checkLeaseNumber(lease, where);
    const { keys } = this.store;
    // Keys come in order: each is appended; one out of order is looked up (a duplicate is damage).
    const entry = { value, revision, lease };
    if (!keys.appendIfLast(key, entry)) {
      if (keys.get(key) !== undefined) throw new ErrDecode(`${where}: key appears twice`);
      keys.set(key, entry);
    }
    if (lease !== 0) this.keyLeases.push([key, lease]);
  }

  lease(id: number, ttl: number, where: string): void {
    checkLeaseNumber(id, where);
    if (this.store.leases.has(id)) throw new ErrDecode(`${where}: lease ${id} appears twice`);
    this.store.leases.set(id, {
      id,
      ttl: checkInt(ttl, `${where} "ttl"`, MIN_TTL, MAX_TTL),
      keys: new Set(),
      lock: null,
    });
  }

  /** A lock; `holder` 0 for a free one. */
  lock(name: string, holder: number, token: number, waiters: number[], where: string): void {
    checkKey(name, where);
    if (this.lockLines.some((line) => line.name === name))
      throw new ErrDecode(`${where}: lock appears twice`);
    if (holder !== 0) checkLeaseNumber(holder, where);
    for (const waiter of waiters) checkLeaseNumber(waiter, where);
    if (holder === 0) checkInt(token, `${where} "token"`, 0, 0);
    else checkInt(token, `${where} "token"`, 1, this.store.revision);
    if (holder === 0 && waiters.length > 0) throw new ErrDecode(`${where}: a free lock has waiters`);
    this.lockLines.push({ name, lock: { holder, token, waiters } });
  }

  /** A history event: a put with its value, or a delete (value null). */
  event(revision: number, op: string, key: string, value: Buffer | null, where: string): void {
    checkInt(revision, `${where} "revision"`, this.lastEvent, this.store.revision);
    if (revision === this.store.history.compactRevision)
      throw new ErrDecode(`${where}: event at or before the compact revision`);
    if (op !== 'put' && op !== 'delete') throw new ErrDecode(`${where}: "op" must be "put" or "delete"`);
    if ((op === 'put') !== (value !== null))
      throw new ErrDecode(`${where}: a put has a value, a delete null`);
    checkKey(key, where);
    this.store.history.push({ revision, op, key, value });
    this.lastEvent = revision;
  }

  finish(): KvStore {
    const { store } = this;
    for (const [key, id] of this.keyLeases) {
      const lease = store.leases.get(id);
      if (lease === undefined) throw new ErrDecode(`key ${JSON.stringify(key)} names missing lease ${id}`);
      lease.keys.add(key);
    }
    for (const { name, lock } of this.lockLines) {
      for (const id of lock.holder === 0 ? lock.waiters : [lock.holder, ...lock.waiters]) {
        const lease = store.leases.get(id);
        if (lease === undefined || lease.lock !== null)
          throw new ErrDecode(`lock ${JSON.stringify(name)} names missing or shared lease ${id}`);
        store.leases.set(id, { ...lease, lock: name });
      }
      store.locks.set(name, lock);
    }
    store.history.trim(store.revision);
    return store;
  }
}

function checkKey(key: string, where: string): void {
  const problem = keyProblem(key, 'read');
  if (problem !== null) throw new ErrDecode(`${where}: ${problem}`);
}

/** Lease IDs are log indexes: safe integers from 1. */
function checkLeaseNumber(id: number, where: string): void {
  checkInt(id, `${where} lease ID`, 1, Number.MAX_SAFE_INTEGER);
}
