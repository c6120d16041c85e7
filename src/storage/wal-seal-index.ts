/**
 * Sealed-segment indexes: what replaying a sealed WAL segment does to the store's state, written
 * beside it once it is sealed, so that an open reads a few bytes per entry instead of every byte
 * of the log and its checksums (restart time is otherwise linear in the log's bytes).
 *
 * File `<segment number>.idx` next to `<segment number>.wal` (all integers big-endian):
 *
 *   offset 0    12 bytes  magic "raftkit-widx"
 *   offset 12   u8        format version (1)
 *   offset 13   u64       segment number
 *   offset 21   u64       the segment's size when it was sealed (sealed segments hold no zeros)
 *   offset 29   u64       ops length n
 *   offset 37   n bytes   ops
 *   offset 37+n 32 bytes  SHA-256 of bytes 0 .. 37+n
 *
 * Ops are the segment's records of complete groups, in order, with entries reduced to where they
 * are (no payload):
 *
 *   Entry:  u8 1, u8 entry type, u64 index, u64 term, u48 record offset, u32 record length (28 bytes)
 *   other:  u8 record type (Stable, Truncate, Head, Commit), u48 record offset, u32 payload length, payload
 *
 * An index is a cache, never the only copy of anything: the segment is durable before its index
 * is written, and a missing, damaged, stale (the segment's size differs) or unknown-version index
 * is ignored and the segment scanned as before (the open logs it and writes a new index). Entry
 * checksums are not checked at an indexed open: every read checks the record's checksum before
 * the entry is decoded (wal-reader.ts), so damage is reported as ErrStoreCorrupt when the entry is
 * read (to be applied or sent), never served. Data directories without indexes open as before
 * and get them on their first open.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { O_CREATE_WRITE, O_READ, readFully, writeAll, type FileSystem } from './file-system.js';
import { readUint64 } from './log-codec.js';
import type { StoreLogger } from './types.js';
import {
  RecordBuffer,
  RecordType,
  checkRecord,
  decodeHeaderPayload,
  recordPayload,
  writeUint64,
} from './wal-format.js';

const MAGIC = Buffer.from('raftkit-widx', 'ascii');
const FORMAT_VERSION = 1;
const HEADER_BYTES = MAGIC.length + 1 + 8 + 8 + 8;
const HASH_BYTES = 32;
/** The Entry op's size; other ops are OP_PREFIX_BYTES + their payload. */
export const ENTRY_OP_BYTES = 28;
export const OP_PREFIX_BYTES = 11;
/** An index's tmp file while it is written; renamed into place when whole. */
export const INDEX_TMP_SUFFIX = '.idx.tmp';
/** The first record of a segment: its header (wal-format.ts, 20 payload bytes). */
const SEGMENT_HEADER_RECORD_BYTES = 33;

/** The index file of segment `number` in `dir`. */
export function indexPath(dir: string, number: number): string {
  return join(dir, `${String(number).padStart(20, '0')}.idx`);
}

/**
 * The ops of the segment being written (or replayed): collected as records are applied, cut back
 * to the last Commit when a replay ends in a torn group. Memory: at most about the segment's
 * size (an op is never larger than its record), a few MiB for a 64 MiB segment of small entries.
 */
export class SegmentOps {
  /** Ops loaded from the segment's index: not copied unless the segment is written to again. */
  private loaded: Buffer = Buffer.alloc(0);
  private buffer = new RecordBuffer();
  private committed = 0;

  entry(type: number, index: number, term: number, offset: number, length: number): void {
    const out = this.buffer;
    const at = out.reserve(ENTRY_OP_BYTES);
    const bytes = out.bytes;
    bytes[at] = RecordType.Entry;
    bytes[at + 1] = type;
    writeUint64(bytes, at + 2, index);
    writeUint64(bytes, at + 10, term);
    bytes.writeUIntBE(offset, at + 18, 6);
    bytes.writeUInt32BE(length, at + 24);
  }

  change(type: RecordType, payload: Buffer, offset: number): void {
    const out = this.buffer;
    const at = out.reserve(OP_PREFIX_BYTES + payload.length);
    const bytes = out.bytes;
    bytes[at] = type;
    bytes.writeUIntBE(offset, at + 1, 6);
    bytes.writeUInt32BE(payload.length, at + 7);
    bytes.set(payload, at + OP_PREFIX_BYTES);
    if (type === RecordType.Commit) this.committed = out.length;
  }

  /** Drops ops after the last Commit (a torn group at the end of a replay). */
  dropUncommitted(): void {
    this.buffer.truncate(this.committed);
  }

  /** A copy of the committed ops. */
  copy(): Buffer {
    return Buffer.concat([this.loaded, this.buffer.bytes.subarray(0, this.committed)]);
  }

  /** Starts over, empty (a new segment) or holding `ops` (a segment loaded from its index). */
  reset(ops: Buffer = Buffer.alloc(0)): void {
    this.loaded = ops;
    this.buffer.reset();
    this.committed = 0;
  }
}

/** The file bytes of the index of segment `number`, sealed at `dataBytes`, holding `ops`. */
export function encodeSealIndex(number: number, dataBytes: number, ops: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + ops.length + HASH_BYTES);
  MAGIC.copy(out, 0);
  out[MAGIC.length] = FORMAT_VERSION;
  writeUint64(out, MAGIC.length + 1, number);
  writeUint64(out, MAGIC.length + 9, dataBytes);
  writeUint64(out, MAGIC.length + 17, ops.length);
  ops.copy(out, HEADER_BYTES);
  const end = HEADER_BYTES + ops.length;
  createHash('sha256').update(out.subarray(0, end)).digest().copy(out, end);
  return out;
}

