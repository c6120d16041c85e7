import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WalStore } from '../../src/storage/wal.js';
import { runStoreConformance, STORE_CONFORMANCE_CASES } from '../../src/testing/store-conformance.js';

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
});
