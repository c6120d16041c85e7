/**
 * Log.AppendedAt, a Go time.Time. raftkit keeps it as milliseconds since the Unix epoch, with 0
 * standing for Go's zero time (so the instant 1970-01-01T00:00:00Z itself is not representable).
 *
 * Output is always Go's 15-byte MarshalBinary form (version 1) in UTC, which every Go codec
 * version reads. Input also accepts version 2 (16 bytes), the msgpack timestamp body of 4, 8 or
 * 12 bytes as a raw str (MsgpackUseNewTimeFormat), ext -1, and nil.
 */
import { ErrDecode } from '../core/errors.js';
import type { Decoder } from './decoder.js';
import type { Encoder } from './encoder.js';

/** Seconds from 0001-01-01T00:00:00Z (Go's time origin) to the Unix epoch. */
const UNIX_TO_GO_SECONDS = 62135596800;
const TWO_32 = 4294967296;
const TIMESTAMP_EXT_TYPE = -1;

/** af 01, then 12 zero bytes, then ffff (UTC): Go's zero time. */
const GO_BINARY_LENGTH = 15;
const scratch = new Uint8Array(GO_BINARY_LENGTH);
const scratchView = new DataView(scratch.buffer);

export function writeGoTime(enc: Encoder, ms: number): void {
  let seconds = 0;
  let nanos = 0;
  if (ms !== 0) {
    const unixSeconds = Math.floor(ms / 1000);
    nanos = Math.floor(ms - unixSeconds * 1000) * 1_000_000;
    seconds = unixSeconds + UNIX_TO_GO_SECONDS;
  }
  scratch[0] = 1;
  const hi = Math.floor(seconds / TWO_32);
  scratchView.setInt32(1, hi);
  scratchView.setUint32(5, seconds - hi * TWO_32);
  scratchView.setInt32(9, nanos);
  scratchView.setInt16(13, -1); // zone offset -1 means UTC
  enc.writeBytes(scratch);
}

export function readGoTime(d: Decoder): number {
  const b = d.peek();
  if (b === 0xc0) {
    d.tryNil();
    return 0;
  }
  const ext = d.readExt();
  if (ext !== null) {
    if (ext.type !== TIMESTAMP_EXT_TYPE) throw new ErrDecode(`ext type ${ext.type} in a time field`);
    return fromTimestampBody(ext.body);
  }
  // Parsed in place: this runs once per log entry, so no subarray or DataView is made for it.
  const len = d.readRawLength();
  const start = d.pos;
  d.pos = start + Math.max(len, 0);
  const buf = d.input;
  switch (len) {
    case -1:
    case 0:
      return 0;
    case 15:
    case 16:
      return fromGoBinary(buf, start, len);
    case 4:
    case 8:
    case 12:
      return fromTimestampBody(buf.subarray(start, start + len));
    default:
      throw new ErrDecode(`${len}-byte time value`);
  }
}

function u32(b: Uint8Array, p: number): number {
  return ((b[p] << 24) >>> 0) + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);
}

function fromGoBinary(b: Uint8Array, p: number, len: number): number {
  const version = b[p];
  if ((version !== 1 || len !== 15) && (version !== 2 || len !== 16)) {
    throw new ErrDecode(`unsupported time encoding version ${version}`);
  }
  const seconds = safeInt64((b[p + 1] << 24) | (b[p + 2] << 16) | (b[p + 3] << 8) | b[p + 4], u32(b, p + 5));
  const nanos = (b[p + 9] << 24) | (b[p + 10] << 16) | (b[p + 11] << 8) | b[p + 12];
  if (seconds === 0 && nanos === 0) return 0;
  return toMillis(seconds - UNIX_TO_GO_SECONDS, nanos);
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function fromTimestampBody(body: Uint8Array): number {
  const v = viewOf(body);
  switch (body.length) {
    case 4:
      return toMillis(v.getUint32(0), 0);
    case 8: {
      const hi = v.getUint32(0);
      return toMillis((hi & 3) * TWO_32 + v.getUint32(4), hi >>> 2);
    }
    case 12:
      return toMillis(safeInt64(v.getInt32(4), v.getUint32(8)), v.getUint32(0));
    default:
      throw new ErrDecode(`${body.length}-byte timestamp`);
  }
}

/** An int64 from its signed high and unsigned low halves. */
function safeInt64(hi: number, lo: number): number {
  const value = hi * TWO_32 + lo;
  if (!Number.isSafeInteger(value)) throw new ErrDecode('time out of range');
  return value;
}

function toMillis(unixSeconds: number, nanos: number): number {
  const ms = unixSeconds * 1000 + Math.floor(nanos / 1_000_000);
  if (!Number.isSafeInteger(ms)) throw new ErrDecode('time out of range');
  return ms;
}
