import { open as openLmdb } from 'lmdb';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrLogNotFound, ErrStoreClosed, ErrStoreCorrupt } from '../../src/core/errors.js';
import { LmdbStore, newLmdbStore } from '../../src/storage/lmdb.js';
import { encodeUint64 } from '../../src/storage/log-codec.js';
import { describeStoreConformance, entries, entry, plain } from './store-conformance.js';

describeStoreConformance({
  name: 'LmdbStore',
  open: (dir) => LmdbStore.open(join(dir, 'raft.lmdb')),
  commits: (store) => store.lastTransactionId(),
  maxKeyBytes: 1978,
});

let dir: string;
let path: string;
let store: LmdbStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raftkit-lmdb-'));
  path = join(dir, 'raft.lmdb');
  store = await LmdbStore.open(path);
});

afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('LmdbStore specifics', () => {
  it('deletes a hole in the middle of the log', async () => {
    await store.storeLogs(entries(1, 20));
    await store.deleteRange(10, 10);
    await expect(store.getLog(10)).rejects.toBeInstanceOf(ErrLogNotFound);
    await expect(store.getLogs(9, 11)).rejects.toBeInstanceOf(ErrLogNotFound);
    expect((await store.getLogs(11, 20)).length).toBe(10);
    expect(await store.firstIndex()).toBe(1);
    expect(await store.lastIndex()).toBe(20);
  });

  it('refuses its transaction counter after close', async () => {
    await store.close();
    expect(() => store.lastTransactionId()).toThrow(ErrStoreClosed);
  });

  it('answers a damaged stored entry with ErrStoreCorrupt and keeps serving the others', async () => {
    await store.storeLogs(entries(1, 5));
    await store.close();
    const env = openLmdb({ path, overlappingSync: false });
    const logs = env.openDB({ name: 'logs', keyEncoding: 'binary', encoding: 'binary' });
    await logs.put(encodeUint64(3), Buffer.from([1, 2, 3]));
    await logs.put(encodeUint64(4), Buffer.alloc(40, 0xff));
    await env.close();
    store = await LmdbStore.open(path);
    await expect(store.getLog(3)).rejects.toBeInstanceOf(ErrStoreCorrupt);
    await expect(store.getLog(4)).rejects.toThrow(/unknown format version 255/);
    await expect(store.getLogs(1, 5)).rejects.toBeInstanceOf(ErrStoreCorrupt);
    expect(plain([await store.getLog(5)])).toEqual(plain([entry(5)]));
  });

  it('refuses a file that is not an LMDB environment instead of crashing', async () => {
    const junk = join(dir, 'junk.lmdb');
    await writeFile(junk, Buffer.alloc(8192, 7));
    await expect(LmdbStore.open(junk)).rejects.toBeInstanceOf(ErrStoreCorrupt);
    await writeFile(junk, Buffer.alloc(10, 7));
    await expect(newLmdbStore(junk)).rejects.toBeInstanceOf(ErrStoreCorrupt);
  });

  it('also works as a directory (a path without an extension)', async () => {
    const other = await newLmdbStore(join(dir, 'nested', 'raft'));
    try {
      await other.storeLogs(entries(1, 3));
      await other.setUint64('CurrentTerm', 9);
    } finally {
      await other.close();
    }
    const again = await newLmdbStore(join(dir, 'nested', 'raft'));
    try {
      expect(await again.lastIndex()).toBe(3);
      expect(await again.getUint64('CurrentTerm')).toBe(9);
    } finally {
      await again.close();
    }
  });
});
