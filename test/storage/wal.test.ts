import { spawnSync } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrLogNotFound, ErrStoreCorrupt, ErrStoreFailed, ErrStoreInUse } from '../../src/core/errors.js';
import { RecordType, encodeHeaderRecord, encodeIndexRecord } from '../../src/storage/wal-format.js';
import { EntryTable } from '../../src/storage/wal-index.js';
import { WalStore, newWalStore, type WalStoreOptions } from '../../src/storage/wal.js';
import { faultyFileSystem, type FaultyFileSystem } from '../../src/testing/fault-files.js';
import { describeStoreConformance, entries, entry, plain } from './store-conformance.js';

/** Each conformance store writes through a fault layer without faults, which can hold its writes. */
const fileLayers = new WeakMap<WalStore, FaultyFileSystem>();

describeStoreConformance({
  name: 'WalStore',
  async open(dir) {
    const files = faultyFileSystem('');
    const opened = await WalStore.open(join(dir, 'wal'), { files });
    fileLayers.set(opened, files);
    return opened;
  },
  commits: (store) => store.groupCount(),
  maxKeyBytes: 0xffff,
  holdCommits: (store) => fileLayers.get(store)!.holdWrites(),
});

/** Small segments, so that a few hundred entries span several of them. */
const SEGMENT_BYTES = 4096;
/**
 * How the tests open their store: without zeros ahead of the data (which would sit where the
 * tests read and damage segment files), except where a test turns them on.
 */
const PLAIN: WalStoreOptions = { segmentBytes: SEGMENT_BYTES, preallocate: false };
let options: WalStoreOptions = PLAIN;

let dir: string;
let walDir: string;
let store: WalStore;

beforeEach(async () => {
  options = PLAIN;
  dir = await mkdtemp(join(tmpdir(), 'raftkit-wal-'));
  walDir = join(dir, 'wal');
  store = await WalStore.open(walDir, options);
});

afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function reopen(): Promise<void> {
  await store.close();
  store = await WalStore.open(walDir, options);
}

async function segmentFiles(): Promise<string[]> {
  return (await readdir(walDir)).filter((name) => name.endsWith('.wal')).sort();
}

/** Appends 300 entries of 16 data bytes in batches of 10 (about 5 segments of 4 KiB). */
async function fillSegments(): Promise<void> {
  for (let i = 1; i <= 300; i += 10) await store.storeLogs(entries(i, i + 9));
}

describe('WalStore segments', () => {
  it('rolls over to new segments and reads entries across them, before and after reopening', async () => {
    await store.setUint64('CurrentTerm', 3);
    await fillSegments();
    const files = await segmentFiles();
    expect(files.length).toBeGreaterThanOrEqual(4);
    expect(files[0]).toBe('00000000000000000001.wal');
    expect(store.segmentNumbers()).toEqual(files.map((name) => Number(name.slice(0, 20))));
    for (const name of files.slice(0, -1))
      expect((await stat(join(walDir, name))).size).toBeGreaterThanOrEqual(SEGMENT_BYTES);
    expect(plain(await store.getLogs(1, 300))).toEqual(plain(entries(1, 300)));
    await reopen();
    expect(plain(await store.getLogs(1, 300))).toEqual(plain(entries(1, 300)));
    expect(await store.getUint64('CurrentTerm')).toBe(3);
  });

  it('unlinks the segments a prefix delete empties, and keeps the stable store they held', async () => {
    await store.setUint64('CurrentTerm', 3);
    await store.set('LastVoteCand', Buffer.from('n1'));
    await fillSegments();
    const before = (await segmentFiles()).length;
    await store.deleteRange(1, 250);
    const after = await segmentFiles();
    expect(after.length).toBeLessThan(before / 2);
    expect(after[0]).not.toBe('00000000000000000001.wal');
    expect(await store.firstIndex()).toBe(251);
    await expect(store.getLog(250)).rejects.toBeInstanceOf(ErrLogNotFound);
    await reopen();
    expect(await store.firstIndex()).toBe(251);
    expect(plain(await store.getLogs(251, 300))).toEqual(plain(entries(251, 300)));
    // The segment that first held these values is gone; the later segments' headers carry them.
    expect(await store.getUint64('CurrentTerm')).toBe(3);
    expect(Buffer.from(await store.get('LastVoteCand')).toString()).toBe('n1');
  });

  it('deleting the whole log leaves only the newest segment, and the log restarts at any index', async () => {
    await fillSegments();
    await store.deleteRange(1, 300);
    expect(await segmentFiles()).toHaveLength(1);
    await store.storeLogs(entries(1000, 1002));
    await reopen();
    expect(await store.firstIndex()).toBe(1000);
    expect(await store.lastIndex()).toBe(1002);
  });

  it('replaces a suffix that spans segments, and the replacement survives reopening', async () => {
    await fillSegments();
    await Promise.all([store.deleteRange(120, 300), store.storeLogs(entries(120, 130, 2))]);
    await store.storeLogs(entries(131, 140, 2));
    const expected = [...entries(1, 119, 1), ...entries(120, 140, 2)];
    expect(plain(await store.getLogs(1, 140))).toEqual(plain(expected));
    await reopen();
    expect(await store.lastIndex()).toBe(140);
    expect(plain(await store.getLogs(1, 140))).toEqual(plain(expected));
  });
});

