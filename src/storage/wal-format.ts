/**
 * The byte format of WalStore's segment files (see wal.ts for how the store uses them).
 *
 * A segment is a sequence of records:
 *
 *   offset 0   u32 BE   payload length n
 *   offset 4   u8       record type
 *   offset 5   n bytes  payload
 *   offset 5+n 8 bytes  CRC-64/XZ of bytes 0 .. 5+n (length, type and payload)
 *
 * Records are grouped: every write the store makes is a run of records closed by a Commit record,
 * and a reader applies a group only when it reaches that group's Commit. A crash that tears the
 * last write leaves a group without its Commit (or a record whose length or checksum fails), which
 * a reader drops as a whole: each group is atomic, as an LMDB transaction is.
 *
 * Every segment starts with a group holding a Header record and one Stable record per key of the
 * stable store at the moment the segment was created, so the segments before it can be deleted
 * without losing the stable state.
 */
import { ErrStoreCorrupt } from '../core/errors.js';
import type { LogEntry } from '../core/types.js';
import { Crc64 } from './crc64.js';
import { decodeUint64, encodeLogEntryInto, encodeUint64, encodedLogEntrySize } from './log-codec.js';

export const RecordType = {
  /** A log entry, encoded by log-codec.ts. */
  Entry: 1,
  /** A stable-store value: u16 BE key length, UTF-8 key, value bytes. */
  Stable: 2,
  /** u64 BE index: entries at and after it are deleted (a suffix of the log). */
  Truncate: 3,
  /** u64 BE index: entries before it are deleted (a prefix of the log). */
  Head: 4,
  /** u64 BE group number: closes a group. */
  Commit: 5,
  /** The segment's first record: magic, format version, u64 BE segment number. */
  Header: 6,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

const PREFIX_BYTES = 5;
const CHECKSUM_BYTES = 8;
/** Bytes a record adds around its payload. */
export const RECORD_OVERHEAD = PREFIX_BYTES + CHECKSUM_BYTES;
/** Largest payload a record may carry (the length field is a u32). */
export const MAX_PAYLOAD_BYTES = 0xffff_ffff - RECORD_OVERHEAD;
export const MAX_STABLE_KEY_BYTES = 0xffff;

const MAGIC = Buffer.from('raftkit-wal', 'ascii');
const FORMAT_VERSION = 1;

/** Frames `payload` as one record of `type`. */
export function encodeRecord(type: RecordType, payload: Uint8Array): Buffer {
  checkPayloadSize(payload.length);
  const out = Buffer.allocUnsafe(RECORD_OVERHEAD + payload.length);
  out.set(payload, PREFIX_BYTES);
  sealRecord(out, 0, type, payload.length);
  return out;
}

/**
 * A reusable byte buffer that records are laid into, growing as needed. The store keeps two: one
 * collects the next group while the other is being written, so a group costs no allocation and
 * the kernel copies from pages that are already mapped.
 */
export class RecordBuffer {
  private static readonly INITIAL_BYTES = 64 * 1024;
  /** A buffer grown past this by a burst is replaced by a small one once written. */
  private static readonly RETAINED_BYTES = 4 * 1024 * 1024;
  bytes = Buffer.allocUnsafe(RecordBuffer.INITIAL_BYTES);
  length = 0;

  /** Reserves `n` bytes at the end and returns their offset; `bytes` may be replaced. */
  reserve(n: number): number {
    const at = this.length;
    if (at + n > this.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(at + n, this.bytes.length * 2));
      this.bytes.copy(grown, 0, 0, at);
      this.bytes = grown;
    }
    this.length = at + n;
    return at;
  }

  /** Appends a framed record; returns its offset. */
  append(record: Uint8Array): number {
    const at = this.reserve(record.length);
    this.bytes.set(record, at);
    return at;
  }

  /** Drops everything from `length` on. */
  truncate(length: number): void {
    this.length = length;
  }

  /** Empties the buffer, giving back memory a burst made it take. */
  reset(): void {
    this.length = 0;
    if (this.bytes.length > RecordBuffer.RETAINED_BYTES)
      this.bytes = Buffer.allocUnsafe(RecordBuffer.INITIAL_BYTES);
  }

  view(): Buffer {
    return this.bytes.subarray(0, this.length);
  }
}

/**
 * Appends one Entry record per entry to `out`, encoding straight into it, and returns each
 * record's offset in `out` and its length. A bad entry leaves `out` as it was.
 */
export function appendEntryRecords(
  out: RecordBuffer,
  entries: readonly LogEntry[],
): { starts: number[]; lengths: number[] } {
  const mark = out.length;
  const starts: number[] = [];
  const lengths: number[] = [];
  try {
    for (const entry of entries) {
      const payload = encodedLogEntrySize(entry);
      checkPayloadSize(payload);
      const at = out.reserve(RECORD_OVERHEAD + payload);
      encodeLogEntryInto(out.bytes, at + PREFIX_BYTES, entry);
      sealRecord(out.bytes, at, RecordType.Entry, payload);
      starts.push(at);
      lengths.push(RECORD_OVERHEAD + payload);
    }
  } catch (error) {
    out.truncate(mark);
    throw error;
  }
  return { starts, lengths };
}

