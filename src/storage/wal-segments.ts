/**
 * WalStore's segment files: their names, the listing at open, and the spare, a file created ahead
 * of time so that starting a new segment opens nothing (as etcd's file pipeline and raft-wal do).
 *
 * Why the spare matters: a node short of file descriptors (EMFILE/ENFILE, from a burst of client
 * connections, say) must keep logging. With a spare, a rollover is a rename of a file that is
 * already open. Creating the spare is retried with back-off through the Clock while descriptors
 * are short, and until it succeeds the store keeps appending to the current segment past
 * `segmentBytes` (a soft limit). Nothing acknowledged depends on the spare, so failing to make one
 * is never a store failure; only failed writes and syncs of data are.
 */
import { constants as fsConstants } from 'node:fs';
import { join } from 'node:path';
import type { Clock, Timer } from '../core/clock.js';
import { ErrStoreCorrupt } from '../core/errors.js';
import {
  holdsOnlyZeros,
  isDescriptorShortage,
  readFully,
  type FileSystem,
  type StoreFile,
} from './file-system.js';
import type { StoreLogger } from './types.js';
import type { WalState } from './wal-replay.js';
import {
  SEGMENT_HEADER_BYTES,
  readSealIndex,
  removeIndexLeftovers,
  writeSealIndex,
  type SealIndexFiles,
} from './wal-seal-index.js';

const SEGMENT_NAME = /^(\d{20})\.wal$/;
/** The spare's name: not a segment name, so a crash that leaves it behind leaves no segment. */
export const SPARE_NAME = 'next-segment.tmp';
/** Segment numbers are kept below this (the entry table and the file names hold them exactly). */
const MAX_SEGMENT_NUMBER = 0xffff_ffff;
/** First and longest wait between attempts to create the spare. */
const RETRY_FIRST_MS = 50;
const RETRY_MAX_MS = 5_000;
const O_CREAT_TRUNC = fsConstants.O_CREAT | fsConstants.O_TRUNC;

export interface Segment {
  readonly number: number;
  readonly path: string;
  readonly file: StoreFile;
  /** Bytes of whole groups; the next group is written here. */
  size: number;
  /** Bytes in the file: `size`, then zeros written ahead of the data (wal-zeros.ts). */
  allocated: number;
  closed: boolean;
}

/**
 * Segments are opened O_DSYNC: each write returns once its data (and the file size) is on disk, as
 * write + fdatasync would, but in one call to the thread pool instead of two.
 */
export function segmentFlags(noSync: boolean): number {
  return fsConstants.O_RDWR | (noSync ? 0 : fsConstants.O_DSYNC);
}

export function segmentName(number: number): string {
  return `${String(number).padStart(20, '0')}.wal`;
}

/** The segment numbers in `dir`, oldest first; a gap between them is ErrStoreCorrupt. */
export async function listSegments(files: FileSystem, dir: string): Promise<number[]> {
  const numbers: number[] = [];
  for (const entry of await files.readdir(dir)) {
    const match = SEGMENT_NAME.exec(entry.name);
    if (match === null) continue;
    const number = Number(match[1]);
    if (number < 1 || number > MAX_SEGMENT_NUMBER) {
      throw new ErrStoreCorrupt(`${join(dir, entry.name)}: segment number out of range`);
    }
    numbers.push(number);
  }
  numbers.sort((a, b) => a - b);
  for (let i = 1; i < numbers.length; i++) {
    if (numbers[i] !== numbers[i - 1] + 1) {
      throw new ErrStoreCorrupt(`${dir}: segment ${numbers[i - 1] + 1} is missing before ${numbers[i]}`);
    }
  }
  return numbers;
}

/**
 * Opens every segment of the store's directory, oldest first, applying them to `state`; `directory`
 * is fsynced after a removal. Leaves `state.ops` holding the newest kept segment's ops.
 */
export async function openSegments(
  where: SealIndexFiles,
  state: WalState,
  directory: StoreFile,
): Promise<Segment[]> {
  const segments: Segment[] = [];
  try {
    await removeIndexLeftovers(where.files, where.dir);
    const numbers = await listSegments(where.files, where.dir);
    for (let i = 0; i < numbers.length; i++) {
      const newest = i === numbers.length - 1;
      // The sealed segment before a newest one that turns out to be removable stays the newest.
      const sealedOps = newest && segments.length > 0 ? state.ops.copy() : null;
      const segment = await openSegment(where, numbers[i], state, newest);
      if (segment !== null) {
        segments.push(segment);
        continue;
      }
      if (sealedOps !== null) state.ops.reset(sealedOps);
      // A removed newest segment (a crash while creating it) must stay removed.
      if (!where.noSync) await directory.sync();
    }
    return segments;
  } catch (error) {
    for (const segment of segments) await segment.file.close().catch(() => {});
    throw error;
  }
}

/**
 * Opens segment `number` and applies it to `state`: a sealed segment from its index when it has a
 * usable one (wal-seal-index.ts), else by replaying it (and then indexing it). Cuts a torn tail off
 * the newest (a tail of zeros is kept: it was written ahead of the data, and later writes land on
 * it). Returns null (and removes the file) for a newest segment without a complete group: a crash
 * while it was being created, which can leave it empty, zero-filled or holding part of its first
 * write.
 */
