import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogType } from '../../src/core/types.js';
import { ErrDataDir, openNodeStorage } from '../../src/kit/storage.js';
import { systemClock } from '../../src/platform/clock.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raftkit-kit-storage-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const entry = {
  index: 1,
  term: 1,
  type: LogType.Command,
  data: new Uint8Array([1]),
  extensions: new Uint8Array(),
  appendedAt: 0,
};

async function kindAfterReopen(logStore?: 'wal' | 'lmdb') {
  const storage = await openNodeStorage(dir, { clock: systemClock, logStore });
  try {
    return { kind: storage.logStoreKind, last: await storage.logStore.lastIndex() };
  } finally {
    await storage.close();
  }
}

describe('openNodeStorage log store choice', () => {
  it('creates a WAL in a new directory by default', async () => {
    const storage = await openNodeStorage(dir, { clock: systemClock });
    expect(storage.logStoreKind).toBe('wal');
    await storage.logStore.storeLogs([entry]);
    await storage.close();
    expect(await kindAfterReopen()).toEqual({ kind: 'wal', last: 1 });
  });

  it('keeps using the LMDB store a directory holds, and refuses to open the other kind beside it', async () => {
    const storage = await openNodeStorage(dir, { clock: systemClock, logStore: 'lmdb' });
    expect(storage.logStoreKind).toBe('lmdb');
    await storage.logStore.storeLogs([entry]);
    await storage.close();
    expect(await kindAfterReopen()).toEqual({ kind: 'lmdb', last: 1 });
    expect(await kindAfterReopen('lmdb')).toEqual({ kind: 'lmdb', last: 1 });
    const error = await openNodeStorage(dir, { clock: systemClock, logStore: 'wal' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ErrDataDir);
    expect((error as Error).message).toMatch(/already holds a lmdb log store, not the wal one/);
    // The refusal released the lock: the directory still opens.
    expect(await kindAfterReopen()).toEqual({ kind: 'lmdb', last: 1 });
  });

  it('refuses a directory that holds both stores', async () => {
    await (await openNodeStorage(dir, { clock: systemClock, logStore: 'lmdb' })).close();
    await mkdir(join(dir, 'wal'));
    await expect(openNodeStorage(dir, { clock: systemClock })).rejects.toThrow(
      /holds both wal\/ and raft.lmdb/,
    );
  });
});
