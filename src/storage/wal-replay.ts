/**
 * WalStore's durable state and how it is rebuilt at open: replaying each segment's complete
 * groups in order (see wal-format.ts for records and groups, wal.ts for the store).
 *
 * Replay is the whole of a restart's cost for a long log, so it streams each segment through one
 * reused chunk buffer, checks every record's checksum in place and keeps no per-record object:
 * a group's entries wait in a few number arrays until its Commit record applies them.
 */
import { ErrStoreCorrupt, ErrStoreRead } from '../core/errors.js';
import { readFully, type StoreFile } from './file-system.js';
import { readUint64 } from './log-codec.js';
import {
  MAX_PAYLOAD_BYTES,
  PREFIX_BYTES,
  RECORD_OVERHEAD,
  RecordType,
  checkRecord,
  decodeHeaderPayload,
  decodeIndexPayload,
  decodeStablePayload,
  recordPayload,
} from './wal-format.js';
import { EntryTable } from './wal-index.js';
import { ENTRY_OP_BYTES, OP_PREFIX_BYTES, SegmentOps } from './wal-seal-index.js';

/** Bytes read per call while replaying (a record larger than this gets a buffer of its own size). */
const CHUNK_BYTES = 4 * 1024 * 1024;
/** The fixed part of an encoded entry up to and including its term (log-codec.ts). */
const ENTRY_TERM_END = 18;
const COMMIT_RECORD_BYTES = RECORD_OVERHEAD + 8;
const TWO_POW_32 = 0x1_0000_0000;
/** The high 32-bit word of Number.MAX_SAFE_INTEGER: larger values are not safe integers. */
const MAX_SAFE_HIGH_WORD = 0x1f_ffff;
const PENDING_SLOTS = 5;
/** How a Commit record starts: payload length 8 (u32 BE), then its type. */
const COMMIT_PREFIX = Buffer.from([0, 0, 0, 8, RecordType.Commit]);

/** A group's record other than an entry, applied after the entries that came before it. */
interface PendingChange {
  type: RecordType;
  /** How many of the group's entries precede it. */
  entriesBefore: number;
  index: number;
  key: string;
  value: Buffer;
}

/** A window on a file: `bytes` holds the file's bytes from `start` to `start + length`. */
class FileWindow {
  bytes = Buffer.allocUnsafe(CHUNK_BYTES);
  start = 0;
  length = 0;

  private file: StoreFile | null = null;
  private path = '';
  private size = 0;

  reset(file: StoreFile, path: string, size: number): void {
    this.file = file;
    this.path = path;
    this.size = size;
    this.start = 0;
    this.length = 0;
  }

  /** Whether the window holds file bytes [at, at + n). */
  holds(at: number, n: number): boolean {
    return at >= this.start && at + n <= this.start + this.length;
  }

  /** Makes the window hold file bytes [at, at + n), which the caller knows lie inside the file. */
  async fill(at: number, n: number): Promise<void> {
    const keep = at >= this.start && at < this.start + this.length ? this.start + this.length - at : 0;
    const want = Math.max(n, Math.min(CHUNK_BYTES, this.size - at));
    if (want > this.bytes.length) {
      const grown = Buffer.allocUnsafe(want);
      this.bytes.copy(grown, 0, at - this.start, at - this.start + keep);
      this.bytes = grown;
    } else if (keep > 0) {
      this.bytes.copy(this.bytes, 0, at - this.start, at - this.start + keep);
    }
    let got: number;
    try {
      got = await readFully(this.file!, this.bytes, keep, want - keep, at + keep);
    } catch (error) {
      throw new ErrStoreRead(`${this.path} at offset ${at + keep}: ${(error as Error).message}`);
    }
    this.start = at;
    this.length = keep + got;
    if (this.length < n)
      throw new ErrStoreCorrupt(`file shrank while being read at offset ${at + this.length}`);
  }
}