export async function openSegment(
  where: SealIndexFiles,
  number: number,
  state: WalState,
  newest: boolean,
): Promise<Segment | null> {
  const { files, noSync } = where;
  const path = join(where.dir, segmentName(number));
  const file = await files.open(path, segmentFlags(noSync));
  try {
    const { size } = await file.stat();
    if (!newest) {
      const header = Buffer.allocUnsafe(SEGMENT_HEADER_BYTES);
      const got = await readFully(file, header, 0, header.length, 0);
      const ops = await readSealIndex(where, number, size, header.subarray(0, got));
      if (ops !== null) {
        state.replayOps(ops, number, path);
        return { number, path, file, size, allocated: size, closed: false };
      }
    }
    const end = await state.replaySegment(file, size, number, path, newest);
    // A sealed segment replays whole or not at all (replaySegment throws).
    if (!newest) await writeSealIndex(where, number, end, state.ops.copy());
    if (end === 0) {
      await file.close();
      await files.unlink(path);
      return null;
    }
    let allocated = size;
    if (end < size && !(await holdsOnlyZeros(file, end, size))) {
      await file.truncate(end);
      if (!noSync) await file.datasync();
      allocated = end;
    }
    return { number, path, file, size: end, allocated, closed: false };
  } catch (error) {
    await file.close().catch(() => {});
    throw error;
  }
}

/** WalStoreOptions.segmentBytes by default: 64 MiB, as etcd's and raft-wal's segments. */
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
const MIN_SEGMENT_BYTES = 1024;
/**
 * The largest WalStoreOptions.segmentBytes (1 GiB): compaction frees whole segments, so a larger
 * one would keep the space of entries long compacted away.
 */
export const MAX_SEGMENT_BYTES = 1024 * 1024 * 1024;

/** WalStoreOptions.segmentBytes checked (a RangeError names the bounds), or the default. */
export function checkSegmentBytes(segmentBytes = DEFAULT_SEGMENT_BYTES): number {
  if (
    !Number.isSafeInteger(segmentBytes) ||
    segmentBytes < MIN_SEGMENT_BYTES ||
    segmentBytes > MAX_SEGMENT_BYTES
  ) {
    throw new RangeError(
      `segmentBytes must be an integer from ${MIN_SEGMENT_BYTES} to ${MAX_SEGMENT_BYTES}, got ${segmentBytes}`,
    );
  }
  return segmentBytes;
}

/** Warnings go to process.emitWarning when the caller gives no logger: an operator must see them. */
export const warningLogger: StoreLogger = {
  info: () => {},
  warn: (fields, message) => process.emitWarning(`${message ?? 'raftkit store'} ${JSON.stringify(fields)}`),
};

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export interface SpareSegmentOptions {
  files: FileSystem;
  dir: string;
  /** The flags segments are opened with (O_CREAT and O_TRUNC are added). */
  flags: number;
  clock: Clock;
  logger: StoreLogger;
}

/** One file kept open and ready to become the next segment; see the module comment. */
export class SpareSegment {
  readonly path: string;
  private readonly files: FileSystem;
  /** The open spare, until handed over. */
  private ready: StoreFile | null = null;
  /** The open() under way. */
  private creating: Promise<void> | null = null;
  private retry: Timer | null = null;
  private retryDelayMs = 0;
  private failures = 0;
  private stopped = false;

  constructor(private readonly options: SpareSegmentOptions) {
    this.files = options.files;
    this.path = join(options.dir, SPARE_NAME);
  }

  /** Starts creating the spare unless one is ready, being created, or waiting for a retry. */
  refill(): void {
    if (this.stopped || this.ready !== null || this.creating !== null || this.retry !== null) return;
    this.creating = this.create().finally(() => (this.creating = null));
  }

  /** Starts creating the spare (see refill) and waits for this attempt. */
  async prepare(): Promise<void> {
    this.refill();
    await this.creating;
  }

  /**
   * Hands over the spare (its path is `path`), waiting for an open already under way (it takes
   * microseconds; one that fails for want of descriptors fails as fast). Null while none can be
   * had: the last attempt failed and a retry is scheduled.
   */
  async take(): Promise<StoreFile | null> {
    if (this.ready === null) await this.prepare();
    const file = this.ready;
    this.ready = null;
    return file;
  }

  /**
   * Records that the spare could not be created or put in place, and retries after a back-off
   * (doubling from 50 ms to 5 s). Warns on the first failure of a run of them.
   */
  failed(error: unknown): void {
    this.failures++;
    this.retryDelayMs = Math.min(
      RETRY_MAX_MS,
      this.retryDelayMs === 0 ? RETRY_FIRST_MS : this.retryDelayMs * 2,
    );
    if (this.failures === 1) {
      const cause = isDescriptorShortage(error) ? 'out of file descriptors' : 'file system error';
      this.options.logger.warn(
        { path: this.path, err: errorText(error), retryMs: this.retryDelayMs },
        `WAL cannot create its next segment (${cause}); retrying with back-off and appending to the current segment meanwhile`,
      );
    }
    if (this.stopped) return;
    this.retry = this.options.clock.setTimer(this.retryDelayMs, () => {
      this.retry = null;
      this.refill();
    });
  }

  /** Whether a spare is open and ready (for tests and operators). */
  isReady(): boolean {
    return this.ready !== null;
  }

  /** Stops retrying, closes the spare and removes its file. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.retry?.cancel();
    this.retry = null;
    await this.creating;
    const file = this.ready;
    this.ready = null;
    await file?.close().catch(() => {});
    await this.files.unlink(this.path).catch(() => {});
  }

  private async create(): Promise<void> {
    let file: StoreFile;
    try {
      // O_TRUNC: a spare left by a crash, or by a rename that failed, is reused from empty.
      file = await this.files.open(this.path, this.options.flags | O_CREAT_TRUNC, 0o644);
    } catch (error) {
      this.failed(error);
      return;
    }
    if (this.stopped) {
      await file.close().catch(() => {});
      return;
    }
    if (this.failures > 0) {
      this.options.logger.info(
        { path: this.path, failedAttempts: this.failures },
        'WAL created its next segment after failed attempts',
      );
    }
    this.failures = 0;
    this.retryDelayMs = 0;
    this.ready = file;
  }
}
