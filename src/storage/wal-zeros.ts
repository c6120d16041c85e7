/**
 * Preallocation of WalStore's active segment: zeros written a little ahead of its end, in the
 * background, a chunk at a time. etcd preallocates its segments the same way (with fallocate,
 * which Node lacks): an O_DSYNC write that lands in blocks already allocated and written need not
 * also make a new file size and new block maps durable, so a group commit costs less than an
 * append that grows the file (`npm run bench:storage` compares `wal` with `wal-plain`).
 *
 * The zeros follow the store's own writes (never more than ZERO_AHEAD_BYTES beyond the data), so
 * a node that starts, or one that writes little, pays no burst of I/O for them: a burst would
 * delay its syncs and, through them, its heartbeats.
 *
 * Why this is crash-safe:
 * - Zeros are never data: replay stops at the first record that does not check, and a newest
 *   segment's tail that is all zeros is a torn tail of nothing. A power cut that tears a group
 *   leaves its prefix, then zeros or garbage: replay cuts it off at the last whole group, and
 *   keeps the tail only when it is zeros alone (openSegment); writes then land on it.
 * - A segment is cut back to its data, durably, before the next one exists (seal, called by the
 *   rollover before it renames the spare): a crash before that leaves it the newest segment.
 *   Sealed segments hold no zeros, so only the newest can end in anything but a whole group.
 * - Data and zero writes never run at the same time on one file (beforeWrite waits). The kernel
 *   reports a failed write-back once per open file, to whichever sync looks first: a zero write
 *   running beside a data write could take the data's error and leave the data write "durable".
 *   For the same reason a failed zero write is a failed sync: the store fails-stop on its next
 *   write (beforeWrite and seal throw it), never retrying.
 */
import { writeAll } from './file-system.js';
import type { Segment } from './wal-segments.js';

const ZERO_CHUNK_BYTES = 512 * 1024;
/** How far ahead of the data the zeros reach. */
const ZERO_AHEAD_BYTES = 2 * 1024 * 1024;

/** Zeros written into segments, shared and never written to. */
let zeros: Buffer | undefined;

/** The zeros ahead of the active segment's data; see the module comment. */
export class SegmentZeros {
  private segment: Segment | null = null;
  private inFlight: Promise<void> | null = null;
  /** A failed zero write: the store fails with it. */
  private failure: Error | null = null;
  private stopped = false;

  constructor(
    /** Zeros stop at the segment size; 0 turns preallocation off. */
    private readonly segmentBytes: number,
    private readonly noSync: boolean,
  ) {}

  /** The segment written to from now on. */
  track(segment: Segment): void {
    this.segment = segment;
  }

  /** Waits for the zero write in flight; throws if a zero write failed (see the module comment). */
  async beforeWrite(): Promise<void> {
    while (this.inFlight !== null) await this.inFlight;
    if (this.failure !== null) throw this.failure;
  }

  /**
   * After a data write: zeroes the next chunk if the zeros reach less than ZERO_AHEAD_BYTES past
   * the data. One chunk per data write at most, so an idle store writes no zeros either.
   */
  advance(): void {
    const segment = this.segment;
    if (segment === null || this.stopped || this.inFlight !== null) return;
    const from = Math.max(segment.allocated, segment.size);
    if (from >= segment.size + ZERO_AHEAD_BYTES || from >= this.segmentBytes) return;
    const to = Math.min(this.segmentBytes, from + ZERO_CHUNK_BYTES);
    zeros ??= Buffer.alloc(ZERO_CHUNK_BYTES);
    this.inFlight = writeAll(segment.file, zeros.subarray(0, to - from), from)
      .then(
        () => {
          segment.allocated = Math.max(segment.allocated, to);
        },
        (error: unknown) => {
          this.failure = error instanceof Error ? error : new Error(String(error));
          this.stopped = true;
        },
      )
      .finally(() => {
        this.inFlight = null;
      });
  }

  /**
   * Stops zeroing `segment` and cuts its zeros off, durably, before the next segment starts (a
   * failure here is a failed sync: the store fails).
   */
  async seal(segment: Segment): Promise<void> {
    if (this.segment === segment) this.segment = null;
    await this.beforeWrite();
    if (segment.allocated <= segment.size) return;
    await segment.file.truncate(segment.size);
    if (!this.noSync) await segment.file.datasync();
    segment.allocated = segment.size;
  }

  /** No more zeros; waits for the write in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    while (this.inFlight !== null) await this.inFlight;
  }
}
