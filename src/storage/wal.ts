/**
 * WalStore: a segmented, checksummed write-ahead log that is both the LogStore and the
 * StableStore, raftkit's analog of hashicorp's raft-wal. It exists for speed: an LMDB commit
 * costs two syncs (data pages, then the meta page), a WalStore write costs one fdatasync of an
 * append, so it gets about twice the durable writes per second out of the same disk
 * (`npm run bench:storage` measures both against the disk's raw append+fdatasync rate).
 *
 * Layout: `<dir>/00000000000000000001.wal`, `...002.wal`, ... (20-digit segment numbers). Records
 * and groups are described in wal-format.ts. Every write is appended to the newest segment; once
 * it holds `segmentBytes`, the next write starts a new one, which opens with a copy of the whole
 * stable store. A log entry is found through an in-memory table (wal-index.ts) built by replaying
 * the segments at open (wal-replay.ts); the table also holds each entry's term, so `entryTerms`
 * answers a restart without reading the log.
 *
 * Group commit: the writes issued in one synchronous turn, and all writes issued while a group is
 * being synced, form one group: one write(2), one fdatasync, one Commit record. A promise resolves
 * only after its group's fdatasync returned (and, for a new segment, the directory's fsync), so an
 * acknowledged write survives a power cut. A crash mid-group loses that whole group and nothing
 * else: at open, a tail that does not end in a complete, checksummed group is cut off. Damage
 * anywhere else (a sealed segment, or a bad record followed by intact ones) is ErrStoreCorrupt:
 * the store refuses to open rather than silently lose acknowledged entries. A failed write or sync
 * fail-stops the store (ErrStoreFailed for every later write, never retried: after a failed fsync
 * the page cache cannot be trusted); a failed read is ErrStoreRead and changes nothing.
 *
 * Descriptors: the store holds one per segment, one for its directory (fsynced after a segment
 * is created or removed) and one spare file for the next segment (wal-segments.ts), and opens
 * nothing while it runs. When descriptors run out, creating the spare is retried with back-off
 * and the newest segment grows past `segmentBytes` meanwhile.
 *
 * Deletes. deleteRange removes a prefix (compaction after a snapshot: a Head record, then every
 * segment holding no live entry is unlinked) or a suffix (a conflict: a Truncate record); a hole
 * in the middle is refused, as raft-wal refuses it (Raft never asks for one). storeLogs must
 * continue the log; starting at or below the last index replaces the suffix from there, as
 * raft-boltdb's overwrite does.
 *
 * One store per directory: `<dir>/LOCK` holds the pid of the process that has it open; a second
 * open (in this process or another) is ErrStoreInUse, a lock left by a dead process is taken over.
 */
import { constants as fsConstants } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Clock } from '../core/clock.js';
import {
  ErrLogNotFound,
  ErrNotFound,
  ErrStoreClosed,
  ErrStoreFailed,
  ErrStoreInUse,
} from '../core/errors.js';
import type { LogEntry } from '../core/types.js';
import { systemClock } from '../platform/clock.js';
import {
  O_READ,
  nodeFileSystem,
  syncDirectory,
  writeAll,
  type FileSystem,
  type StoreFile,
} from './file-system.js';
import { LockHeld, acquirePidLock } from './fs-util.js';
import { decodeUint64, deleteBounds, encodeUint64, isLogIndex, stableKeyBytes } from './log-codec.js';
import {
  MAX_STABLE_KEY_BYTES,
  RecordBuffer,
  RecordType,
  appendEntryRecords,
  encodeHeaderRecord,
  encodeStableRecord,
} from './wal-format.js';
import { type EntryLocation } from './wal-index.js';
import { WalState } from './wal-replay.js';
import { indexPath, writeSealIndex } from './wal-seal-index.js';
import { SegmentZeros } from './wal-zeros.js';
import { readEntries } from './wal-reader.js';
import {
  SpareSegment,
  checkSegmentBytes,
  openSegments,
  segmentFlags,
  segmentName,
  warningLogger,
  type Segment,
} from './wal-segments.js';
import type { EntryTerms, LogStore, StableStore, StoreLogger } from './types.js';

