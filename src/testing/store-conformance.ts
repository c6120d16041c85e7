/**
 * The contract every durable LogStore + StableStore keeps: hashicorp's semantics ("log not found",
 * "not found", inclusive ranges), raftkit's durability promise (a write resolves once durable;
 * close lets queued writes finish; reopening gives back exactly what was written) and group commit
 * (writes issued in one turn, or while a commit is in flight, share commits). raftkit runs it
 * against WalStore and LmdbStore; run it against your own store with `runStoreConformance`.
 * Store-specific behaviour (file formats, damage, deletes in the middle of the log) is not here.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrLogNotFound, ErrNotFound, ErrStoreClosed, ErrStoreCorrupt } from '../core/errors.js';
import { LogType, type LogEntry } from '../core/types.js';
import { sleep, systemClock } from '../platform/clock.js';
import { readEntryTerms } from '../storage/entry-terms.js';
import type { LogStore, StableStore } from '../storage/types.js';

/** A log and stable store in one object that can be closed and reopened (what the suite tests). */
export type DurableStore = LogStore & StableStore & Closable;

/** Something with a close that lets queued writes finish first. */
export interface Closable {
  /** Finishes queued writes, then releases the store. */
  close(): Promise<void>;
}

/** Writes held back until `release()`: what keeps a commit in flight for as long as a test wants. */
export interface WriteHold {
  /** Resolves once a write is waiting. */
  parked: Promise<void>;
  /** Lets the held writes, and all later ones, through. */
  release(): void;
}

/** How the suite opens your store and counts its commits. */
export interface StoreHarness<S extends DurableStore = DurableStore> {
  /** The store's name, for reports. */
  name: string;
  /** Opens (creating) the store at a path inside `dir`; the same dir reopens the same store. */
  open(dir: string): Promise<S>;
  /** Durable commits (transactions, groups) so far: each costs one round of syncs. */
  commits(store: S): number;
  /** The longest stable-store key the store accepts, in bytes. */
  maxKeyBytes: number;
  /**
   * Optional: holds the store's commits from now until `release()`; `parked` resolves once one
   * waits (WalStore's harness does it through its file layer). With it the group-commit case
   * decides exactly which writes are issued while a commit is in flight; without it the case
   * relies on a large commit taking a while.
   */
  holdCommits?(store: S): WriteHold;
}

/** What a case works with: the open store (replaced by reopen) and the harness. */
export interface ConformanceContext<S extends DurableStore = DurableStore> {
  /** The store as currently open. */
  readonly store: S;
  /** The harness that opened it. */
  readonly harness: StoreHarness<S>;
  /** Closes the store and opens it again from the same place. */
  reopen(): Promise<void>;
}

/** One case of the contract; it throws (an assertion error) when the store breaks it. */
export interface ConformanceCase {
  /** The role the case tests, e.g. 'as LogStore'. */
  group: string;
  /** What the case checks. */
  name: string;
  /** Runs the case against a freshly opened store. */
  run<S extends DurableStore>(t: ConformanceContext<S>): Promise<void>;
}

/** The outcome of `runStoreConformance`: every case's name, passed or failed. */
export interface ConformanceReport {
  /** Names (`group: name`) of the cases that passed. */
  passed: string[];
  /** The cases that failed, with what they threw. */
  failed: ConformanceFailure[];
}

/** A failed conformance case. */
export interface ConformanceFailure {
  /** `group: name` of the case. */
  name: string;
  /** What the case threw. */
  error: unknown;
}

/** A log entry whose fields all vary with index and term (a Noop every 7th, extensions every 3rd). */
export function entry(index: number, term = 1, size = 16): LogEntry {
  return {
    index,
    term,
    type: index % 7 === 0 ? LogType.Noop : LogType.Command,
    data: new Uint8Array(size).fill((index * 31 + term) & 0xff),
    extensions: index % 3 === 0 ? new Uint8Array([term, 1, 2]) : new Uint8Array(),
    appendedAt: 1_700_000_000_000 + index,
  };
}