describe('WalStore refuses what it cannot do', () => {
  it('refuses a hole in the middle of the log and an append that would leave a gap', async () => {
    await store.storeLogs(entries(1, 20));
    await expect(store.deleteRange(5, 10)).rejects.toThrow(/prefix or a suffix/);
    await expect(store.storeLogs(entries(22, 23))).rejects.toThrow(/gap after the last index 20/);
    await expect(store.storeLogs([entry(21), entry(23)])).rejects.toThrow(/consecutive/);
    expect(await store.lastIndex()).toBe(20);
    expect(plain(await store.getLogs(1, 20))).toEqual(plain(entries(1, 20)));
  });

  it('refuses a second store on the same directory in this process', async () => {
    await expect(newWalStore(walDir)).rejects.toBeInstanceOf(ErrStoreInUse);
  });

  it('refuses a directory another live process holds, and takes over the lock of a dead one', async () => {
    const other = join(dir, 'other');
    await mkdir(other);
    // The lock file names a live process (our parent): in use.
    await writeFile(join(other, 'LOCK'), `${process.ppid}\n`);
    await expect(WalStore.open(other)).rejects.toThrow(new RegExp(`held by process ${process.ppid}`));
    // A process that has exited (as after SIGKILL): its lock is stale.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    await writeFile(join(other, 'LOCK'), `${dead}\n`);
    const taken = await WalStore.open(other);
    expect((await readFile(join(other, 'LOCK'), 'utf8')).trim()).toBe(String(process.pid));
    await taken.close();
    await expect(stat(join(other, 'LOCK'))).rejects.toThrow(/ENOENT/);
  });

  it('refuses a segment size below 1 KiB', async () => {
    await expect(WalStore.open(join(dir, 'other'), { segmentBytes: 10 })).rejects.toBeInstanceOf(RangeError);
  });
});

