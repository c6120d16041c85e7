/**
 * The on-disk encoding of log entries and uint64 values used by the LMDB and WAL stores, and the
 * argument checks they share.
 *
 * Log entry, version 1 (all integers big-endian, fixed 34-byte frame around the two payloads):
 *
 *   offset  size  field
 *   0       1     format version (1)
 *   1       1     type (LogType)
 *   2       8     index (uint64)
 *   10      8     term (uint64)
 *   18      8     appendedAt (float64, ms since the Unix epoch; 0 is Go's zero time)
 *   26      4     data length D
 *   30      D     data
 *   30+D    4     extensions length E
 *   34+D    E     extensions
 *
 * The index is repeated in the value although it is also the key, so that a value found under
 * the wrong key (a damaged page) is detected. The decoder checks every length against the buffer
 * before reading and answers anything malformed with ErrStoreCorrupt, never a crash.
 */
import { ErrStoreCorrupt } from '../core/errors.js';
import { LogType, type LogEntry } from '../core/types.js';

export const LOG_CODEC_VERSION = 1;

const HEADER_SIZE = 30;
const FRAME_SIZE = HEADER_SIZE + 4;
const TWO_POW_32 = 0x1_0000_0000;
/** The high 32-bit word of Number.MAX_SAFE_INTEGER: larger values are not safe integers. */
const MAX_SAFE_HIGH_WORD = 0x1f_ffff;

/** The 8-byte big-endian form hashicorp's stores use for log keys and uint64 values. */
export function encodeUint64(value: number): Buffer {
  const out = Buffer.allocUnsafe(8);
  writeUint64(out, 0, value, 'value');
  return out;
}

/** Reads an 8-byte big-endian uint64; anything else (or a value beyond 2^53-1) is ErrStoreCorrupt. */
export function decodeUint64(bytes: Uint8Array, what: string): number {
  if (bytes.length !== 8) throw new ErrStoreCorrupt(`${what}: expected 8 bytes, found ${bytes.length}`);
  const value = readUint64(toBuffer(bytes), 0);
  if (value === undefined) throw new ErrStoreCorrupt(`${what}: exceeds 2^53-1`);
  return value;
}

export function encodeLogEntry(entry: LogEntry): Buffer {
  const out = Buffer.allocUnsafe(encodedLogEntrySize(entry));
  encodeLogEntryInto(out, 0, entry);
  return out;
}

/** Bytes `encodeLogEntry` produces for `entry`. */
export function encodedLogEntrySize(entry: LogEntry): number {
  return FRAME_SIZE + entry.data.length + entry.extensions.length;
}

/**
 * Encodes `entry` into `out` at `offset` (which must have encodedLogEntrySize bytes free): lets a
 * store lay a whole batch into one buffer. Checks the entry before writing anything.
 */
export function encodeLogEntryInto(out: Buffer, offset: number, entry: LogEntry): void {
  if (LogType[entry.type] === undefined) throw new RangeError(`log entry type ${entry.type} is unknown`);
  if (!Number.isFinite(entry.appendedAt)) throw new RangeError('log entry appendedAt must be finite');
  checkUint64(entry.index, 'log entry index');
  checkUint64(entry.term, 'log entry term');
  const data = entry.data;
  const extensions = entry.extensions;
  out[offset] = LOG_CODEC_VERSION;
  out[offset + 1] = entry.type;
  writeUint64(out, offset + 2, entry.index, 'log entry index');
  writeUint64(out, offset + 10, entry.term, 'log entry term');
  out.writeDoubleBE(entry.appendedAt, offset + 18);
  out.writeUInt32BE(data.length, offset + 26);
  out.set(data, offset + HEADER_SIZE);
  const extensionsAt = offset + HEADER_SIZE + data.length;
  out.writeUInt32BE(extensions.length, extensionsAt);
  out.set(extensions, extensionsAt + 4);
}

/**
 * Decodes one entry. `data` and `extensions` are views into `bytes`, so pass a buffer the caller
 * owns (LMDB's getBinary and range reads return copies). `expectedIndex` is the key it was found under.
 */
