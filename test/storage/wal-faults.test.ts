/**
 * WalStore under the faults of the fault-injecting file layer (src/testing/fault-files.ts): a
 * failed sync fail-stops it, a torn final write is cut at reopen, EIO on read is a typed error
 * that changes nothing, and running out of descriptors never stops it writing.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Clock, Timer } from '../../src/core/clock.js';
import { ErrStoreFailed, ErrStoreRead } from '../../src/core/errors.js';
import type { StoreLogger } from '../../src/storage/types.js';
import { WalStore } from '../../src/storage/wal.js';
import { faultyFileSystem, type FaultyFileSystem } from '../../src/testing/fault-files.js';
import { useTempDir } from '../support/temp-dir.js';
import { entries, entry, plain } from './store-conformance.js';

/** Small segments, so that a few hundred entries span several of them. */
const SEGMENT_BYTES = 4096;

/** A clock whose timers run only when the test says so. */
class ManualClock implements Clock {
  readonly timers = new Set<() => void>();
  now(): number {
    return 0;
  }
  wallTime(): number {
    return 0;
  }
  setTimer(_delayMs: number, fn: () => void): Timer {
    this.timers.add(fn);
    return { cancel: () => this.timers.delete(fn) };
  }
  /** Runs the timers pending now; returns how many. */
  fire(): number {
    const due = [...this.timers];
    this.timers.clear();
    for (const fn of due) fn();
    return due.length;
  }
}

/** Keeps what the store logs. */
function recordingLogger(): StoreLogger & { warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  return {
    warnings,
    infos,
    warn: (_fields, message) => warnings.push(message ?? ''),
    info: (_fields, message) => infos.push(message ?? ''),
  };
}

const temp = useTempDir('raftkit-wal-faults-');

/**
 * Opens the store over `files`. Without zeros ahead of the data: their writes would count among
 * the calls the rules count (the EMFILE tests keep them, and the power-cut test in wal.test.ts
 * tears writes that land on them).
 */
async function openWith(files?: FaultyFileSystem, extra: Parameters<typeof WalStore.open>[1] = {}) {
  return WalStore.open(temp.path, { segmentBytes: SEGMENT_BYTES, preallocate: false, files, ...extra });
}

/** Writes entries 1..5 and CurrentTerm 1 without faults, then closes. */
async function seed(): Promise<void> {
  const store = await openWith();
  await store.storeLogs(entries(1, 5));
  await store.setUint64('CurrentTerm', 1);
  await store.close();
}

async function segmentBytesOnDisk(): Promise<number> {
  let total = 0;
  for (const name of await readdir(temp.path))
    if (name.endsWith('.wal')) total += (await stat(join(temp.path, name))).size;
  return total;
}

describe('WalStore: a failed sync', () => {
  it('fail-stops the store: the group is not acknowledged, later writes are refused, no sync is retried', async () => {
    await seed();
    // O_DSYNC segment writes are syncs: the first passes, the second and every later one would fail.
    const files = faultyFileSystem('fsync-fail:after=1,path=.wal');
    const store = await openWith(files);
    await store.storeLogs(entries(6, 7));
    const failed = store.storeLogs(entries(8, 9));
    const queued = store.setUint64('CurrentTerm', 2);
    await expect(failed).rejects.toBeInstanceOf(ErrStoreFailed);
    await expect(queued).rejects.toBeInstanceOf(ErrStoreFailed);
    await expect(store.storeLogs(entries(10, 10))).rejects.toBeInstanceOf(ErrStoreFailed);
    await expect(store.deleteRange(1, 2)).rejects.toBeInstanceOf(ErrStoreFailed);
    // A retried sync would have hit the rule again.
    expect(files.injected['fsync-fail']).toBe(1);
    expect(await store.lastIndex()).toBe(7);
    await store.close();
    const reopened = await openWith();
    // Acknowledged: 1..7. The failed group may or may not have reached the disk; it was never
    // acknowledged, so either is right, but nothing before it may be missing.
    expect(plain(await reopened.getLogs(1, 7))).toEqual(plain(entries(1, 7)));
    expect([7, 9]).toContain(await reopened.lastIndex());
    await reopened.close();
  });
});

describe('WalStore: a torn final write', () => {
  it('is cut off at reopen, whatever prefix of it reached the disk', async () => {
    let tornInside = 0;
    for (let seedNumber = 1; seedNumber <= 12; seedNumber++) {
      await rm(temp.path, { recursive: true, force: true });
      await seed();
      const files = faultyFileSystem(`seed=${seedNumber};torn-write:after=1,path=.wal`);
      const store = await openWith(files);
      await store.storeLogs(entries(6, 8));
      const before = await segmentBytesOnDisk();
      const torn = Promise.all([store.storeLogs(entries(9, 40)), store.setUint64('CurrentTerm', 9)]);
      await expect(torn).rejects.toBeInstanceOf(ErrStoreFailed);
      expect(files.isCrashed).toBe(true);
      await store.close().catch(() => {});
      if ((await segmentBytesOnDisk()) > before) tornInside++;
      const reopened = await openWith();
      expect(await reopened.lastIndex(), `seed ${seedNumber}`).toBe(8);
      expect(plain(await reopened.getLogs(1, 8))).toEqual(plain(entries(1, 8)));
      expect(await reopened.getUint64('CurrentTerm')).toBe(1);
      expect(await segmentBytesOnDisk()).toBe(before);
      await reopened.storeLogs(entries(9, 10));
      await reopened.close();
    }
    // Most seeds leave part of the write behind, which the reopen cut off.
    expect(tornInside).toBeGreaterThan(6);
  });
});