describe('WalStore after a crash or damage', () => {
  /** Everything a reopened store holds, as text. */
  async function stateOf(path: string): Promise<string> {
    const reopened = await WalStore.open(path, { segmentBytes: SEGMENT_BYTES, noSync: true });
    try {
      const first = await reopened.firstIndex();
      const last = await reopened.lastIndex();
      const logs = last === 0 ? [] : plain(await reopened.getLogs(first, last));
      const stable: Record<string, string> = {};
      for (const key of ['CurrentTerm', 'LastVoteCand']) {
        stable[key] = await reopened.get(key).then(
          (value) => Buffer.from(value).toString('hex'),
          () => 'absent',
        );
      }
      return JSON.stringify({ first, last, logs, stable });
    } finally {
      await reopened.close();
    }
  }

  /** The store's data bytes per segment file name. */
  function dataBytesByFile(): Map<string, number> {
    const sizes = store.segmentDataBytes();
    return new Map(
      store.segmentNumbers().map((number, i) => [`${String(number).padStart(20, '0')}.wal`, sizes[i]]),
    );
  }

  /**
   * A power cut can leave any prefix of the last write on disk, followed by nothing, zeros or
   * garbage (blocks reach the disk in any order). At every byte of the last write, the store must
   * reopen to the state before the write; only the whole write gives the state after it (with
   * whatever followed it in the file: a preallocated segment's zeros).
   */
  async function cutLastWriteEverywhere(fill: (records: number) => Promise<void>): Promise<number> {
    await fill(1);
    const dataBefore = dataBytesByFile();
    await store.close();
    const before = await stateOf(walDir);
    store = await WalStore.open(walDir, options);
    await fill(2);
    const dataAfter = dataBytesByFile();
    await store.close();
    const [newest] = (await segmentFiles()).slice(-1);
    const path = join(walDir, newest);
    // With zeros written ahead of the data, the file goes on past the write: cuts inside the
    // write tear it, whatever follows.
    const written = await readFile(path);
    const after = await stateOf(walDir);
    expect(after).not.toBe(before);
    const start = dataBefore.get(newest) ?? 0;
    const writeEnd = dataAfter.get(newest)!;
    let cuts = 0;
    for (let cut = start; cut < writeEnd; cut++) {
      const tail = written.length - cut;
      const random = Buffer.from(Array.from({ length: tail }, (_, i) => (i * 131 + cut) & 0xff));
      for (const rest of [Buffer.alloc(0), Buffer.alloc(tail), random]) {
        await writeFile(path, Buffer.concat([written.subarray(0, cut), rest]));
        expect(await stateOf(walDir), `cut at ${cut} of ${written.length}, then ${rest.length} bytes`).toBe(
          before,
        );
        cuts++;
      }
    }
    await writeFile(path, written);
    expect(await stateOf(walDir)).toBe(after);
    store = await WalStore.open(walDir, options);
    return cuts;
  }

  it('reopens to the state before or after the last write, wherever a power cut tears it', async () => {
    // With zeros ahead of the data, as stores run by default: the torn write lands on them.
    options = { segmentBytes: SEGMENT_BYTES };
    await reopen();
    await store.storeLogs(entries(1, 8));
    const cuts = await cutLastWriteEverywhere(async (round) => {
      if (round === 1) return;
      // A conflict as Raft writes it: truncate, new entries, new term and vote, in one group.
      await Promise.all([
        store.deleteRange(6, 8),
        store.storeLogs(entries(6, 7, 2)),
        store.setUint64('CurrentTerm', 2),
        store.set('LastVoteCand', Buffer.from('n2')),
      ]);
    });
    expect(cuts).toBeGreaterThan(3 * 150);
  });

  it('reopens to the state before the write that started a new segment, wherever a power cut tears it', async () => {
    options = { segmentBytes: SEGMENT_BYTES };
    await reopen();
    await store.setUint64('CurrentTerm', 1);
    const cuts = await cutLastWriteEverywhere(async (round) => {
      if (round === 1) {
        // Fill the first segment to its limit, so that the next write starts segment 2.
        for (let next = 1; store.segmentDataBytes()[0] < SEGMENT_BYTES; next++)
          await store.storeLogs([entry(next)]);
        expect(store.segmentNumbers()).toEqual([1]);
        return;
      }
      await store.storeLogs(entries((await store.lastIndex()) + 1, (await store.lastIndex()) + 2));
    });
    expect(store.segmentNumbers()).toEqual([1, 2]);
    expect(cuts).toBeGreaterThan(3 * 100);
  });

  it('drops a torn last group and keeps every complete one', async () => {
    await store.storeLogs(entries(1, 10));
    await store.setUint64('CurrentTerm', 4);
    await store.close();
    const [newest] = (await segmentFiles()).slice(-1);
    const path = join(walDir, newest);
    const good = (await stat(path)).size;
    // Half of a group: an entry record cut short, as a crash in the middle of write(2) leaves it.
    const torn = Buffer.concat([encodeIndexRecord(RecordType.Truncate, 5), Buffer.alloc(30, 0x11)]);
    await appendFile(path, torn.subarray(0, torn.length - 7));
    store = await WalStore.open(walDir, options);
    expect(await store.lastIndex()).toBe(10);
    expect(await store.getUint64('CurrentTerm')).toBe(4);
    expect((await stat(path)).size).toBe(good);
    await store.storeLogs(entries(11, 12));
    await reopen();
    expect(plain(await store.getLogs(1, 12))).toEqual(plain(entries(1, 12)));
  });

  it('drops a group whose records are whole but whose commit never made it', async () => {
    await store.storeLogs(entries(1, 3));
    await store.close();
    const [newest] = (await segmentFiles()).slice(-1);
    await appendFile(join(walDir, newest), encodeIndexRecord(RecordType.Truncate, 2));
    store = await WalStore.open(walDir, options);
    expect(await store.lastIndex()).toBe(3);
  });

  it('removes a new segment whose first group never became durable', async () => {
    await store.storeLogs(entries(1, 3));
    await store.close();
    const files = await segmentFiles();
    const next = String(files.length + 1).padStart(20, '0');
    await writeFile(join(walDir, `${next}.wal`), Buffer.alloc(9, 0));
    store = await WalStore.open(walDir, options);
    expect(await segmentFiles()).toEqual(files);
    await store.close();
    // The start of its header, cut short.
    await writeFile(join(walDir, `${next}.wal`), encodeHeaderRecord(files.length + 1).subarray(0, 12));
    store = await WalStore.open(walDir, options);
    expect(await segmentFiles()).toEqual(files);
    await store.storeLogs(entries(4, 5));
    expect(await store.lastIndex()).toBe(5);
  });

  it('refuses to open when a bit flips in a group that later groups follow', async () => {
    await store.storeLogs(entries(1, 3));
    await store.storeLogs(entries(4, 6));
    await store.close();
    const [newest] = (await segmentFiles()).slice(-1);
    const path = join(walDir, newest);
    const bytes = await readFile(path);
    const at = bytes.indexOf(Buffer.from(entry(2).data)) + 3;
    const handle = await open(path, 'r+');
    await handle.write(Buffer.from([bytes[at] ^ 0x40]), 0, 1, at);
    await handle.close();
    const error = await WalStore.open(walDir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ErrStoreCorrupt);
    expect((error as Error).message).toMatch(/checksum mismatch at offset \d+, yet a complete group follows/);
  });

  it('finds an intact group behind damage and megabytes of zeros, and treats zeros alone as a torn tail', async () => {
    await store.storeLogs(entries(1, 3));
    await store.close();
    const [newest] = (await segmentFiles()).slice(-1);
    const path = join(walDir, newest);
    const sizeA = (await stat(path)).size;
    store = await WalStore.open(walDir, options);
    await store.storeLogs(entries(4, 6));
    await store.close();
    const bytes = await readFile(path);
    const groupB = Buffer.from(bytes.subarray(sizeA));
    const commitB = groupB.subarray(groupB.length - 21);
    groupB[10] ^= 1;
    const zeros = Buffer.alloc(5 * 1024 * 1024);
    // Damage, a long zero run across the replay's 4 MiB windows, then B's intact commit record.
    await writeFile(path, Buffer.concat([bytes.subarray(0, sizeA), groupB, zeros, commitB]));
    await expect(WalStore.open(walDir)).rejects.toThrow(/yet a complete group follows at offset \d+/);
    // A group torn before its commit, then zeros (a preallocated segment's tail): cut off.
    await writeFile(
      path,
      Buffer.concat([bytes.subarray(0, sizeA), groupB.subarray(0, groupB.length - 21), zeros]),
    );
    store = await WalStore.open(walDir, options);
    expect(await store.lastIndex()).toBe(3);
    expect((await stat(path)).size).toBe(sizeA);
  });

  it('refuses to open when a sealed segment is damaged or one is missing', async () => {
    await fillSegments();
    await store.close();
    const files = await segmentFiles();
    const second = join(walDir, files[1]);
    const bytes = await readFile(second);
    await writeFile(second, bytes.subarray(0, bytes.length - 5));
    await expect(WalStore.open(walDir)).rejects.toThrow(/sealed segment is damaged/);
    await rm(second);
    await expect(WalStore.open(walDir)).rejects.toThrow(/segment 2 is missing before 3/);
    store = await WalStore.open(join(dir, 'fresh'));
  });

  it('refuses a sealed segment that is not a WAL segment', async () => {
    await fillSegments();
    await store.close();
    await writeFile(join(walDir, '00000000000000000001.wal'), Buffer.from('{"not":"a wal"}'));
    await expect(WalStore.open(walDir)).rejects.toThrow(/sealed segment is damaged/);
    store = await WalStore.open(join(dir, 'fresh'));
  });

  it('answers a damaged entry read after open with ErrStoreCorrupt and serves the others', async () => {
    await store.storeLogs(entries(1, 5));
    const [newest] = (await segmentFiles()).slice(-1);
    const path = join(walDir, newest);
    const bytes = await readFile(path);
    const at = bytes.indexOf(Buffer.from(entry(3).data));
    const handle = await open(path, 'r+');
    await handle.write(Buffer.from([bytes[at] ^ 1]), 0, 1, at);
    await handle.close();
    await expect(store.getLog(3)).rejects.toThrow(/checksum mismatch/);
    await expect(store.getLogs(1, 5)).rejects.toBeInstanceOf(ErrStoreCorrupt);
    expect(plain([await store.getLog(4)])).toEqual(plain([entry(4)]));
  });

  it('fails every write after a failed write, until reopened', async () => {
    await store.close();
    // The third write after open fails (O_DSYNC writes are syncs).
    const files = faultyFileSystem('fsync-fail:after=2,path=.wal');
    store = await WalStore.open(walDir, { ...options, files });
    await store.storeLogs([entry(1)]);
    await store.storeLogs([entry(2)]);
    await expect(store.storeLogs(entries(3, 4))).rejects.toBeInstanceOf(ErrStoreFailed);
    await expect(store.setUint64('CurrentTerm', 1)).rejects.toBeInstanceOf(ErrStoreFailed);
    expect(await store.lastIndex()).toBe(2);
    await store.close().catch(() => {});
    store = await WalStore.open(walDir, options);
    expect(plain(await store.getLogs(1, 2))).toEqual(plain(entries(1, 2)));
  });
});