/** The ops of an index file's bytes, or why they cannot be used for segment `number` of `dataBytes`. */
export function decodeSealIndex(bytes: Buffer, number: number, dataBytes: number): Buffer | string {
  if (bytes.length < HEADER_BYTES + HASH_BYTES || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    return 'not a WAL segment index';
  }
  if (bytes[MAGIC.length] !== FORMAT_VERSION) return `unknown index version ${bytes[MAGIC.length]}`;
  const end = bytes.length - HASH_BYTES;
  const digest = createHash('sha256').update(bytes.subarray(0, end)).digest();
  if (!digest.equals(bytes.subarray(end))) return 'checksum mismatch';
  if (readUint64(bytes, MAGIC.length + 1) !== number) return 'it names another segment';
  const sealedAt = readUint64(bytes, MAGIC.length + 9);
  if (sealedAt !== dataBytes)
    return `it was written for ${sealedAt} bytes of segment, which has ${dataBytes}`;
  if (readUint64(bytes, MAGIC.length + 17) !== end - HEADER_BYTES) return 'ops length does not match';
  return bytes.subarray(HEADER_BYTES, end);
}

export interface SealIndexFiles {
  files: FileSystem;
  dir: string;
  noSync: boolean;
  logger: StoreLogger;
}

/**
 * The ops of sealed segment `number` (`dataBytes` long) from its index, or null when the segment
 * must be scanned (the reason is logged). Reads at most `dataBytes` plus the frame: an op is
 * never longer than its record, so a larger file is not an index of this segment.
 */
export async function readSealIndex(
  where: SealIndexFiles,
  number: number,
  dataBytes: number,
  segmentHeader: Buffer,
): Promise<Buffer | null> {
  const path = indexPath(where.dir, number);
  const problem = (why: string): null => {
    where.logger.warn(
      { path, why },
      'WAL segment index is unusable: scanning the segment and indexing it again',
    );
    return null;
  };
  if ((await where.files.stat(path)) === null) {
    where.logger.info({ path }, 'WAL segment has no index yet: scanning the segment and indexing it');
    return null;
  }
  let bytes: Buffer;
  try {
    const file = await where.files.open(path, O_READ);
    try {
      const { size } = await file.stat();
      if (size > HEADER_BYTES + dataBytes + HASH_BYTES) return problem(`${size} bytes is too large`);
      bytes = Buffer.allocUnsafe(size);
      bytes = bytes.subarray(0, await readFully(file, bytes, 0, size, 0));
    } finally {
      await file.close();
    }
  } catch (error) {
    return problem((error as Error).message);
  }
  const decoded = decodeSealIndex(bytes, number, dataBytes);
  if (typeof decoded === 'string') return problem(decoded);
  const header = checkSegmentHeader(segmentHeader, number);
  if (header !== null) return problem(`the segment's ${header}`);
  return decoded;
}

/**
 * Removes what an index write cut short by a crash left behind (tmp files), and indexes whose
 * segment is gone (compacted away by a raftkit that predates indexes). Best effort: a leftover
 * index is never used anyway, as it must match its segment's number, size and header.
 */
export async function removeIndexLeftovers(files: FileSystem, dir: string): Promise<void> {
  const names = new Set((await files.readdir(dir)).map((entry) => entry.name));
  for (const name of names) {
    const index = /^(\d{20})\.idx$/.exec(name);
    const orphan = index !== null && !names.has(`${index[1]}.wal`);
    if (orphan || name.endsWith(INDEX_TMP_SUFFIX)) await files.unlink(join(dir, name)).catch(() => {});
  }
}

/** Null when `bytes` start with the header record of segment `number`, else what is wrong. */
function checkSegmentHeader(bytes: Buffer, number: number): string | null {
  const checked = checkRecord(bytes, 0, Math.min(bytes.length, SEGMENT_HEADER_RECORD_BYTES));
  if (typeof checked === 'string') return `header: ${checked}`;
  if (bytes[4] !== RecordType.Header) return 'first record is not a header';
  try {
    if (decodeHeaderPayload(recordPayload(bytes, 0, checked), 'segment') !== number)
      return 'header names another segment';
  } catch (error) {
    return (error as Error).message;
  }
  return null;
}

/** Bytes of a segment to read for checkSegmentHeader. */
export const SEGMENT_HEADER_BYTES = SEGMENT_HEADER_RECORD_BYTES;

/**
 * Writes the index of sealed segment `number` (tmp file, fdatasync, rename). A failure is logged
 * and nothing else: the next open scans the segment instead.
 */
export async function writeSealIndex(
  where: SealIndexFiles,
  number: number,
  dataBytes: number,
  ops: Buffer,
): Promise<void> {
  const path = indexPath(where.dir, number);
  const tmp = path.replace(/\.idx$/, INDEX_TMP_SUFFIX);
  try {
    const file = await where.files.open(tmp, O_CREATE_WRITE, 0o644);
    try {
      await writeAll(file, encodeSealIndex(number, dataBytes, ops), 0);
      if (!where.noSync) await file.datasync();
    } finally {
      await file.close();
    }
    await where.files.rename(tmp, path);
  } catch (error) {
    await where.files.unlink(tmp).catch(() => {});
    where.logger.warn(
      { path, err: (error as Error).message },
      'WAL could not write a segment index: the next open scans the segment instead',
    );
  }
}