/** Options of `WalStore.open` / `newWalStore`. */
export interface WalStoreOptions {
  /**
   * A segment is sealed and a new one started once it holds this many bytes: 1 KiB to 1 GiB,
   * default 64 MiB. A soft limit: while no spare file can be created (descriptors ran out) the
   * segment grows past it.
   */
  segmentBytes?: number;
  /**
   * Skip fdatasync: writes resolve before they are durable. A killed process loses nothing, an OS
   * crash or power cut can lose acknowledged writes and break Raft's guarantees. Tests only.
   */
  noSync?: boolean;
  /**
   * Write zeros a little ahead of the data in the background (wal-zeros.ts), so that group commits
   * overwrite allocated blocks instead of growing the file: each sync then writes no file-system
   * metadata. Default true (false with noSync).
   */
  preallocate?: boolean;
  /** Times the retries of creating the next segment's file. Default: the system clock. */
  clock?: Clock;
  /** Receives warnings (descriptors ran out). Default: process.emitWarning. */
  logger?: StoreLogger;
  /** The file layer. Default: node:fs. Tests put faults here (raftkit/testing's FaultyFileSystem). */
  files?: FileSystem;
}

/** The writes that form the next group: their records are in the filling RecordBuffer. */
interface Group {
  readonly done: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

function newGroup(): Group {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { done, resolve, reject };
}

/**
 * The default durable LogStore + StableStore (the analog of hashicorp's raft-wal): checksummed
 * records in numbered segment files under one directory, one `O_DSYNC` write per group commit, torn
 * tails dropped on open, damage elsewhere refused with ErrStoreCorrupt. `<dir>/LOCK` keeps a second
 * process out (ErrStoreInUse). Open with `WalStore.open(dir)` or `newWalStore(dir)`.
 */
export class WalStore implements LogStore, StableStore {
  /** The group being filled, null when no write waits. */
  private next: Group | null = null;
  private flushing = false;
  private idleWaiters: (() => void)[] = [];
  private failed: Error | null = null;
  private closing: Promise<void> | undefined;
  /** Bounds of the log once every issued write has executed (0, 0: empty); writes are checked against them. */
  private issuedFirst: number;
  private issuedLast: number;
  private groupsWritten = 0;
  /** Collects the records of the next group. */
  private filling = new RecordBuffer();
  /** The other buffer: being written, or idle. */
  private writing = new RecordBuffer();
  /** The newest segment number already warned about for growing past segmentBytes. */
  private warnedOversize = 0;
  private readonly spare: SpareSegment;
  private readonly zeros: SegmentZeros;
  /** Index files of sealed segments being written, one after the other (wal-seal-index.ts). */
  private indexWrites: Promise<void> = Promise.resolve();

  private constructor(
    /** The directory given to open. */
    readonly dir: string,
    private readonly files: FileSystem,
    /** `dir` itself, kept open to fsync it after creating or removing a segment. */
    private readonly directory: StoreFile,
    private readonly unlock: () => Promise<void>,
    private segments: Segment[],
    private readonly state: WalState,
    private readonly segmentBytes: number,
    private readonly noSync: boolean,
    private readonly logger: StoreLogger,
    clock: Clock,
    preallocate: boolean,
  ) {
    this.issuedFirst = state.table.first();
    this.issuedLast = state.table.last();
    this.spare = new SpareSegment({
      files,
      dir,
      flags: segmentFlags(noSync),
      clock,
      logger,
    });
    this.zeros = new SegmentZeros(preallocate ? segmentBytes : 0, noSync);
    if (segments.length > 0) this.zeros.track(segments[segments.length - 1]);
  }

