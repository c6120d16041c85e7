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
import { checkCrc64, sealCrc64 } from './crc64.js';
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

/** Bytes before a record's payload: its length and type. */
export const PREFIX_BYTES = 5;
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

  /** Appends a record whose payload is one u64 (Truncate, Head, Commit) without allocating. */
  appendIndexRecord(type: RecordType, index: number): void {
    const at = this.reserve(RECORD_OVERHEAD + 8);
    writeUint64(this.bytes, at + PREFIX_BYTES, index);
    sealRecord(this.bytes, at, type, 8);
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

/** Bytes the Entry record of `entry` takes. */
export function entryRecordLength(entry: LogEntry): number {
  return RECORD_OVERHEAD + encodedLogEntrySize(entry);
}

/**
 * Appends one Entry record per entry to `out`, encoding straight into it, and returns the offset
 * of the first; the others follow back to back (entryRecordLength each). A bad entry leaves `out`
 * as it was.
 */
export function appendEntryRecords(out: RecordBuffer, entries: readonly LogEntry[]): number {
  const mark = out.length;
  try {
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      const payload = encodedLogEntrySize(entry);
      checkPayloadSize(payload);
      const at = out.reserve(RECORD_OVERHEAD + payload);
      encodeLogEntryInto(out.bytes, at + PREFIX_BYTES, entry);
      sealRecord(out.bytes, at, RecordType.Entry, payload);
    }
  } catch (error) {
    out.truncate(mark);
    throw error;
  }
  return mark;
}

/** Writes the prefix and checksum of the record at `at`, whose payload is already in place. */
function sealRecord(out: Buffer, at: number, type: RecordType, payloadLength: number): void {
  out.writeUInt32BE(payloadLength, at);
  out[at + 4] = type;
  const end = at + PREFIX_BYTES + payloadLength;
  sealCrc64(out, at, end, end);
}

function checkPayloadSize(length: number): void {
  if (length > MAX_PAYLOAD_BYTES) {
    throw new RangeError(`WAL record payload of ${length} bytes exceeds ${MAX_PAYLOAD_BYTES}`);
  }
}

/** Writes `value` (a safe integer) as a u64 BE at `at`. */
export function writeUint64(out: Buffer, at: number, value: number): void {
  out.writeUInt32BE(Math.floor(value / 0x1_0000_0000), at);
  out.writeUInt32BE(value % 0x1_0000_0000, at + 4);
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

/**
 * Checks the record at `offset`, which must lie wholly before `end`: returns its length, or why it
 * is not a record (a checksum mismatch, an unknown type). Allocates nothing: the replay at open
 * runs it over every record of the log.
 */
export function checkRecord(bytes: Buffer, offset: number, end: number): number | string {
  const available = end - offset;
  if (available < RECORD_OVERHEAD) return `${available} bytes is less than a record's ${RECORD_OVERHEAD}`;
  const payloadLength = bytes.readUInt32BE(offset);
  const length = RECORD_OVERHEAD + payloadLength;
  if (payloadLength > MAX_PAYLOAD_BYTES || length > available) {
    return `record of ${payloadLength} payload bytes overruns the ${available} bytes left`;
  }
  const crcAt = offset + PREFIX_BYTES + payloadLength;
  if (!checkCrc64(bytes, offset, crcAt, crcAt)) return 'checksum mismatch';
  const type = bytes[offset + 4];
  if (type < RecordType.Entry || type > RecordType.Header) return `unknown record type ${type}`;
  return length;
}

/** The payload of the (checked) record at `offset` whose total length is `length`. */
export function recordPayload(bytes: Buffer, offset: number, length: number): Buffer {
  return bytes.subarray(offset + PREFIX_BYTES, offset + length - CHECKSUM_BYTES);
}

/** Checks one Entry record read back on its own (fetched by offset); returns its payload. */
export function readEntryRecord(bytes: Buffer, where: string): Buffer {
  const checked = checkRecord(bytes, 0, bytes.length);
  if (typeof checked === 'string') throw new ErrStoreCorrupt(`${where}: ${checked}`);
  if (checked !== bytes.length) throw new ErrStoreCorrupt(`${where}: record length does not match`);
  if (bytes[4] !== RecordType.Entry) throw new ErrStoreCorrupt(`${where}: not a log entry`);
  return recordPayload(bytes, 0, checked);
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
