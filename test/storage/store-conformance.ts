/**
 * The contract every durable LogStore + StableStore keeps (hashicorp's semantics, raftkit's
 * durability and group-commit promises), run against each implementation by its own test file.
 * Implementation-specific behaviour (file formats, damage handling, deletes in the middle of the
 * log) is tested next to each store.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrLogNotFound, ErrNotFound, ErrStoreClosed, ErrStoreCorrupt } from '../../src/core/errors.js';
import { LogType, type LogEntry } from '../../src/core/types.js';
import type { LogStore, StableStore } from '../../src/storage/types.js';

export type DurableStore = LogStore & StableStore & { close(): Promise<void> };

export interface StoreHarness<S extends DurableStore> {
  name: string;
  /** Opens (creating) the store at a path inside `dir`; the same dir reopens the same store. */
  open(dir: string): Promise<S>;
  /** Durable commits (transactions, groups) so far: each costs one round of syncs. */
  commits(store: S): number;
  /** The longest stable-store key the store accepts, in bytes. */
  maxKeyBytes: number;
}

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

/** Waits for the next macrotask, so that writes issued after it fall in a new event turn. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function describeStoreConformance<S extends DurableStore>(harness: StoreHarness<S>): void {
  let dir: string;
  let store: S;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'raftkit-store-'));
    store = await harness.open(dir);
  });

  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function reopen(): Promise<void> {
    await store.close();
    store = await harness.open(dir);
  }

  describe(`${harness.name} as LogStore`, () => {
    it('reports an empty log as 0..0 and missing entries as ErrLogNotFound', async () => {
      expect(await store.firstIndex()).toBe(0);
      expect(await store.lastIndex()).toBe(0);
      for (const index of [0, 1, -1, 1.5]) {
        const error = await store.getLog(index).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ErrLogNotFound);
        expect((error as Error).message).toBe('log not found');
      }
      await expect(store.getLogs(1, 1)).rejects.toBeInstanceOf(ErrLogNotFound);
      expect(await store.getLogs(5, 4)).toEqual([]);
    });

    it('stores entries and reads them back by index and inclusive range', async () => {
      await store.storeLogs(entries(1, 10));
      await store.storeLog(entry(11, 2));
      expect(await store.firstIndex()).toBe(1);
      expect(await store.lastIndex()).toBe(11);
      expect(plain([await store.getLog(7)])).toEqual(plain([entry(7)]));
      expect(plain(await store.getLogs(3, 11))).toEqual(plain([...entries(3, 10), entry(11, 2)]));
      expect(plain(await store.getLogs(4, 4))).toEqual(plain([entry(4)]));
      await expect(store.getLogs(10, 12)).rejects.toBeInstanceOf(ErrLogNotFound);
      await expect(store.getLogs(0, 3)).rejects.toBeInstanceOf(ErrLogNotFound);
    });

    it('keeps a log with indexes beyond 2^32 ordered', async () => {
      const base = 2 ** 32 - 2;
      await store.storeLogs(entries(base, base + 4));
      expect(await store.firstIndex()).toBe(base);
      expect(await store.lastIndex()).toBe(base + 4);
      expect((await store.getLogs(base, base + 4)).map((e) => e.index)).toEqual(
        [0, 1, 2, 3, 4].map((i) => base + i),
      );
    });

    it('deletes inclusive ranges: suffix, prefix, everything, and ignores ranges outside the log', async () => {
      await store.storeLogs(entries(1, 20));
      await store.deleteRange(18, 100);
      expect(await store.lastIndex()).toBe(17);
      await store.deleteRange(1, 5);
      expect(await store.firstIndex()).toBe(6);
      await store.deleteRange(30, 40);
      await store.deleteRange(9, 5);
      expect(await store.firstIndex()).toBe(6);
      await store.deleteRange(0, Number.MAX_SAFE_INTEGER);
      expect(await store.firstIndex()).toBe(0);
      expect(await store.lastIndex()).toBe(0);
      await store.storeLogs(entries(50, 52));
      expect(await store.firstIndex()).toBe(50);
    });

    it('applies a truncation and the entries that replace it, issued in one turn, in order', async () => {
      await store.storeLogs(entries(1, 10, 1));
      // Raft's conflict handling: drop 6.. and write new entries from 6 with a newer term.
      const writes = [
        store.storeLogs(entries(11, 12, 1)),
        store.deleteRange(6, 20),
        store.storeLogs(entries(6, 8, 2)),
      ];
      await Promise.all(writes);
      expect(await store.lastIndex()).toBe(8);
      expect(plain(await store.getLogs(1, 8))).toEqual(plain([...entries(1, 5, 1), ...entries(6, 8, 2)]));
      await reopen();
      expect(plain(await store.getLogs(1, 8))).toEqual(plain([...entries(1, 5, 1), ...entries(6, 8, 2)]));
      expect(await store.lastIndex()).toBe(8);
    });

    it('overwrites an entry stored again at the same index', async () => {
      await store.storeLogs(entries(1, 3, 1));
      await store.storeLog(entry(2, 5));
      expect((await store.getLog(2)).term).toBe(5);
    });

    it('rejects a batch with an invalid entry without writing any of it', async () => {
      await expect(store.storeLogs([entry(1), entry(0)])).rejects.toBeInstanceOf(RangeError);
      await expect(store.storeLogs([entry(1), { ...entry(2), type: 42 as LogType }])).rejects.toBeInstanceOf(
        RangeError,
      );
      await expect(store.deleteRange(1.5, 3)).rejects.toBeInstanceOf(RangeError);
      expect(await store.lastIndex()).toBe(0);
    });
  });

  describe(`${harness.name} as StableStore`, () => {
    it('answers missing keys with ErrNotFound whose text is exactly "not found"', async () => {
      for (const read of [() => store.get('CurrentTerm'), () => store.getUint64('CurrentTerm')]) {
        const error = await read().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ErrNotFound);
        expect((error as Error).message).toBe('not found');
      }
    });

    it('stores bytes and uint64s (as 8-byte big-endian, like raft-boltdb) in one key space', async () => {
      await store.set('LastVoteCand', Buffer.from('n2\n127.0.0.1:7002'));
      await store.setUint64('CurrentTerm', Number.MAX_SAFE_INTEGER);
      await store.setUint64('LastVoteTerm', 0x0102);
      expect(Buffer.from(await store.get('LastVoteCand')).toString()).toBe('n2\n127.0.0.1:7002');
      expect(await store.getUint64('CurrentTerm')).toBe(Number.MAX_SAFE_INTEGER);
      expect([...(await store.get('LastVoteTerm'))]).toEqual([0, 0, 0, 0, 0, 0, 1, 2]);
      await store.set('empty', new Uint8Array());
      expect((await store.get('empty')).length).toBe(0);
    });

    it('copies the value, so a caller reusing its buffer does not change what is stored', async () => {
      const buffer = Buffer.from('first');
      const write = store.set('k', buffer);
      buffer.write('XXXXX');
      await write;
      expect(Buffer.from(await store.get('k')).toString()).toBe('first');
    });

    it('answers a value that is not 8 bytes with ErrStoreCorrupt from getUint64', async () => {
      await store.set('CurrentTerm', Buffer.from('abc'));
      await expect(store.getUint64('CurrentTerm')).rejects.toBeInstanceOf(ErrStoreCorrupt);
    });

    it('refuses empty and over-long keys', async () => {
      await expect(store.set('', new Uint8Array(1))).rejects.toBeInstanceOf(RangeError);
      await expect(store.get('x'.repeat(harness.maxKeyBytes + 1))).rejects.toBeInstanceOf(RangeError);
      await store.set('y'.repeat(harness.maxKeyBytes), new Uint8Array([1]));
      expect([...(await store.get('y'.repeat(harness.maxKeyBytes)))]).toEqual([1]);
      await expect(store.setUint64('k', -1)).rejects.toBeInstanceOf(RangeError);
    });
  });

  describe(`${harness.name} group commit`, () => {
    it('commits log and stable writes issued in one turn in a single transaction', async () => {
      const before = harness.commits(store);
      const writes: Promise<void>[] = [];
      for (let i = 0; i < 50; i++) writes.push(store.storeLogs(entries(i * 4 + 1, i * 4 + 4)));
      for (let i = 0; i < 20; i++) writes.push(store.setUint64(`key${i}`, i));
      writes.push(store.set('LastVoteCand', Buffer.from('n1')));
      writes.push(store.deleteRange(1, 8));
      await Promise.all(writes);
      expect(harness.commits(store) - before).toBe(1);
      expect(await store.firstIndex()).toBe(9);
      expect(await store.lastIndex()).toBe(200);
      expect(await store.getUint64('key19')).toBe(19);
    });

    it('groups writes issued in later turns while a commit is in flight', async () => {
      const before = harness.commits(store);
      // A large first commit keeps the writer busy for a while, even on a RAM disk.
      const big = store.storeLogs(entries(1, 4000).map((e) => ({ ...e, data: new Uint8Array(1024) })));
      let bigDone = false;
      void big.then(() => (bigDone = true));
      const small: Promise<void>[] = [];
      let issuedWhileInFlight = 0;
      for (let i = 0; i < 40; i++) {
        await nextTurn();
        if (!bigDone) issuedWhileInFlight++;
        small.push(store.setUint64('CurrentTerm', i), store.storeLog(entry(4001 + i)));
      }
      await Promise.all([big, ...small]);
      const commits = harness.commits(store) - before;
      // One commit per turn would be 41 commits. Group commit folds all turns queued during the big
      // commit into one or two, so with at least 3 such turns the bound below is below 41.
      expect(issuedWhileInFlight).toBeGreaterThanOrEqual(3);
      expect(commits).toBeLessThanOrEqual(41 - issuedWhileInFlight + 2);
      expect(await store.lastIndex()).toBe(4040);
      expect(await store.getUint64('CurrentTerm')).toBe(39);
    });
  });

  describe(`${harness.name} lifecycle`, () => {
    it('gives back exactly what was written after a clean close and reopen', async () => {
      await store.storeLogs(entries(1, 300, 1));
      await store.deleteRange(1, 100);
      await Promise.all([store.deleteRange(251, 300), store.storeLogs(entries(251, 260, 2))]);
      await store.setUint64('CurrentTerm', 2);
      await store.set('LastVoteCand', Buffer.from([0, 1, 2, 255]));
      // Written without waiting: close() must let it finish first.
      const pending = store.storeLog(entry(261, 2));
      await reopen();
      await pending;
      expect(await store.firstIndex()).toBe(101);
      expect(await store.lastIndex()).toBe(261);
      const expected = [...entries(101, 250, 1), ...entries(251, 261, 2)];
      expect(plain(await store.getLogs(101, 261))).toEqual(plain(expected));
      expect(await store.getUint64('CurrentTerm')).toBe(2);
      expect([...(await store.get('LastVoteCand'))]).toEqual([0, 1, 2, 255]);
    });

    it('rejects every call after close with ErrStoreClosed, and close is idempotent', async () => {
      await store.close();
      await store.close();
      const calls = [
        store.firstIndex(),
        store.lastIndex(),
        store.getLog(1),
        store.getLogs(1, 2),
        store.storeLog(entry(1)),
        store.storeLogs([entry(1)]),
        store.deleteRange(1, 2),
        store.set('k', new Uint8Array(1)),
        store.get('k'),
        store.setUint64('k', 1),
        store.getUint64('k'),
      ];
      for (const call of calls) await expect(call).rejects.toBeInstanceOf(ErrStoreClosed);
    });
  });
}