/** The durable state, rebuilt at open by replaying groups and kept up to date after each group. */
export class WalState {
  readonly table = new EntryTable();
  readonly stable = new Map<string, Buffer>();
  groupNumber = 0;
  /** The newest segment's ops, written as its index when it is sealed (wal-seal-index.ts). */
  readonly ops = new SegmentOps();
  private readonly window = new FileWindow();
  /** The open group's entries: index, offset, length, term, type each, in one reused array. */
  private pending = new Float64Array(1024 * PENDING_SLOTS);
  private pendingCount = 0;
  /** The open group's other changes. */
  private readonly changes: PendingChange[] = [];

  /**
   * Applies the complete groups of one segment (`size` bytes of `file`); returns the end of the
   * last one (0: none). Damage in a sealed segment, or damage followed by an intact group, is
   * ErrStoreCorrupt.
   */
  async replaySegment(
    file: StoreFile,
    size: number,
    number: number,
    path: string,
    newest: boolean,
  ): Promise<number> {
    const window = this.window;
    window.reset(file, path, size);
    this.clearGroup();
    this.ops.reset();
    let end = 0;
    let position = 0;
    let stop: string | null = null;
    while (position < size) {
      if (size - position < RECORD_OVERHEAD) {
        stop = `${size - position} bytes is less than a record's ${RECORD_OVERHEAD}`;
        break;
      }
      if (!window.holds(position, RECORD_OVERHEAD)) await window.fill(position, RECORD_OVERHEAD);
      const payloadLength = window.bytes.readUInt32BE(position - window.start);
      if (payloadLength > MAX_PAYLOAD_BYTES || RECORD_OVERHEAD + payloadLength > size - position) {
        stop = `record of ${payloadLength} payload bytes overruns the ${size - position} bytes left`;
        break;
      }
      const length = RECORD_OVERHEAD + payloadLength;
      if (!window.holds(position, length)) await window.fill(position, length);
      const at = position - window.start;
      const checked = checkRecord(window.bytes, at, at + length);
      if (typeof checked === 'string') {
        stop = checked;
        break;
      }
      if (position === 0) {
        if (window.bytes[at + 4] !== RecordType.Header)
          throw new ErrStoreCorrupt(`${path}: does not start with a header`);
        const found = decodeHeaderPayload(recordPayload(window.bytes, at, length), path);
        if (found !== number) throw new ErrStoreCorrupt(`${path}: header names segment ${found}`);
      }
      if (this.addRecord(window.bytes, at, length, number, position, path)) end = position + length;
      position += length;
    }
    this.clearGroup();
    this.ops.dropUncommitted();
    if (end < size || (end === 0 && !newest)) {
      const why =
        stop !== null
          ? `${stop} at offset ${position}`
          : size === 0
            ? 'it is empty'
            : 'a group without its commit';
      if (!newest) throw new ErrStoreCorrupt(`${path}: sealed segment is damaged: ${why}`);
      const intact = stop === null ? -1 : await this.findCommitAfter(position, size);
      if (intact >= 0) {
        throw new ErrStoreCorrupt(`${path}: ${why}, yet a complete group follows at offset ${intact}`);
      }
    }
    return end;
  }

  /**
   * Applies the records of a group the store has just written durably: `bytes[0..length)` landed
   * at offset `base` of `segment`. The same code as replay, so that the state after a write is
   * exactly what a reopen rebuilds.
   */
  applyWritten(bytes: Buffer, length: number, segment: number, base: number, path: string): void {
    let at = 0;
    while (at < length) {
      const recordLength = RECORD_OVERHEAD + bytes.readUInt32BE(at);
      this.addRecord(bytes, at, recordLength, segment, base + at, path);
      at += recordLength;
    }
    this.clearGroup();
  }