/** Writes the prefix and checksum of the record at `at`, whose payload is already in place. */
function sealRecord(out: Buffer, at: number, type: RecordType, payloadLength: number): void {
  out.writeUInt32BE(payloadLength, at);
  out[at + 4] = type;
  const end = at + PREFIX_BYTES + payloadLength;
  new Crc64().update(out.subarray(at, end)).digestInto(out, end);
}

function checkPayloadSize(length: number): void {
  if (length > MAX_PAYLOAD_BYTES) {
    throw new RangeError(`WAL record payload of ${length} bytes exceeds ${MAX_PAYLOAD_BYTES}`);
  }
}

export function encodeIndexRecord(type: RecordType, index: number): Buffer {
  return encodeRecord(type, encodeUint64(index));
}

export function encodeStableRecord(key: Buffer, value: Uint8Array): Buffer {
  const payload = Buffer.allocUnsafe(2 + key.length + value.length);
  payload.writeUInt16BE(key.length, 0);
  payload.set(key, 2);
  payload.set(value, 2 + key.length);
  return encodeRecord(RecordType.Stable, payload);
}

export function encodeHeaderRecord(segment: number): Buffer {
  const payload = Buffer.allocUnsafe(MAGIC.length + 1 + 8);
  MAGIC.copy(payload, 0);
  payload[MAGIC.length] = FORMAT_VERSION;
  encodeUint64(segment).copy(payload, MAGIC.length + 1);
  return encodeRecord(RecordType.Header, payload);
}

/** One record found by `scanRecords`; `payload` is a view into the scanned buffer. */
export interface ScannedRecord {
  type: RecordType;
  /** Offset of the record's first byte in the scanned buffer. */
  offset: number;
  /** Total bytes of the record, overhead included. */
  length: number;
  payload: Buffer;
}

/** Why a scan ended before the end of the buffer. */
export interface ScanStop {
  offset: number;
  why: string;
}

/**
 * Reads records from `bytes` starting at `offset` until the end, or until one is incomplete, fails
 * its checksum or has an unknown type; `stop` then says where and why.
 */
export function scanRecords(bytes: Buffer, offset = 0): { records: ScannedRecord[]; stop: ScanStop | null } {
  const records: ScannedRecord[] = [];
  let at = offset;
  while (at < bytes.length) {
    const checked = checkRecordAt(bytes, at);
    if (typeof checked === 'string') return { records, stop: { offset: at, why: checked } };
    records.push(checked);
    at += checked.length;
  }
  return { records, stop: null };
}

const scratch = Buffer.alloc(CHECKSUM_BYTES);

/** The record at `offset`, or why there is none. */
function checkRecordAt(bytes: Buffer, offset: number): ScannedRecord | string {
  const available = bytes.length - offset;
  if (available < RECORD_OVERHEAD) return `${available} bytes is less than a record's ${RECORD_OVERHEAD}`;
  const payloadLength = bytes.readUInt32BE(offset);
  const length = RECORD_OVERHEAD + payloadLength;
  if (payloadLength > MAX_PAYLOAD_BYTES || length > available) {
    return `record of ${payloadLength} payload bytes overruns the ${available} bytes left`;
  }
  const end = offset + PREFIX_BYTES + payloadLength;
  new Crc64().update(bytes.subarray(offset, end)).digestInto(scratch, 0);
  if (bytes.compare(scratch, 0, CHECKSUM_BYTES, end, end + CHECKSUM_BYTES) !== 0) return 'checksum mismatch';
  const type = bytes[offset + 4];
  if (type < RecordType.Entry || type > RecordType.Header) return `unknown record type ${type}`;
  return { type: type as RecordType, offset, length, payload: bytes.subarray(offset + PREFIX_BYTES, end) };
}

/** Checks one record read back on its own (a log entry fetched by offset). */
export function readRecord(bytes: Buffer, where: string): ScannedRecord {
  const checked = checkRecordAt(bytes, 0);
  if (typeof checked === 'string') throw new ErrStoreCorrupt(`${where}: ${checked}`);
  if (checked.length !== bytes.length) throw new ErrStoreCorrupt(`${where}: record length does not match`);
  return checked;
}

export function decodeIndexPayload(payload: Buffer, where: string): number {
  return decodeUint64(payload, where);
}

export function decodeStablePayload(payload: Buffer, where: string): { key: string; value: Buffer } {
  if (payload.length < 2) throw new ErrStoreCorrupt(`${where}: stable record too short`);
  const keyLength = payload.readUInt16BE(0);
  if (keyLength === 0 || 2 + keyLength > payload.length) {
    throw new ErrStoreCorrupt(`${where}: stable key length ${keyLength} does not fit`);
  }
  return {
    key: payload.toString('utf8', 2, 2 + keyLength),
    value: Buffer.from(payload.subarray(2 + keyLength)),
  };
}

/** The segment number of a Header payload; throws ErrStoreCorrupt for anything else. */
export function decodeHeaderPayload(payload: Buffer, where: string): number {
  if (payload.length !== MAGIC.length + 9 || !payload.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new ErrStoreCorrupt(`${where}: not a raftkit WAL segment header`);
  }
  const version = payload[MAGIC.length];
  if (version !== FORMAT_VERSION)
    throw new ErrStoreCorrupt(`${where}: unknown WAL format version ${version}`);
  return decodeIndexPayload(payload.subarray(MAGIC.length + 1), where);
}
