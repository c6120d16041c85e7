/**
 * WalStore: a segmented, checksummed write-ahead log that is both the LogStore and the
 * StableStore, raftkit's analog of hashicorp's raft-wal. It exists for speed: an LMDB commit
 * costs two syncs (data pages, then the meta page), a WalStore write costs one fdatasync of an
 * append, so it gets about twice the durable writes per second out of the same disk
 * (`npm run bench:storage` measures both against the disk's raw append+fdatasync rate).
 *
 * Layout: `<dir>/00000000000000000001.wal`, `...002.wal`, ... (20-digit segment numbers). Records
 * and groups are described in wal-format.ts. Every write is appended to the newest segment; when it
 * holds `segmentBytes`, the next write starts a new one, which opens with a copy of the whole
 * stable store. A log entry is found through an in-memory table (wal-index.ts) built by reading
 * the segments at open.
 *
 * Group commit: the writes issued in one synchronous turn, and all writes issued while a group is
 * being synced, form one group: one write(2), one fdatasync, one Commit record. A promise resolves
 * only after its group's fdatasync returned (and, for a new segment, the directory's fsync), so an
 * acknowledged write survives a power cut. A crash mid-group loses that whole group and nothing
 * else: at open, a tail that does not end in a complete, checksummed group is cut off. Damage
 * anywhere else (a sealed segment, or a bad record followed by intact ones) is ErrStoreCorrupt:
 * the store refuses to open rather than silently lose acknowledged entries.
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
import { mkdir, open, readFile, readdir, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  ErrLogNotFound,
  ErrNotFound,
  ErrStoreClosed,
  ErrStoreCorrupt,
  ErrStoreFailed,
  ErrStoreInUse,
} from '../core/errors.js';
import type { LogEntry } from '../core/types.js';
import { LockHeld, acquirePidLock, syncDirectory, writeAll } from './fs-util.js';
import { decodeLogEntry, decodeUint64, encodeUint64, isLogIndex, stableKeyBytes } from './log-codec.js';
import {
  MAX_STABLE_KEY_BYTES,
  RecordType,
  encodeHeaderRecord,
  RecordBuffer,
  appendEntryRecords,
  encodeIndexRecord,
  encodeStableRecord,
  readRecord,
} from './wal-format.js';
import { type EntryLocation } from './wal-index.js';
import { WalState } from './wal-replay.js';
import type { LogStore, StableStore } from './types.js';

/** Options of `WalStore.open` / `newWalStore`. */
export interface WalStoreOptions {
  /** A segment is sealed and a new one started once it holds this many bytes. Default 64 MiB. */
  segmentBytes?: number;
  /**
   * Skip fdatasync: writes resolve before they are durable. A killed process loses nothing, an OS
   * crash or power cut can lose acknowledged writes and break Raft's guarantees. Tests only.
   */
  noSync?: boolean;
}

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
const MIN_SEGMENT_BYTES = 1024;
const SEGMENT_NAME = /^(\d{20})\.wal$/;

interface Segment {
  readonly number: number;
  readonly path: string;
  readonly handle: FileHandle;
  /** Bytes of whole groups; the next group is written here. */
  size: number;
  closed: boolean;
}

/** Writes waiting for the next group (their records are already in the filling RecordBuffer). */
interface PendingWrite {
  /**
   * Applies the write to the in-memory state once durable; a record at offset o of the group's
   * buffer landed at file offset base + o.
   */
  apply(segment: number, base: number): void;
  resolve(): void;
  reject(error: Error): void;
}

/**
 * Segments are opened O_DSYNC: each write returns once its data (and the file size) is on disk, as
 * write + fdatasync would, but in one call to the thread pool instead of two.
 */
function segmentFlags(noSync: boolean): number {
  return fsConstants.O_RDWR | (noSync ? 0 : fsConstants.O_DSYNC);
}

function segmentName(number: number): string {
  return `${String(number).padStart(20, '0')}.wal`;
}

