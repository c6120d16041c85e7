import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WalStore } from '../../src/storage/wal.js';
import { faultyFileSystem, type FaultyFileSystem } from '../../src/testing/fault-files.js';
import {
  runConformanceCase,
  runStoreConformance,
  STORE_CONFORMANCE_CASES,
} from '../../src/testing/store-conformance.js';

const walHarness = {
  name: 'WalStore',
  open: (dir: string) => WalStore.open(join(dir, 'wal')),
  commits: (store: WalStore) => store.groupCount(),
  maxKeyBytes: 0xffff,
};

describe('runStoreConformance (the public runner for third-party stores)', () => {
  it('passes a conforming store on every case', async () => {
    const { passed, failed } = await runStoreConformance(walHarness);
    expect(failed).toEqual([]);
    expect(passed).toHaveLength(STORE_CONFORMANCE_CASES.length);
  });

  it('names the cases a broken store fails: here, one whose deleteRange does nothing', async () => {
    const { failed } = await runStoreConformance({
      ...walHarness,
      open: async (dir: string) => {
        const store = await walHarness.open(dir);
        store.deleteRange = () => Promise.resolve();
        return store;
      },
    });
    expect(failed.map((failure) => failure.name)).toEqual(
      expect.arrayContaining([
        'as LogStore: deletes inclusive ranges: suffix, prefix, everything, and ignores ranges outside the log',
        'lifecycle: gives back exactly what was written after a clean close and reopen',
      ]),
    );
    expect(failed.length).toBeLessThan(STORE_CONFORMANCE_CASES.length);
  });

  it('names the group-commit case for a store that commits each write on its own', async () => {
    const layers = new WeakMap<WalStore, FaultyFileSystem>();
    const groupCase = STORE_CONFORMANCE_CASES.find((c) => /while a commit is in flight/.test(c.name))!;
    const harness = {
      ...walHarness,
      open: async (dir: string) => {
        const files = faultyFileSystem('');
        const store = await WalStore.open(join(dir, 'wal'), { files });
        layers.set(store, files);
        // Each write waits for the one before it: one commit per write, never a shared one.
        let previous: Promise<unknown> = Promise.resolve();
        const serial =
          <A extends unknown[]>(write: (...args: A) => Promise<void>) =>
          (...args: A): Promise<void> => {
            const next = previous.then(() => write.apply(store, args));
            previous = next.catch(() => {});
            return next;
          };
        store.storeLog = serial(store.storeLog);
        store.setUint64 = serial(store.setUint64);
        return store;
      },
      holdCommits: (store: WalStore) => layers.get(store)!.holdWrites(),
    };
    await expect(runConformanceCase(harness, groupCase)).rejects.toThrow(/commits for 41 turns/);
  });
});