describe('EntryTable', () => {
  it('slides its live range forward across blocks as the head is dropped, and truncates the tail', () => {
    const table = new EntryTable();
    for (let i = 1; i <= 40_000; i++) {
      table.push(i, Math.floor(i / 100), i * 10, 7, i >> 8, i % 3);
      if (i % 10 === 0) table.dropBefore(i - 50);
    }
    expect(table.first()).toBe(39_950);
    expect(table.last()).toBe(40_000);
    expect(table.get(39_949)).toBeUndefined();
    expect(table.get(39_999)).toEqual({ segment: 399, offset: 399_990, length: 7 });
    expect(table.segmentOf(39_950)).toBe(399);
    const { terms, types } = table.termsOf(39_998, 40_000);
    expect([...terms]).toEqual([39_998 >> 8, 39_999 >> 8, 40_000 >> 8]);
    expect([...types]).toEqual([39_998 % 3, 39_999 % 3, 40_000 % 3]);
    table.truncateFrom(39_990);
    expect(table.last()).toBe(39_989);
    expect(() => table.push(40_000, 1, 1, 1, 1, 1)).toThrow(RangeError);
    table.push(39_990, 1, 2, 3, 4, 5);
    expect(table.get(39_990)).toEqual({ segment: 1, offset: 2, length: 3 });
    table.dropBefore(99_999);
    expect(table.first()).toBe(0);
    table.push(7, 1, 2, 3, 4, 5);
    expect(table.first()).toBe(7);
    expect([...table.termsOf(7, 7).terms]).toEqual([4]);
  });

  it('holds entries across many blocks and truncates back into an earlier block', () => {
    const table = new EntryTable();
    for (let i = 1; i <= 50_000; i++) table.push(i, 1, i, 1, i, 1);
    table.truncateFrom(10);
    expect(table.last()).toBe(9);
    for (let i = 10; i <= 20_000; i++) table.push(i, 2, i, 1, 2 * i, 1);
    expect(table.get(17_000)).toEqual({ segment: 2, offset: 17_000, length: 1 });
    expect([...table.termsOf(8, 11).terms]).toEqual([8, 9, 20, 22]);
  });
});