describe('WalStore: EIO on read', () => {
  it('is ErrStoreRead and changes nothing: the same read succeeds next time, writes go on', async () => {
    const files = faultyFileSystem('');
    const store = await openWith(files);
    await store.storeLogs(entries(1, 10));
    files.addRules('eio-read:count=1');
    await expect(store.getLog(3)).rejects.toBeInstanceOf(ErrStoreRead);
    expect(plain([await store.getLog(3)])).toEqual(plain([entry(3)]));
    files.addRules('eio-read:count=1');
    await expect(store.getLogs(1, 10)).rejects.toBeInstanceOf(ErrStoreRead);
    expect(plain(await store.getLogs(1, 10))).toEqual(plain(entries(1, 10)));
    await store.storeLogs(entries(11, 12));
    expect(files.injected['eio-read']).toBe(2);
    await store.close();
    const reopened = await openWith();
    expect(plain(await reopened.getLogs(1, 12))).toEqual(plain(entries(1, 12)));
    await reopened.close();
  });

  it('while replaying at open is ErrStoreRead, and the store can be opened again', async () => {
    await seed();
    await expect(openWith(faultyFileSystem('eio-read:count=1,path=.wal'))).rejects.toBeInstanceOf(
      ErrStoreRead,
    );
    const reopened = await openWith();
    expect(await reopened.lastIndex()).toBe(5);
    await reopened.close();
  });
});

describe('WalStore: out of file descriptors', () => {
  it('keeps writing past segmentBytes while the next segment cannot be opened, and rolls over once it can', async () => {
    const clock = new ManualClock();
    const logger = recordingLogger();
    // Every attempt to open the spare fails, three times in a row.
    const files = faultyFileSystem('emfile-open:count=3,path=next-segment.tmp');
    const store = await openWith(files, { clock, logger, preallocate: true });
    expect(store.hasSpareSegment()).toBe(false);
    for (let i = 1; i <= 600; i += 10) await store.storeLogs(entries(i, i + 9));
    // About 40 KiB written: ten segments' worth, all in the first one.
    expect(store.segmentNumbers()).toEqual([1]);
    expect((await stat(join(temp.path, '00000000000000000001.wal'))).size).toBeGreaterThan(8 * SEGMENT_BYTES);
    expect(logger.warnings.filter((w) => /cannot create its next segment/.test(w))).toHaveLength(1);
    expect(logger.warnings.filter((w) => /grows past segmentBytes/.test(w))).toHaveLength(1);
    // The retries run on the clock: two more fail, the fourth attempt succeeds.
    expect(clock.fire()).toBe(1);
    await waitFor(() => clock.timers.size === 1);
    expect(clock.fire()).toBe(1);
    await waitFor(() => clock.timers.size === 1);
    expect(clock.fire()).toBe(1);
    await waitFor(() => store.hasSpareSegment());
    expect(files.injected['emfile-open']).toBe(3);
    expect(logger.infos.some((m) => /after failed attempts/.test(m))).toBe(true);
    for (let i = 601; i <= 1200; i += 10) await store.storeLogs(entries(i, i + 9));
    // Rolled over, and from then on every rollover finds its spare again.
    expect(store.segmentNumbers().length).toBeGreaterThan(3);
    expect(clock.timers.size).toBe(0);
    await store.close();
    const reopened = await openWith();
    expect(plain(await reopened.getLogs(1, 1200))).toEqual(plain(entries(1, 1200)));
    await reopened.close();
    expect((await readdir(temp.path)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('reads, writes, rolls over once and compacts with no descriptor to spare at all', async () => {
    const files = faultyFileSystem('');
    const store = await openWith(files, {
      clock: new ManualClock(),
      logger: recordingLogger(),
      preallocate: true,
    });
    expect(store.hasSpareSegment()).toBe(true);
    // From here on, every open fails.
    files.addRules('emfile-open');
    await store.storeLogs(entries(1, 400));
    await store.setUint64('CurrentTerm', 5);
    for (let i = 401; i <= 600; i += 50) await store.storeLogs(entries(i, i + 49));
    // The spare made before the shortage gave one rollover; the next could not be prepared.
    expect(store.segmentNumbers()).toEqual([1, 2]);
    expect(files.injected['emfile-open']).toBeGreaterThan(0);
    expect(plain(await store.getLogs(95, 105))).toEqual(plain(entries(95, 105)));
    await store.deleteRange(1, 550);
    expect(await store.firstIndex()).toBe(551);
    await store.close();
    const reopened = await openWith();
    expect(await reopened.firstIndex()).toBe(551);
    expect(plain(await reopened.getLogs(551, 600))).toEqual(plain(entries(551, 600)));
    expect(await reopened.getUint64('CurrentTerm')).toBe(5);
    await reopened.close();
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  expect(condition()).toBe(true);
}