  /** Opens (creating if needed) the store in directory `dir`, replaying its segments. */
  static async open(dir: string, options: WalStoreOptions = {}): Promise<WalStore> {
    const segmentBytes = checkSegmentBytes(options.segmentBytes);
    const noSync = options.noSync ?? false;
    const files = options.files ?? nodeFileSystem;
    const created = await files.mkdir(dir, { recursive: true });
    if (created !== undefined && !noSync) await syncDirectory(files, dirname(created));
    const unlock = await lockDirectory(dir);
    const logger = options.logger ?? warningLogger;
    const segments: Segment[] = [];
    let directory: StoreFile | undefined;
    try {
      directory = await files.open(dir, O_READ);
      const state = new WalState();
      segments.push(...(await openSegments({ files, dir, noSync, logger }, state, directory)));
      const store = new WalStore(
        dir,
        files,
        directory,
        unlock,
        segments,
        state,
        segmentBytes,
        noSync,
        logger,
        options.clock ?? systemClock,
        options.preallocate ?? !noSync,
      );
      if (segments.length === 0) {
        const path = join(dir, segmentName(1));
        const flags = segmentFlags(noSync) | fsConstants.O_CREAT | fsConstants.O_TRUNC;
        await store.beginSegment(1, path, await files.open(path, flags, 0o644));
      }
      await store.deleteObsoleteSegments();
      // Failing to make the spare is no reason not to open: it is retried in the background.
      await store.spare.prepare();
      return store;
    } catch (error) {
      for (const segment of segments) await segment.file.close().catch(() => {});
      await directory?.close().catch(() => {});
      await unlock();
      throw error;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // LogStore

  async firstIndex(): Promise<number> {
    this.assertOpen();
    return this.state.table.first();
  }

  async lastIndex(): Promise<number> {
    this.assertOpen();
    return this.state.table.last();
  }

  async getLog(index: number): Promise<LogEntry> {
    this.assertOpen();
    const location = isLogIndex(index) ? this.state.table.get(index) : undefined;
    if (!location) throw new ErrLogNotFound();
    return (await readEntries(() => this.segments, index, [location]))[0];
  }

  async getLogs(lo: number, hi: number): Promise<LogEntry[]> {
    this.assertOpen();
    if (lo > hi) return [];
    this.assertHeld(lo, hi);
    const table = this.state.table;
    // Locations are taken now: a truncation while the reads run must not mix old and new entries.
    const locations: EntryLocation[] = [];
    for (let index = lo; index <= hi; index++) locations.push(table.get(index)!);
    return readEntries(() => this.segments, lo, locations);
  }

  /** Terms and types of lo..hi from the in-memory table: no disk read. */
  async entryTerms(lo: number, hi: number): Promise<EntryTerms> {
    this.assertOpen();
    if (lo > hi) return { terms: new Float64Array(0), types: new Uint8Array(0) };
    this.assertHeld(lo, hi);
    return this.state.table.termsOf(lo, hi);
  }

  storeLog(entry: LogEntry): Promise<void> {
    return this.storeLogs([entry]);
  }

  /**
   * Appends entries (contiguous, continuing the log or replacing its suffix from the first one) in
   * one group; resolves once durable.
   */
  async storeLogs(entries: readonly LogEntry[]): Promise<void> {
    this.assertWritable();
    if (entries.length === 0) return;
    const first = entries[0].index;
    for (let i = 0; i < entries.length; i++) {
      const index = entries[i].index;
      if (!isLogIndex(index)) throw new RangeError(`log index must be >= 1, got ${index}`);
      if (index !== first + i) {
        throw new RangeError(`entries must have consecutive indexes: ${index} follows ${first + i - 1}`);
      }
    }
    const empty = this.issuedLast === 0;
    if (!empty && first > this.issuedLast + 1) {
      throw new RangeError(`entry ${first} would leave a gap after the last index ${this.issuedLast}`);
    }
    const replaces = !empty && first <= this.issuedLast;
    // Encode everything first: a bad entry must not leave the ones before it queued.
    const mark = this.filling.length;
    if (replaces) this.filling.appendIndexRecord(RecordType.Truncate, first);
    try {
      appendEntryRecords(this.filling, entries);
    } catch (error) {
      this.filling.truncate(mark);
      throw error;
    }
    if (empty || first < this.issuedFirst) this.issuedFirst = first;
    this.issuedLast = first + entries.length - 1;
    return this.joinGroup();
  }

  /** Deletes min..max inclusive, which must be a prefix or a suffix of the log; resolves once durable. */
  async deleteRange(min: number, max: number): Promise<void> {
    this.assertWritable();
    const bounds = deleteBounds(min, max, this.issuedFirst, this.issuedLast);
    if (bounds === null) return;
    const { from, to } = bounds;
    if (from === this.issuedFirst) {
      if (to === this.issuedLast) this.issuedFirst = this.issuedLast = 0;
      else this.issuedFirst = to + 1;
      this.filling.appendIndexRecord(RecordType.Head, to + 1);
      return this.joinGroup();
    }
    if (to === this.issuedLast) {
      this.issuedLast = from - 1;
      this.filling.appendIndexRecord(RecordType.Truncate, from);
      return this.joinGroup();
    }
    throw new RangeError(
      `WalStore deletes a prefix or a suffix of the log, not ${from}..${to} inside ${this.issuedFirst}..${this.issuedLast}`,
    );
  }

  // ---------------------------------------------------------------------------------------------
  // StableStore

  async set(key: string, value: Uint8Array): Promise<void> {
    this.assertWritable();
    const keyBytes = stableKeyBytes(key, MAX_STABLE_KEY_BYTES);
    // The record holds a copy: the caller may reuse its buffer once this returns.
    this.filling.append(encodeStableRecord(keyBytes, value));
    return this.joinGroup();
  }

  async get(key: string): Promise<Uint8Array> {
    this.assertOpen();
    stableKeyBytes(key, MAX_STABLE_KEY_BYTES);
    const value = this.state.stable.get(key);
    if (value === undefined) throw new ErrNotFound();
    return Buffer.from(value);
  }

  async setUint64(key: string, value: number): Promise<void> {
    return this.set(key, encodeUint64(value));
  }

  async getUint64(key: string): Promise<number> {
    return decodeUint64(await this.get(key), `stable value ${JSON.stringify(key)}`);
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle

  /** Groups written since open: each cost one fdatasync (for metrics, tests and benchmarks). */
  groupCount(): number {
    return this.groupsWritten;
  }

  /** Segment numbers on disk, oldest first (for tests and operators). */
  segmentNumbers(): number[] {
    return this.segments.map((segment) => segment.number);
  }

  /** Bytes of data in each segment, oldest first; files may hold zeros after them (for tests). */
  segmentDataBytes(): number[] {
    return this.segments.map((segment) => segment.size);
  }

  /** Whether the next segment's file is open and ready (false while descriptors are short). */
  hasSpareSegment(): boolean {
    return this.spare.isReady();
  }

  /** Waits for queued writes to finish, then closes. Idempotent (the runtime closes both roles). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.idle();
      try {
        await this.indexWrites;
        await this.zeros.stop();
        await this.spare.stop();
        for (const segment of this.segments) {
          segment.closed = true;
          await segment.file.close();
        }
        await this.directory.close();
      } finally {
        await this.unlock();
      }
    })();
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closing) throw new ErrStoreClosed();
  }

  private assertWritable(): void {
    this.assertOpen();
    if (this.failed) throw new ErrStoreFailed(this.failed.message);
  }

  /** ErrLogNotFound unless every index of lo..hi is held. */
  private assertHeld(lo: number, hi: number): void {
    const table = this.state.table;
    if (!isLogIndex(lo) || !isLogIndex(hi) || lo < table.first() || hi > table.last()) {
      throw new ErrLogNotFound();
    }
  }

  private idle(): Promise<void> {
    if (!this.flushing) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  // ---------------------------------------------------------------------------------------------
  // Writing

  /** The promise of the group the records just laid into `filling` belong to. */
  private joinGroup(): Promise<void> {
    if (this.next === null) {
      this.next = newGroup();
      if (!this.flushing) {
        this.flushing = true;
        // Writes issued later in this synchronous turn join the group.
        queueMicrotask(() => void this.flushLoop());
      }
    }
    return this.next.done;
  }

  private async flushLoop(): Promise<void> {
    while (this.next !== null) {
      const group = this.next;
      this.next = null;
      const buffer = this.filling;
      this.filling = this.writing;
      this.writing = buffer;
      try {
        let segment = this.segments[this.segments.length - 1];
        if (segment.size >= this.segmentBytes) segment = await this.rollOver(segment);
        buffer.appendIndexRecord(RecordType.Commit, this.state.groupNumber + 1);
        await this.append(segment, buffer);
        this.zeros.advance();
        // Before resolving, so that space is free once a compaction's deleteRange resolves.
        if (this.hasObsoleteSegments()) await this.deleteObsoleteSegments();
        group.resolve();
      } catch (error) {
        this.fail(error as Error, group);
      } finally {
        buffer.reset();
      }
    }
    this.flushing = false;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Fail-stop: this group and everything queued behind it is rejected, later writes too. */
  private fail(error: Error, group: Group): void {
    this.failed = error;
    const failure = error instanceof ErrStoreFailed ? error : new ErrStoreFailed(error.message);
    group.reject(failure);
    this.next?.reject(failure);
    this.next = null;
    this.filling.reset();
    void this.zeros.stop();
    void this.spare.stop();
  }

  /**
   * The segment the next group goes to once `current` holds segmentBytes: a new one made from the
   * spare (a rename: no descriptor needed), or `current` again while there is no spare.
   */
  private async rollOver(current: Segment): Promise<Segment> {
    const file = await this.spare.take();
    if (file === null) {
      if (this.warnedOversize !== current.number) {
        this.warnedOversize = current.number;
        this.logger.warn(
          { segment: current.path, bytes: current.size, segmentBytes: this.segmentBytes },
          'WAL segment grows past segmentBytes: its successor could not be created yet',
        );
      }
      return current;
    }
    // Sealed segments hold no zeros: cut them off (durably) while this is still the newest.
    await this.zeros.seal(current);
    const number = current.number + 1;
    const path = join(this.dir, segmentName(number));
    try {
      await this.files.rename(this.spare.path, path);
    } catch (error) {
      await file.close().catch(() => {});
      this.spare.failed(error);
      this.zeros.track(current);
      return current;
    }
    this.sealIndex(current);
    const segment = await this.beginSegment(number, path, file);
    this.spare.refill();
    return segment;
  }

  /** Writes the index of `sealed` in the background (a cache: appends need not wait for it). */
  private sealIndex(sealed: Segment): void {
    const ops = this.state.ops.copy();
    this.state.ops.reset();
    const where = { files: this.files, dir: this.dir, noSync: this.noSync, logger: this.logger };
    this.indexWrites = this.indexWrites.then(() => writeSealIndex(where, sealed.number, sealed.size, ops));
  }

  /** Writes the opening group (its header and the whole stable store) of the new segment `number`. */
  private async beginSegment(number: number, path: string, file: StoreFile): Promise<Segment> {
    const segment: Segment = { number, path, file, size: 0, allocated: 0, closed: false };
    const opening = new RecordBuffer();
    opening.append(encodeHeaderRecord(number));
    for (const [key, value] of this.state.stable) {
      opening.append(encodeStableRecord(Buffer.from(key, 'utf8'), value));
    }
    opening.appendIndexRecord(RecordType.Commit, this.state.groupNumber + 1);
    try {
      await this.append(segment, opening);
    } catch (error) {
      await file.close().catch(() => {});
      throw error;
    }
    this.segments.push(segment);
    this.zeros.track(segment);
    return segment;
  }

  /**
   * Appends whole groups at the end of `segment` with one write(2), durable when it returns
   * (O_DSYNC), then applies them to the in-memory state.
   */
  private async append(segment: Segment, records: RecordBuffer): Promise<void> {
    const base = segment.size;
    await this.zeros.beforeWrite();
    await writeAll(segment.file, records.view(), base);
    // A new file's directory entry must be durable too.
    if (base === 0 && !this.noSync) await this.directory.sync();
    segment.size = base + records.length;
    segment.allocated = Math.max(segment.allocated, segment.size);
    this.groupsWritten++;
    this.state.applyWritten(records.bytes, records.length, segment.number, base, segment.path);
  }

  /** The segments before the one holding the first live entry (or before the newest if none). */
  private firstLiveSegment(): number {
    const table = this.state.table;
    const first = table.first();
    return first === 0 ? this.segments[this.segments.length - 1].number : table.segmentOf(first);
  }

  private hasObsoleteSegments(): boolean {
    return this.segments[0].number < this.firstLiveSegment();
  }

  /** Unlinks, oldest first, the segments before the one holding the first live entry. */
  private async deleteObsoleteSegments(): Promise<void> {
    const keepFrom = this.firstLiveSegment();
    if (this.segments[0].number >= keepFrom) return;
    const obsolete = this.segments.filter((segment) => segment.number < keepFrom);
    this.segments = this.segments.filter((segment) => segment.number >= keepFrom);
    try {
      // An index written after its segment is gone would be left behind.
      await this.indexWrites;
      for (const segment of obsolete) {
        segment.closed = true;
        await segment.file.close();
        // The index first: a segment left without one is scanned, never misread.
        await this.files.unlink(indexPath(this.dir, segment.number)).catch(() => {});
        await this.files.unlink(segment.path);
      }
      if (!this.noSync) await this.directory.sync();
    } catch {
      // Harmless: the next open finds the leftover segments hold no live entry and removes them.
    }
  }
}

/** hashicorp-style constructor name. */
export function newWalStore(dir: string, options?: WalStoreOptions): Promise<WalStore> {
  return WalStore.open(dir, options);
}

async function lockDirectory(dir: string): Promise<() => Promise<void>> {
  try {
    return await acquirePidLock(join(dir, 'LOCK'));
  } catch (error) {
    if (error instanceof LockHeld) throw new ErrStoreInUse(`WalStore in ${dir}: ${error.message}`);
    throw error;
  }
}