  /**
   * Takes in the checked record at `bytes[at..]`, which lies at `position` in `segment`; returns
   * true when it was a Commit, which applied its group.
   */
  private addRecord(
    bytes: Buffer,
    at: number,
    length: number,
    segment: number,
    position: number,
    path: string,
  ): boolean {
    const type = bytes[at + 4] as RecordType;
    if (type === RecordType.Entry) {
      this.addEntry(bytes, at, length, position, path);
      return false;
    }
    if (type === RecordType.Header) return false;
    const where = `${path} at offset ${position}`;
    const payload = recordPayload(bytes, at, length);
    this.ops.change(type, payload, position);
    if (type !== RecordType.Commit) {
      this.addChange(type, payload, where);
      return false;
    }
    this.applyGroup(segment, where);
    this.groupNumber = decodeIndexPayload(payload, where);
    return true;
  }

  /**
   * Applies the ops of sealed segment `segment` read from its index (wal-seal-index.ts): the same
   * changes its complete groups make when replayed, without reading the segment. The ops passed
   * their index's checksum; anything malformed in them is still ErrStoreCorrupt, never a crash.
   */
  replayOps(ops: Buffer, segment: number, path: string): void {
    this.clearGroup();
    const table = this.table;
    const corrupt = (at: number, why: string) =>
      new ErrStoreCorrupt(`${path} (index) at op offset ${at}: ${why}`);
    const view = new DataView(ops.buffer, ops.byteOffset, ops.byteLength);
    let at = 0;
    while (at < ops.length) {
      const kind = ops[at];
      if (kind === RecordType.Entry) {
        if (at + ENTRY_OP_BYTES > ops.length) throw corrupt(at, 'entry op cut short');
        // A DataView: Buffer's readUInt*BE check their arguments on every call, a cost per entry.
        const indexHigh = view.getUint32(at + 2);
        const termHigh = view.getUint32(at + 10);
        if (indexHigh > MAX_SAFE_HIGH_WORD || termHigh > MAX_SAFE_HIGH_WORD)
          throw corrupt(at, 'exceeds 2^53-1');
        const index = indexHigh * TWO_POW_32 + view.getUint32(at + 6);
        const term = termHigh * TWO_POW_32 + view.getUint32(at + 14);
        const last = table.last();
        if (last !== 0 && index !== last + 1) throw corrupt(at, `entry ${index} does not follow ${last}`);
        const offset = view.getUint16(at + 18) * TWO_POW_32 + view.getUint32(at + 20);
        table.push(index, segment, offset, view.getUint32(at + 24), term, ops[at + 1]);
        at += ENTRY_OP_BYTES;
        continue;
      }
      if (at + OP_PREFIX_BYTES > ops.length) throw corrupt(at, 'op cut short');
      const end = at + OP_PREFIX_BYTES + ops.readUInt32BE(at + 7);
      if (end > ops.length) throw corrupt(at, 'op overruns the index');
      const payload = ops.subarray(at + OP_PREFIX_BYTES, end);
      const where = `${path} (index) at op offset ${at}`;
      if (kind === RecordType.Commit) {
        this.groupNumber = decodeIndexPayload(payload, where);
      } else if (kind === RecordType.Stable || kind === RecordType.Truncate || kind === RecordType.Head) {
        this.addChange(kind, payload, where);
        this.applyGroup(segment, where);
      } else {
        throw corrupt(at, `unknown op ${kind}`);
      }
      at = end;
    }
    this.ops.reset(ops);
  }

  private addEntry(bytes: Buffer, at: number, length: number, position: number, path: string): void {
    const payload = at + PREFIX_BYTES;
    if (length - RECORD_OVERHEAD < ENTRY_TERM_END) {
      throw new ErrStoreCorrupt(`${path} at offset ${position}: entry too short`);
    }
    // The type, index and term sit at bytes 1, 2..10 and 10..18 of an encoded entry; reads decode
    // and check the rest.
    const index = readUint64(bytes, payload + 2);
    const term = readUint64(bytes, payload + 10);
    if (index === undefined || term === undefined) {
      throw new ErrStoreCorrupt(`${path} at offset ${position}: entry exceeds 2^53-1`);
    }
    if ((this.pendingCount + 1) * PENDING_SLOTS > this.pending.length) {
      const grown = new Float64Array(this.pending.length * 2);
      grown.set(this.pending);
      this.pending = grown;
    }
    this.ops.entry(bytes[payload + 1], index, term, position, length);
    const slot = this.pendingCount++ * PENDING_SLOTS;
    this.pending[slot] = index;
    this.pending[slot + 1] = position;
    this.pending[slot + 2] = length;
    this.pending[slot + 3] = term;
    this.pending[slot + 4] = bytes[payload + 1];
  }