export function entries(from: number, to: number, term = 1): LogEntry[] {
  const out: LogEntry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

/** Comparable form: Buffer and Uint8Array views of equal bytes become equal arrays. */
export function plain(list: LogEntry[]) {
  return list.map((e) => ({ ...e, data: [...e.data], extensions: [...e.extensions] }));
}

/** Waits for a later macrotask, so that writes issued after it fall in a new event turn. */
function nextTurn(): Promise<void> {
  return sleep(systemClock, 0);
}

/** What the group-commit scenario saw: turns issued while a commit was in flight, commits made. */
interface TurnsOutcome {
  issuedWhileInFlight: number;
  commits: number;
  lastIndex: number;
}

/**
 * The group-commit scenario with the store's commits held: a commit of entries 1..100 is in
 * flight (held) while `turns` later turns each write a term and an entry; then the hold ends.
 */
async function writeTurnsWhileHeld<S extends DurableStore>(
  t: ConformanceContext<S>,
  turns: number,
): Promise<TurnsOutcome> {
  const before = t.harness.commits(t.store);
  const hold = t.harness.holdCommits!(t.store);
  const first = t.store.storeLogs(entries(1, 100));
  await hold.parked;
  const writes: Promise<void>[] = [first];
  for (let i = 0; i < turns; i++) {
    await nextTurn();
    writes.push(t.store.setUint64('CurrentTerm', i), t.store.storeLog(entry(101 + i)));
  }
  hold.release();
  await Promise.all(writes);
  return { issuedWhileInFlight: turns, commits: t.harness.commits(t.store) - before, lastIndex: 100 + turns };
}

/**
 * The same scenario for a store that cannot hold its commits: a large first commit keeps the
 * writer busy for a while; if fewer than 3 turns were issued before it finished (a fast disk, a
 * busy machine), it is tried again with a commit four times larger, up to 4 times.
 */
async function writeTurnsBehindLargeCommits<S extends DurableStore>(
  t: ConformanceContext<S>,
  turns: number,
): Promise<TurnsOutcome> {
  let next = 1;
  let issuedWhileInFlight = 0;
  let commits = 0;
  for (let attempt = 0, count = 4000; attempt < 4 && issuedWhileInFlight < 3; attempt++, count *= 4) {
    const before = t.harness.commits(t.store);
    const big = t.store.storeLogs(
      entries(next, next + count - 1).map((e) => ({ ...e, data: new Uint8Array(1024) })),
    );
    next += count;
    let bigDone = false;
    void big.then(() => (bigDone = true));
    const small: Promise<void>[] = [];
    issuedWhileInFlight = 0;
    for (let i = 0; i < turns; i++) {
      await nextTurn();
      if (!bigDone) issuedWhileInFlight++;
      small.push(t.store.setUint64('CurrentTerm', i), t.store.storeLog(entry(next++)));
    }
    await Promise.all([big, ...small]);
    commits = t.harness.commits(t.store) - before;
  }
  return { issuedWhileInFlight, commits, lastIndex: next - 1 };
}

/** Every case of the store contract, in order; run one with `runConformanceCase` (e.g. one test each). */
export const STORE_CONFORMANCE_CASES: readonly ConformanceCase[] = [
  {
    group: 'as LogStore',
    name: 'reports an empty log as 0..0 and missing entries as ErrLogNotFound',
    async run(t) {
      assert.equal(await t.store.firstIndex(), 0);
      assert.equal(await t.store.lastIndex(), 0);
      for (const index of [0, 1, -1, 1.5]) {
        const error = await t.store.getLog(index).catch((e: unknown) => e);
        assert.ok(error instanceof ErrLogNotFound);
        assert.equal((error as Error).message, 'log not found');
      }
      await assert.rejects(t.store.getLogs(1, 1), ErrLogNotFound);
      assert.deepEqual(await t.store.getLogs(5, 4), []);
    },
  },
  {
    group: 'as LogStore',
    name: 'stores entries and reads them back by index and inclusive range',
    async run(t) {
      await t.store.storeLogs(entries(1, 10));
      await t.store.storeLog(entry(11, 2));
      assert.equal(await t.store.firstIndex(), 1);
      assert.equal(await t.store.lastIndex(), 11);
      assert.deepEqual(plain([await t.store.getLog(7)]), plain([entry(7)]));
      assert.deepEqual(plain(await t.store.getLogs(3, 11)), plain([...entries(3, 10), entry(11, 2)]));
      assert.deepEqual(plain(await t.store.getLogs(4, 4)), plain([entry(4)]));
      await assert.rejects(t.store.getLogs(10, 12), ErrLogNotFound);
      await assert.rejects(t.store.getLogs(0, 3), ErrLogNotFound);
    },
  },
  {
    group: 'as LogStore',
    name: 'keeps a log with indexes beyond 2^32 ordered',
    async run(t) {
      const base = 2 ** 32 - 2;
      await t.store.storeLogs(entries(base, base + 4));
      assert.equal(await t.store.firstIndex(), base);
      assert.equal(await t.store.lastIndex(), base + 4);
      assert.deepEqual(
        (await t.store.getLogs(base, base + 4)).map((e) => e.index),
        [0, 1, 2, 3, 4].map((i) => base + i),
      );
    },
  },
  {
    group: 'as LogStore',
    name: 'deletes inclusive ranges: suffix, prefix, everything, and ignores ranges outside the log',
    async run(t) {
      await t.store.storeLogs(entries(1, 20));
      await t.store.deleteRange(18, 100);
      assert.equal(await t.store.lastIndex(), 17);
      await t.store.deleteRange(1, 5);
      assert.equal(await t.store.firstIndex(), 6);
      await t.store.deleteRange(30, 40);
      await t.store.deleteRange(9, 5);
      assert.equal(await t.store.firstIndex(), 6);
      await t.store.deleteRange(0, Number.MAX_SAFE_INTEGER);
      assert.equal(await t.store.firstIndex(), 0);
      assert.equal(await t.store.lastIndex(), 0);
      await t.store.storeLogs(entries(50, 52));
      assert.equal(await t.store.firstIndex(), 50);
    },
  },
  {
    group: 'as LogStore',
    name: 'applies a truncation and the entries that replace it, issued in one turn, in order',
    async run(t) {
      await t.store.storeLogs(entries(1, 10, 1));
      // Raft's conflict handling: drop 6.. and write new entries from 6 with a newer term.
      const writes = [
        t.store.storeLogs(entries(11, 12, 1)),
        t.store.deleteRange(6, 20),
        t.store.storeLogs(entries(6, 8, 2)),
      ];
      await Promise.all(writes);
      assert.equal(await t.store.lastIndex(), 8);
      assert.deepEqual(plain(await t.store.getLogs(1, 8)), plain([...entries(1, 5, 1), ...entries(6, 8, 2)]));
      await t.reopen();
      assert.deepEqual(plain(await t.store.getLogs(1, 8)), plain([...entries(1, 5, 1), ...entries(6, 8, 2)]));
      assert.equal(await t.store.lastIndex(), 8);
    },
  },
  {
    group: 'as LogStore',
    name: 'overwrites an entry stored again at the same index',
    async run(t) {
      await t.store.storeLogs(entries(1, 3, 1));
      await t.store.storeLog(entry(2, 5));
      assert.equal((await t.store.getLog(2)).term, 5);
    },
  },
  {
    group: 'as LogStore',
    name: 'rejects a batch with an invalid entry without writing any of it',
    async run(t) {
      await assert.rejects(t.store.storeLogs([entry(1), entry(0)]), RangeError);
      await assert.rejects(t.store.storeLogs([entry(1), { ...entry(2), type: 42 as LogType }]), RangeError);
      await assert.rejects(t.store.deleteRange(1.5, 3), RangeError);
      assert.equal(await t.store.lastIndex(), 0);
    },
  },
  {
    group: 'as StableStore',
    name: 'answers missing keys with ErrNotFound whose text is exactly "not found"',
    async run(t) {
      for (const read of [() => t.store.get('CurrentTerm'), () => t.store.getUint64('CurrentTerm')]) {
        const error = await read().catch((e: unknown) => e);
        assert.ok(error instanceof ErrNotFound);
        assert.equal((error as Error).message, 'not found');
      }
    },
  },
  {
    group: 'as StableStore',
    name: 'stores bytes and uint64s (as 8-byte big-endian, like raft-boltdb) in one key space',
    async run(t) {
      await t.store.set('LastVoteCand', Buffer.from('n2\n127.0.0.1:7002'));
      await t.store.setUint64('CurrentTerm', Number.MAX_SAFE_INTEGER);
      await t.store.setUint64('LastVoteTerm', 0x0102);
      assert.equal(Buffer.from(await t.store.get('LastVoteCand')).toString(), 'n2\n127.0.0.1:7002');
      assert.equal(await t.store.getUint64('CurrentTerm'), Number.MAX_SAFE_INTEGER);
      assert.deepEqual([...(await t.store.get('LastVoteTerm'))], [0, 0, 0, 0, 0, 0, 1, 2]);
      await t.store.set('empty', new Uint8Array());
      assert.equal((await t.store.get('empty')).length, 0);
    },
  },
  {
    group: 'as StableStore',
    name: 'copies the value, so a caller reusing its buffer does not change what is stored',
    async run(t) {
      const buffer = Buffer.from('first');
      const write = t.store.set('k', buffer);
      buffer.write('XXXXX');
      await write;
      assert.equal(Buffer.from(await t.store.get('k')).toString(), 'first');
    },
  },
  {
    group: 'as StableStore',
    name: 'answers a value that is not 8 bytes with ErrStoreCorrupt from getUint64',
    async run(t) {
      await t.store.set('CurrentTerm', Buffer.from('abc'));
      await assert.rejects(t.store.getUint64('CurrentTerm'), ErrStoreCorrupt);
    },
  },
  {
    group: 'as StableStore',
    name: 'refuses empty and over-long keys',
    async run(t) {
      await assert.rejects(t.store.set('', new Uint8Array(1)), RangeError);
      await assert.rejects(t.store.get('x'.repeat(t.harness.maxKeyBytes + 1)), RangeError);
      await t.store.set('y'.repeat(t.harness.maxKeyBytes), new Uint8Array([1]));
      assert.deepEqual([...(await t.store.get('y'.repeat(t.harness.maxKeyBytes)))], [1]);
      await assert.rejects(t.store.setUint64('k', -1), RangeError);
    },
  },
  {
    group: 'group commit',
    name: 'commits log and stable writes issued in one turn in a single transaction',
    async run(t) {
      const before = t.harness.commits(t.store);
      const writes: Promise<void>[] = [];
      for (let i = 0; i < 50; i++) writes.push(t.store.storeLogs(entries(i * 4 + 1, i * 4 + 4)));
      for (let i = 0; i < 20; i++) writes.push(t.store.setUint64(`key${i}`, i));
      writes.push(t.store.set('LastVoteCand', Buffer.from('n1')));
      writes.push(t.store.deleteRange(1, 8));
      await Promise.all(writes);
      assert.equal(t.harness.commits(t.store) - before, 1);
      assert.equal(await t.store.firstIndex(), 9);
      assert.equal(await t.store.lastIndex(), 200);
      assert.equal(await t.store.getUint64('key19'), 19);
    },
  },
  {
    group: 'group commit',
    name: 'groups writes issued in later turns while a commit is in flight',
    async run(t) {
      const turns = 40;
      const { issuedWhileInFlight, commits, lastIndex } = t.harness.holdCommits
        ? await writeTurnsWhileHeld(t, turns)
        : await writeTurnsBehindLargeCommits(t, turns);
      // One commit per turn would be 1 + turns commits. Group commit folds all turns queued during
      // the in-flight commit into one or two, so with at least 3 such turns the bound below is
      // below one commit per turn.
      assert.ok(
        issuedWhileInFlight >= 3,
        `only ${issuedWhileInFlight} turns were issued while a commit was in flight`,
      );
      assert.ok(commits <= 1 + turns - issuedWhileInFlight + 2, `${commits} commits for ${turns + 1} turns`);
      assert.equal(await t.store.lastIndex(), lastIndex);
      assert.equal(await t.store.getUint64('CurrentTerm'), turns - 1);
    },
  },
  {
    group: 'as LogStore',
    name: 'reports the terms and types of a range of entries (entryTerms) as the entries hold them',
    async run(t) {
      const written = [...entries(1, 30, 1), ...entries(31, 60, 2), ...entries(61, 64, 7)];
      await t.store.storeLogs(written);
      await t.store.deleteRange(1, 4);
      await Promise.all([t.store.deleteRange(62, 64), t.store.storeLogs(entries(62, 63, 9))]);
      const expected = [...written.slice(4, 61), ...entries(62, 63, 9)];
      const check = async () => {
        const { terms, types } = await readEntryTerms(t.store, 5, 63);
        assert.deepEqual(
          [...terms],
          expected.map((e) => e.term),
        );
        assert.deepEqual(
          [...types],
          expected.map((e) => e.type),
        );
        const middle = await readEntryTerms(t.store, 30, 31);
        assert.deepEqual([...middle.terms], [1, 2]);
        assert.equal((await readEntryTerms(t.store, 9, 8)).terms.length, 0);
        await assert.rejects(readEntryTerms(t.store, 4, 10), ErrLogNotFound);
        await assert.rejects(readEntryTerms(t.store, 60, 64), ErrLogNotFound);
      };
      await check();
      await t.reopen();
      await check();
    },
  },
  {
    group: 'lifecycle',
    name: 'gives back exactly what was written after a clean close and reopen',
    async run(t) {
      await t.store.storeLogs(entries(1, 300, 1));
      await t.store.deleteRange(1, 100);
      await Promise.all([t.store.deleteRange(251, 300), t.store.storeLogs(entries(251, 260, 2))]);
      await t.store.setUint64('CurrentTerm', 2);
      await t.store.set('LastVoteCand', Buffer.from([0, 1, 2, 255]));
      // Written without waiting: close() must let it finish first.
      const pending = t.store.storeLog(entry(261, 2));
      await t.reopen();
      await pending;
      assert.equal(await t.store.firstIndex(), 101);
      assert.equal(await t.store.lastIndex(), 261);
      const expected = [...entries(101, 250, 1), ...entries(251, 261, 2)];
      assert.deepEqual(plain(await t.store.getLogs(101, 261)), plain(expected));
      assert.equal(await t.store.getUint64('CurrentTerm'), 2);
      assert.deepEqual([...(await t.store.get('LastVoteCand'))], [0, 1, 2, 255]);
    },
  },
  {
    group: 'lifecycle',
    name: 'rejects every call after close with ErrStoreClosed, and close is idempotent',
    async run(t) {
      await t.store.close();
      await t.store.close();
      const calls = [
        t.store.firstIndex(),
        t.store.lastIndex(),
        t.store.getLog(1),
        t.store.getLogs(1, 2),
        t.store.storeLog(entry(1)),
        t.store.storeLogs([entry(1)]),
        t.store.deleteRange(1, 2),
        t.store.set('k', new Uint8Array(1)),
        t.store.get('k'),
        t.store.setUint64('k', 1),
        t.store.getUint64('k'),
      ];
      // Settle all first, so that one failing check leaves no rejection unobserved.
      const outcomes = await Promise.allSettled(calls);
      outcomes.forEach((outcome, i) => {
        assert.ok(
          outcome.status === 'rejected' && outcome.reason instanceof ErrStoreClosed,
          `call ${i} after close: expected ErrStoreClosed, got ${outcome.status === 'rejected' ? String(outcome.reason) : 'success'}`,
        );
      });
    },
  },
];

/** Runs one case against a fresh store in a new temporary directory, which it removes after. */
export async function runConformanceCase<S extends DurableStore>(
  harness: StoreHarness<S>,
  testCase: ConformanceCase,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'raftkit-conformance-'));
  let store = await harness.open(dir);
  const context: ConformanceContext<S> = {
    get store() {
      return store;
    },
    harness,
    async reopen() {
      await store.close();
      store = await harness.open(dir);
    },
  };
  try {
    await testCase.run(context);
  } finally {
    await store.close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Runs every case; a store conforms when `failed` is empty. Run it with durability on: the group
 * commit cases need commits that take a while (a store that skips fsync finishes too soon).
 */
export async function runStoreConformance<S extends DurableStore>(
  harness: StoreHarness<S>,
): Promise<ConformanceReport> {
  const passed: string[] = [];
  const failed: ConformanceFailure[] = [];
  for (const testCase of STORE_CONFORMANCE_CASES) {
    const name = `${testCase.group}: ${testCase.name}`;
    try {
      await runConformanceCase(harness, testCase);
      passed.push(name);
    } catch (error) {
      failed.push({ name, error });
    }
  }
  return { passed, failed };
}
