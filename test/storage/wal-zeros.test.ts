/**
 * WalStore's zeros ahead of the active segment's data (src/storage/wal-zeros.ts): where they go,
 * that a reopen keeps them and writes onto them, that sealed segments hold none, that they never
 * share the file with a data write in flight, and that a failed zero write fail-stops the store.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrStoreFailed } from '../../src/core/errors.js';
import { nodeFileSystem, type FileSystem, type StoreFile } from '../../src/storage/file-system.js';
import { WalStore, type WalStoreOptions } from '../../src/storage/wal.js';
import { faultyFileSystem } from '../../src/testing/fault-files.js';
import { useTempDir } from '../support/temp-dir.js';
import { entries, plain } from './store-conformance.js';

const temp = useTempDir('raftkit-wal-zeros-');

/** wal-zeros.ts's reach: zeros never go further than this past the data (2 MiB + one chunk). */
const MAX_AHEAD_BYTES = 2.5 * 1024 * 1024;

function open(options: WalStoreOptions = {}): Promise<WalStore> {
  return WalStore.open(temp.path, { preallocate: true, ...options });
}

/** The segment files' sizes on disk, oldest first. */
async function fileSizes(): Promise<number[]> {
  const names = (await readdir(temp.path)).filter((name) => name.endsWith('.wal')).sort();
  return Promise.all(names.map(async (name) => (await stat(join(temp.path, name))).size));
}

async function newestFile(): Promise<Buffer> {
  const names = (await readdir(temp.path)).filter((name) => name.endsWith('.wal')).sort();
  return readFile(join(temp.path, names[names.length - 1]));
}

/** Entries lo..hi with 1 KiB of payload each (a few fill small segments), told apart by index. */
function bulky(lo: number, hi: number) {
  return entries(lo, hi).map((entry) => ({ ...entry, data: new Uint8Array(1024).fill(entry.index % 251) }));
}

describe('WalStore: zeros ahead of the data', () => {
  it('writes zeros after the data, within reach of it and never past segmentBytes', async () => {
    const segmentBytes = 4 * 1024 * 1024;
    const store = await open({ segmentBytes });
    for (let i = 1; i <= 40; i += 4) await store.storeLogs(bulky(i, i + 3));
    const [data] = store.segmentDataBytes();
    await store.close();
    const file = await newestFile();
    expect(file.length).toBeGreaterThan(data);
    expect(file.length).toBeLessThanOrEqual(Math.min(segmentBytes, data + MAX_AHEAD_BYTES));
    expect(file.subarray(data).every((byte) => byte === 0)).toBe(true);
  });

  it('turned off, writes none', async () => {
    const store = await open({ preallocate: false });
    for (let i = 1; i <= 40; i += 4) await store.storeLogs(bulky(i, i + 3));
    const [data] = store.segmentDataBytes();
    await store.close();
    expect(await fileSizes()).toEqual([data]);
  });

  it('keeps the zeros at reopen and writes onto them, losing nothing', async () => {
    let store = await open();
    for (let i = 1; i <= 20; i += 4) await store.storeLogs(bulky(i, i + 3));
    const [dataBefore] = store.segmentDataBytes();
    await store.close();
    const [fileBefore] = await fileSizes();
    expect(fileBefore).toBeGreaterThan(dataBefore);
    store = await open();
    expect(store.segmentDataBytes()).toEqual([dataBefore]);
    expect(await fileSizes()).toEqual([fileBefore]);
    await store.storeLogs(bulky(21, 24));
    const [dataAfter] = store.segmentDataBytes();
    expect(dataAfter).toBeGreaterThan(dataBefore);
    await store.close();
    const file = await newestFile();
    expect(file.subarray(dataAfter).every((byte) => byte === 0)).toBe(true);
    store = await open();
    expect(plain(await store.getLogs(1, 24))).toEqual(plain(bulky(1, 24)));
    await store.close();
  });

  it('leaves no zeros in a sealed segment, even one zeroed past a smaller segmentBytes given later', async () => {
    let store = await open({ segmentBytes: 1024 * 1024 });
    for (let i = 1; i <= 12; i += 4) await store.storeLogs(bulky(i, i + 3));
    await store.close();
    const [zeroed] = await fileSizes();
    // Reopened with 8 KiB segments, the first segment is already full and must be sealed.
    store = await open({ segmentBytes: 8192 });
    expect(zeroed).toBeGreaterThan(store.segmentDataBytes()[0]);
    for (let i = 13; i <= 60; i += 4) await store.storeLogs(bulky(i, i + 3));
    const data = store.segmentDataBytes();
    expect(data.length).toBeGreaterThan(2);
    await store.close();
    const sizes = await fileSizes();
    expect(sizes.slice(0, -1)).toEqual(data.slice(0, -1));
    store = await open({ segmentBytes: 8192 });
    expect(plain(await store.getLogs(1, 60))).toEqual(plain(bulky(1, 60)));
    await store.close();
  });

  it('never writes zeros while a data write is in flight on the same file', async () => {
    const files = overlapRecorder();
    const store = await open({ segmentBytes: 4 * 1024 * 1024, files });
    // Each write is followed by a chunk of zeros in the background, while the next one is issued.
    for (let i = 1; i <= 160; i += 4) await store.storeLogs(bulky(i, i + 3));
    await store.close();
    expect(files.zeroWrites()).toBeGreaterThan(2);
    expect(files.overlaps()).toBe(0);
  });

  it('fail-stops the store when a zero write fails (a failed sync, never retried)', async () => {
    // Writes to the segment: its opening group, the first data group, then the first chunk of
    // zeros, which fails (O_DSYNC writes are syncs).
    const files = faultyFileSystem('fsync-fail:after=2,count=1,path=.wal');
    let store = await open({ files });
    await store.storeLogs(bulky(1, 4));
    await expect(store.storeLogs(bulky(5, 8))).rejects.toBeInstanceOf(ErrStoreFailed);
    await expect(store.setUint64('CurrentTerm', 3)).rejects.toBeInstanceOf(ErrStoreFailed);
    expect(files.injected['fsync-fail']).toBe(1);
    expect(await store.lastIndex()).toBe(4);
    await store.close().catch(() => {});
    store = await open();
    expect(plain(await store.getLogs(1, 4))).toEqual(plain(bulky(1, 4)));
    await store.close();
  });
});

/**
 * node:fs, recording for each file whether a write of zeros alone ever ran while another write
 * to the same file was in flight.
 */
function overlapRecorder(): FileSystem & { overlaps(): number; zeroWrites(): number } {
  let overlaps = 0;
  let zeroWrites = 0;
  return {
    ...nodeFileSystem,
    overlaps: () => overlaps,
    zeroWrites: () => zeroWrites,
    async open(path, flags, mode) {
      const file = await nodeFileSystem.open(path, flags, mode);
      let inFlight = 0;
      const wrapped: StoreFile = {
        read: (...args) => file.read(...args),
        sync: () => file.sync(),
        datasync: () => file.datasync(),
        truncate: (length) => file.truncate(length),
        stat: () => file.stat(),
        close: () => file.close(),
        async write(buffer, offset, length, position) {
          if (buffer.subarray(offset, offset + length).every((byte) => byte === 0)) zeroWrites++;
          if (inFlight > 0) overlaps++;
          inFlight++;
          try {
            return await file.write(buffer, offset, length, position);
          } finally {
            inFlight--;
          }
        },
      };
      return wrapped;
    },
  };
}