  private addChange(type: RecordType, payload: Buffer, where: string): void {
    const change: PendingChange = {
      type,
      entriesBefore: this.pendingCount,
      index: 0,
      key: '',
      value: payload,
    };
    if (type === RecordType.Stable) {
      const { key, value } = decodeStablePayload(payload, where);
      change.key = key;
      change.value = value;
    } else {
      change.index = decodeIndexPayload(payload, where);
    }
    this.changes.push(change);
  }

  /** Applies the open group (its Commit record was just read). */
  private applyGroup(segment: number, where: string): void {
    let next = 0;
    for (const change of this.changes) {
      next = this.applyEntries(next, change.entriesBefore, segment, where);
      if (change.type === RecordType.Stable) this.stable.set(change.key, change.value);
      else if (change.type === RecordType.Truncate) this.table.truncateFrom(change.index);
      else if (change.type === RecordType.Head) this.table.dropBefore(change.index);
    }
    this.applyEntries(next, this.pendingCount, segment, where);
    this.clearGroup();
  }

  private applyEntries(from: number, to: number, segment: number, where: string): number {
    const table = this.table;
    const pending = this.pending;
    for (let i = from; i < to; i++) {
      const at = i * PENDING_SLOTS;
      const index = pending[at];
      const last = table.last();
      if (last !== 0 && index !== last + 1) {
        throw new ErrStoreCorrupt(`${where}: entry ${index} does not follow ${last}`);
      }
      table.push(index, segment, pending[at + 1], pending[at + 2], pending[at + 3], pending[at + 4]);
    }
    return to;
  }

  private clearGroup(): void {
    this.pendingCount = 0;
    this.changes.length = 0;
  }

  /**
   * The offset of an intact Commit record after `from` that closes a group later than the last
   * one applied, or -1. Only the group being written can be torn (each group is synced before the
   * next is written), so such a commit behind the damage means the damage is not a torn tail.
   * (Entry data that embeds a well-formed commit record with the next group number would make a
   * torn tail look like damage: the store then refuses to open instead of losing anything.)
   */
  private async findCommitAfter(from: number, size: number): Promise<number> {
    const window = this.window;
    let at = from + 1;
    while (at + COMMIT_RECORD_BYTES <= size) {
      if (!window.holds(at, COMMIT_RECORD_BYTES)) await window.fill(at, COMMIT_RECORD_BYTES);
      // The native search skips long runs of zeros (a preallocated segment's tail) quickly.
      const valid = window.bytes.subarray(0, window.length);
      const found = valid.indexOf(COMMIT_PREFIX, at - window.start);
      if (found < 0) {
        // None starts in this window; one may straddle its end.
        at = Math.max(at + 1, window.start + window.length - COMMIT_PREFIX.length + 1);
        continue;
      }
      const candidate = window.start + found;
      if (candidate + COMMIT_RECORD_BYTES > size) return -1;
      if (!window.holds(candidate, COMMIT_RECORD_BYTES)) await window.fill(candidate, COMMIT_RECORD_BYTES);
      const offset = candidate - window.start;
      if (checkRecord(window.bytes, offset, offset + COMMIT_RECORD_BYTES) === COMMIT_RECORD_BYTES) {
        // A number beyond 2^53-1 counts as later: refusing to open is the safe side.
        const number = readUint64(window.bytes, offset + PREFIX_BYTES) ?? Infinity;
        if (number > this.groupNumber) return candidate;
      }
      at = candidate + 1;
    }
    return -1;
  }
}