/**
 * The default durable LogStore + StableStore (the analog of hashicorp's raft-wal): checksummed
 * records in numbered segment files under one directory, one `O_DSYNC` write per group commit, torn
 * tails dropped on open, damage elsewhere refused with ErrStoreCorrupt. `<dir>/LOCK` keeps a second
 * process out (ErrStoreInUse). Open with `WalStore.open(dir)` or `newWalStore(dir)`.
 */
export class WalStore implements LogStore, StableStore {
  private pending: PendingWrite[] = [];
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
  private spare = new RecordBuffer();

  private constructor(
    /** The directory given to open. */
    readonly dir: string,
    private readonly unlock: () => Promise<void>,
    private segments: Segment[],
    private readonly state: WalState,
    private readonly segmentBytes: number,
    private readonly noSync: boolean,
  ) {
    this.issuedFirst = state.table.first();
    this.issuedLast = state.table.last();
  }

  /** Opens (creating if needed) the store in directory `dir`, replaying its segments. */
  static async open(dir: string, options: WalStoreOptions = {}): Promise<WalStore> {
    const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    if (!Number.isSafeInteger(segmentBytes) || segmentBytes < MIN_SEGMENT_BYTES) {
      throw new RangeError(`segmentBytes must be an integer >= ${MIN_SEGMENT_BYTES}, got ${segmentBytes}`);
    }
    const noSync = options.noSync ?? false;
    const created = await mkdir(dir, { recursive: true });
    if (created !== undefined && !noSync) await syncDirectory(dirname(created));
    const unlock = await lockDirectory(dir);
    const segments: Segment[] = [];
    try {
      const state = new WalState();
      const numbers = await listSegments(dir);
      for (let i = 0; i < numbers.length; i++) {
        const path = join(dir, segmentName(numbers[i]));
        const newest = i === numbers.length - 1;
        const bytes = await readFile(path);
        const end = state.replaySegment(bytes, numbers[i], path, newest);
        if (end === 0) {
          // Only the newest can lack a complete group (replaySegment refused the others, and
          // one with an intact group behind damage): a crash while it was being created, which
          // can leave it empty, zero-filled or holding part of its first write.
          await rm(path);
          if (!noSync) await syncDirectory(dir);
          continue;
        }
        const handle = await open(path, segmentFlags(noSync));
        segments.push({ number: numbers[i], path, handle, size: end, closed: false });
        if (end < bytes.length) {
          await handle.truncate(end);
          if (!noSync) await handle.datasync();
        }
      }
      const store = new WalStore(dir, unlock, segments, state, segmentBytes, noSync);
      if (segments.length === 0) await store.startSegment(1);
      await store.deleteObsoleteSegments();
      return store;
    } catch (error) {
      for (const segment of segments) await segment.handle.close().catch(() => {});
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
    const bytes = await this.read(location.segment, location.offset, location.length);
    return this.decodeEntry(bytes, index, location);
  }

  async getLogs(lo: number, hi: number): Promise<LogEntry[]> {
    this.assertOpen();
    if (lo > hi) return [];
    const table = this.state.table;
    if (!isLogIndex(lo) || !isLogIndex(hi) || lo < table.first() || hi > table.last()) {
      throw new ErrLogNotFound();
    }
    // Locations are taken now: a truncation while the reads run must not mix old and new entries.
    const locations: EntryLocation[] = [];
    for (let index = lo; index <= hi; index++) locations.push(table.get(index)!);
    const out: LogEntry[] = [];
    let i = 0;
    while (i < locations.length) {
      // Entries of one segment lie in index order: read them with one pread.
      let j = i;
      while (j + 1 < locations.length && locations[j + 1].segment === locations[i].segment) j++;
      const start = locations[i].offset;
      const span = await this.read(
        locations[i].segment,
        start,
        locations[j].offset + locations[j].length - start,
      );
      for (let k = i; k <= j; k++) {
        const { offset, length } = locations[k];
        out.push(
          this.decodeEntry(span.subarray(offset - start, offset - start + length), lo + k, locations[k]),
        );
      }
      i = j + 1;
    }
    return out;
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
    entries.forEach((entry, i) => {
      if (!isLogIndex(entry.index)) throw new RangeError(`log index must be >= 1, got ${entry.index}`);
      if (entry.index !== first + i) {
        throw new RangeError(
          `entries must have consecutive indexes: ${entry.index} follows ${first + i - 1}`,
        );
      }
    });
    const empty = this.issuedLast === 0;
    if (!empty && first > this.issuedLast + 1) {
      throw new RangeError(`entry ${first} would leave a gap after the last index ${this.issuedLast}`);
    }
    const replaces = !empty && first <= this.issuedLast;
    // Encode everything first: a bad entry must not leave the ones before it queued.
    const mark = this.filling.length;
    if (replaces) this.filling.append(encodeIndexRecord(RecordType.Truncate, first));
    let run: { starts: number[]; lengths: number[] };
    try {
      run = appendEntryRecords(this.filling, entries);
    } catch (error) {
      this.filling.truncate(mark);
      throw error;
    }
    if (empty || first < this.issuedFirst) this.issuedFirst = first;
    this.issuedLast = first + entries.length - 1;
    return this.enqueue((segment, base) => {
      const table = this.state.table;
      if (replaces) table.truncateFrom(first);
      for (let i = 0; i < entries.length; i++)
        table.push(first + i, segment, base + run.starts[i], run.lengths[i]);
    });
  }

  /** Deletes min..max inclusive, which must be a prefix or a suffix of the log; resolves once durable. */
  async deleteRange(min: number, max: number): Promise<void> {
    this.assertWritable();
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max)) {
      throw new RangeError(`deleteRange bounds must be safe integers, got ${min}..${max}`);
    }
    const from = Math.max(min, this.issuedFirst);
    const to = Math.min(max, this.issuedLast);
    if (this.issuedLast === 0 || from > to) return;
    const table = this.state.table;
    if (from === this.issuedFirst) {
      if (to === this.issuedLast) this.issuedFirst = this.issuedLast = 0;
      else this.issuedFirst = to + 1;
      this.filling.append(encodeIndexRecord(RecordType.Head, to + 1));
      return this.enqueue(() => table.dropBefore(to + 1));
    }
    if (to === this.issuedLast) {
      this.issuedLast = from - 1;
      this.filling.append(encodeIndexRecord(RecordType.Truncate, from));
      return this.enqueue(() => table.truncateFrom(from));
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
    // Copied: the caller may reuse its buffer before the group is written.
    const copy = Buffer.from(value);
    this.filling.append(encodeStableRecord(keyBytes, copy));
    return this.enqueue(() => this.state.stable.set(key, copy));
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

  /** Waits for queued writes to finish, then closes. Idempotent (the runtime closes both roles). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.idle();
      try {
        for (const segment of this.segments) {
          segment.closed = true;
          await segment.handle.close();
        }
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

  private idle(): Promise<void> {
    if (!this.flushing) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  // ---------------------------------------------------------------------------------------------
  // Writing

  private enqueue(apply: PendingWrite['apply']): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ apply, resolve, reject });
      if (this.flushing) return;
      this.flushing = true;
      // Writes issued later in this synchronous turn join the group.
      queueMicrotask(() => void this.flushLoop());
    });
  }

  private async flushLoop(): Promise<void> {
    while (this.pending.length > 0) {
      const group = this.pending;
      this.pending = [];
      const buffer = this.filling;
      this.filling = this.spare;
      this.spare = buffer;
      try {
        let segment = this.segments[this.segments.length - 1];
        if (segment.size >= this.segmentBytes) segment = await this.startSegment(segment.number + 1);
        buffer.append(encodeIndexRecord(RecordType.Commit, ++this.state.groupNumber));
        const base = await this.append(segment, buffer.view());
        for (const write of group) write.apply(segment.number, base);
        // Before resolving, so that space is free once a compaction's deleteRange resolves.
        await this.deleteObsoleteSegments();
        for (const write of group) write.resolve();
      } catch (error) {
        this.failed = error as Error;
        const failure = new ErrStoreFailed((error as Error).message);
        for (const write of [...group, ...this.pending.splice(0)]) write.reject(failure);
      } finally {
        buffer.reset();
      }
    }
    this.flushing = false;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Creates segment `number` with its opening group (its header and the whole stable store). */
  private async startSegment(number: number): Promise<Segment> {
    const path = join(this.dir, segmentName(number));
    const handle = await open(path, segmentFlags(this.noSync) | fsConstants.O_CREAT | fsConstants.O_TRUNC);
    const segment: Segment = { number, path, handle, size: 0, closed: false };
    const records = [encodeHeaderRecord(number)];
    for (const [key, value] of this.state.stable) {
      records.push(encodeStableRecord(Buffer.from(key, 'utf8'), value));
    }
    records.push(encodeIndexRecord(RecordType.Commit, ++this.state.groupNumber));
    try {
      await this.append(segment, Buffer.concat(records));
    } catch (error) {
      await handle.close().catch(() => {});
      throw error;
    }
    this.segments.push(segment);
    return segment;
  }

  /**
   * Appends whole groups at the end of `segment` with one write(2), durable when it returns
   * (O_DSYNC); returns the offset they landed at.
   */
  private async append(segment: Segment, bytes: Buffer): Promise<number> {
    const base = segment.size;
    await writeAll(segment.handle, bytes, base);
    // A new file's directory entry must be durable too.
    if (base === 0 && !this.noSync) await syncDirectory(this.dir);
    segment.size = base + bytes.length;
    this.groupsWritten++;
    return base;
  }

  /** Unlinks, oldest first, the segments before the one holding the first live entry. */
  private async deleteObsoleteSegments(): Promise<void> {
    const table = this.state.table;
    const newest = this.segments[this.segments.length - 1].number;
    const keepFrom = table.first() === 0 ? newest : table.get(table.first())!.segment;
    if (this.segments[0].number >= keepFrom) return;
    const obsolete = this.segments.filter((segment) => segment.number < keepFrom);
    this.segments = this.segments.filter((segment) => segment.number >= keepFrom);
    try {
      for (const segment of obsolete) {
        segment.closed = true;
        await segment.handle.close();
        await rm(segment.path);
      }
      if (!this.noSync) await syncDirectory(this.dir);
    } catch {
      // Harmless: the next open finds the leftover segments hold no live entry and removes them.
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Reading

  private async read(number: number, offset: number, length: number): Promise<Buffer> {
    const segment = this.segments.find((candidate) => candidate.number === number);
    const buffer = Buffer.allocUnsafe(length);
    try {
      if (!segment || segment.closed) throw new ErrLogNotFound();
      const { bytesRead } = await segment.handle.read(buffer, 0, length, offset);
      if (bytesRead !== length) {
        throw new ErrStoreCorrupt(`${segment.path}: ${bytesRead} of ${length} bytes at offset ${offset}`);
      }
      return buffer;
    } catch (error) {
      // Compaction closed the segment while the read was in flight: the entries are gone.
      if (segment?.closed) throw new ErrLogNotFound();
      throw error;
    }
  }

  private decodeEntry(bytes: Buffer, index: number, location: EntryLocation): LogEntry {
    const where = `${segmentName(location.segment)} at offset ${location.offset}`;
    const record = readRecord(bytes, where);
    if (record.type !== RecordType.Entry) throw new ErrStoreCorrupt(`${where}: not a log entry`);
    return decodeLogEntry(record.payload, index);
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

async function listSegments(dir: string): Promise<number[]> {
  const numbers = (await readdir(dir))
    .map((name) => SEGMENT_NAME.exec(name))
    .filter((match) => match !== null)
    .map((match) => Number(match[1]))
    .sort((a, b) => a - b);
  for (let i = 1; i < numbers.length; i++) {
    if (numbers[i] !== numbers[i - 1] + 1) {
      throw new ErrStoreCorrupt(`${dir}: segment ${numbers[i - 1] + 1} is missing before ${numbers[i]}`);
    }
  }
  return numbers;
}