export function decodeLogEntry(bytes: Uint8Array, expectedIndex: number): LogEntry {
  const buf = toBuffer(bytes);
  const { term, type } = decodeLogEntryTerm(buf, expectedIndex);
  const appendedAt = buf.readDoubleBE(18);
  if (!Number.isFinite(appendedAt)) throw corrupt(expectedIndex, 'appendedAt is not a finite number');
  const dataLength = buf.readUInt32BE(26);
  if (dataLength > buf.length - FRAME_SIZE) {
    throw corrupt(expectedIndex, `data length ${dataLength} overruns the value`);
  }
  const extensionsAt = HEADER_SIZE + dataLength;
  const extensionsLength = buf.readUInt32BE(extensionsAt);
  if (extensionsLength !== buf.length - FRAME_SIZE - dataLength) {
    throw corrupt(expectedIndex, `extensions length ${extensionsLength} does not match the value's size`);
  }
  return {
    index: expectedIndex,
    term,
    type,
    data: view(buf, HEADER_SIZE, dataLength),
    extensions: view(buf, extensionsAt + 4, extensionsLength),
    appendedAt,
  };
}

/**
 * The term and type of an encoded entry, checked as far as they go (frame size, version, type,
 * index, term), without touching its payloads: what a restart needs from each entry.
 */
export function decodeLogEntryTerm(
  bytes: Uint8Array,
  expectedIndex: number,
): { term: number; type: LogType } {
  const buf = toBuffer(bytes);
  if (buf.length < FRAME_SIZE) {
    throw corrupt(expectedIndex, `${buf.length} bytes is shorter than the ${FRAME_SIZE}-byte frame`);
  }
  if (buf[0] !== LOG_CODEC_VERSION) throw corrupt(expectedIndex, `unknown format version ${buf[0]}`);
  const type = buf[1];
  if (LogType[type] === undefined) throw corrupt(expectedIndex, `unknown type ${type}`);
  const index = readUint64(buf, 2);
  if (index !== expectedIndex) throw corrupt(expectedIndex, `holds index ${index ?? '> 2^53-1'}`);
  const term = readUint64(buf, 10);
  if (term === undefined) throw corrupt(expectedIndex, 'term exceeds 2^53-1');
  return { term, type: type as LogType };
}

function corrupt(index: number, why: string): Error {
  return new ErrStoreCorrupt(`log entry at index ${index}: ${why}`);
}

function checkUint64(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative safe integer, got ${value}`);
  }
}

function writeUint64(out: Buffer, offset: number, value: number, what: string): void {
  checkUint64(value, what);
  out.writeUInt32BE(Math.floor(value / TWO_POW_32), offset);
  out.writeUInt32BE(value % TWO_POW_32, offset + 4);
}

/** The 8-byte big-endian uint64 at `offset`; undefined when it does not fit a safe integer. */
export function readUint64(buf: Buffer, offset: number): number | undefined {
  const high = buf.readUInt32BE(offset);
  if (high > MAX_SAFE_HIGH_WORD) return undefined;
  return high * TWO_POW_32 + buf.readUInt32BE(offset + 4);
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** A plain Uint8Array view (not a Buffer), as LogEntry promises. */
function view(buf: Buffer, offset: number, length: number): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset + offset, length);
}

/**
 * The part of deleteRange(min, max) that falls inside a log holding first..last (0, 0: empty),
 * or null when none does; RangeError unless both bounds are safe integers.
 */
export function deleteBounds(
  min: number,
  max: number,
  first: number,
  last: number,
): { from: number; to: number } | null {
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max)) {
    throw new RangeError(`deleteRange bounds must be safe integers, got ${min}..${max}`);
  }
  const from = Math.max(min, first);
  const to = Math.min(max, last);
  return last === 0 || from > to ? null : { from, to };
}

/** A log index stores accept: a safe integer >= 1. */
export function isLogIndex(index: number): boolean {
  return Number.isSafeInteger(index) && index >= 1;
}

/** A stable-store key as UTF-8 bytes; RangeError unless it has 1..maxBytes of them. */
export function stableKeyBytes(key: string, maxBytes: number): Buffer {
  const bytes = Buffer.from(key, 'utf8');
  if (bytes.length === 0 || bytes.length > maxBytes) {
    throw new RangeError(`stable key must be 1..${maxBytes} bytes, got ${bytes.length}`);
  }
  return bytes;
}
