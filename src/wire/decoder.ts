/**
 * Tolerant, incremental msgpack decoder for hashicorp/raft's Go codecs.
 *
 * Two passes over one value. `scanValue` walks the structure without allocating and answers
 * "complete, ends at N" or "need more bytes", enforcing every configured limit on declared
 * lengths and nesting as soon as a header is seen, before anything is buffered or allocated.
 * The typed readers then run over a value known to be complete, so they check types, not bounds.
 * Accepted beyond what Go emits: str8 and bin for bytes and strings, signed int forms, nil for
 * any field (its zero value). Refused: floats and ext in integer fields, integers outside the
 * safe range, negative values in unsigned fields.
 */
import { ErrDecode, ErrTooLarge } from '../core/errors.js';
import { DEFAULT_MAX_ENTRIES } from './bounds.js';
import { EMPTY_BYTES, utf8Text } from './encoder.js';

/** Limits a decoder enforces on declared sizes before allocating anything. */
export interface DecodeLimits {
  /** Largest str/bin/ext body, in bytes. */
  maxBytes: number;
  /** Largest declared array length. */
  maxArray: number;
  /** Largest declared number of map entries. */
  maxMapKeys: number;
  /** Deepest nesting of arrays and maps (a top-level map is depth 1). */
  maxDepth: number;
  /** Largest encoded size of one whole value (one request or response body). */
  maxValueBytes: number;
  /** Most log entries in one AppendEntries (checked before the entries are allocated). */
  maxEntries: number;
}

export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  maxBytes: 64 * 1024 * 1024,
  maxArray: 1024 * 1024,
  maxMapKeys: 1024,
  maxDepth: 16,
  maxValueBytes: 256 * 1024 * 1024,
  maxEntries: DEFAULT_MAX_ENTRIES,
});

/** Returned by scanning/decoding functions when the buffer holds only part of a value. */
export const NEED_MORE = -1;

const TWO_32 = 4294967296;
const MAX_SAFE_HI = 0x1fffff; // high 32 bits of Number.MAX_SAFE_INTEGER

function decodeError(detail: string): Error {
  return new ErrDecode(detail);
}

/**
 * Reads one complete msgpack value (established by scanValue) with type checks.
 *
 * Aliasing: byte slices returned by readBytes/readNullableBytes are views (subarray) into the
 * input buffer unless `copyBytes` is set. A caller that reuses or overwrites its receive buffer
 * must set copyBytes, or copy the bytes it keeps.
 *
 * With copyBytes, the slices of one value share one copy (an arena): scanValue sums the bodies of
 * every string and bytes field it passes, which bounds what the reader can take, so the reader
 * after it makes one allocation for all of them (the entries of an AppendEntries) instead of one
 * per slice. The sum counts map keys and strings read as text too: the arena can be larger than
 * what is copied into it, never larger than the value scanned (itself within maxValueBytes).
 */
export class Decoder {
  readonly limits: DecodeLimits;
  /** Copy byte slices out of the input instead of returning views of it. */
  copyBytes: boolean;
  private buf: Uint8Array = EMPTY_BYTES;
  private dv: DataView = new DataView(EMPTY_BYTES.buffer);
  pos = 0;
  private end = 0;
  private readonly stack: number[];
  /** Bodies of strings and bytes met by the scans since the last reset: the next arena's size. */
  private scannedRaw = 0;
  /** What the reader may still copy, and where: arena[arenaPos, arenaPos + arenaLeft) is free. */
  private arena: Uint8Array | null = null;
  private arenaPos = 0;
  private arenaLeft = 0;

  constructor(limits: Partial<DecodeLimits> = {}, copyBytes = false) {
    this.limits = { ...DEFAULT_DECODE_LIMITS, ...limits };
    this.copyBytes = copyBytes;
    this.stack = new Array<number>(this.limits.maxDepth + 1).fill(0);
  }

  /**
   * Forgets the input, so that a long-lived decoder does not keep the last buffer it read alive
   * (a connection's receive storage can be tens of MiB for one large frame).
   */
  release(): void {
    this.reset(EMPTY_BYTES, 0, 0);
  }

  /** Points the reader at buf[start, end). */
  reset(buf: Uint8Array, start: number, end: number = buf.length): void {
    if (buf !== this.buf) {
      this.buf = buf;
      this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    this.pos = start;
    this.end = end;
    // Allocated at the first slice taken; a slice never lands in an arena of an earlier value.
    this.arena = null;
    this.arenaPos = 0;
    this.arenaLeft = this.scannedRaw;
    this.scannedRaw = 0;
  }

  /**
   * Finds where the value starting at `start` ends, without allocating. Returns the end offset,
   * or NEED_MORE when buf[start, end) holds only a prefix of the value. Throws ErrTooLarge when a
   * declared length or the nesting exceeds the limits (checked as soon as the header is seen),
   * ErrDecode for the unused byte c1.
   */
  /**
   * After scanValue answered NEED_MORE: the buffer must reach at least this offset before the value
   * can be complete (the end of a declared string/bytes, or one byte more). A reader that waits for
   * it instead of rescanning on every chunk avoids rescanning a large frame once per packet.
   */
  needAtLeast = 0;

  private needMore(offset: number): number {
    this.needAtLeast = offset;
    // The whole value is scanned again once more bytes arrived: count its bodies then.
    this.scannedRaw = 0;
    return NEED_MORE;
  }

  scanValue(buf: Uint8Array, start: number, end: number = buf.length): number {
    const lim = this.limits;
    const stack = this.stack;
    const valueLimit = start + lim.maxValueBytes;
    let depth = 0;
    let pending = 1;
    let p = start;
    let raw = 0;
    for (;;) {
      if (pending === 0) {
        if (depth === 0) {
          this.scannedRaw += raw;
          return p;
        }
        pending = stack[--depth];
        continue;
      }
      pending--;
      if (p >= end) return this.needMore(end + 1);
      const b = buf[p];
      if (b < 0x80 || b >= 0xe0) {
        p += 1;
        continue;
      }
      if (b <= 0x9f) {
        const isMap = b < 0x90;
        const n = b & 0x0f;
        p += 1;
        if (isMap ? n > lim.maxMapKeys : n > lim.maxArray) throw tooLarge(isMap ? 'map' : 'array', n);
        if (depth >= lim.maxDepth) throw new ErrTooLarge(`nesting deeper than ${lim.maxDepth}`);
        if (n > 0) {
          stack[depth++] = pending;
          pending = isMap ? n * 2 : n;
        }
        continue;
      }
      if (b <= 0xbf) {
        raw += b & 0x1f;
        p = rawEnd(p, 1, b & 0x1f, lim.maxBytes, valueLimit);
        if (p > end) return this.needMore(p);
        continue;
      }
      let header: number;
      let len: number;
      switch (b) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          p += 1;
          continue;
        case 0xcc:
        case 0xd0:
          header = 2;
          len = 0;
          break;
        case 0xcd:
        case 0xd1:
        case 0xd4:
          header = 3;
          len = 0;
          break;
        case 0xd5:
          header = 4;
          len = 0;
          break;
        case 0xca:
        case 0xce:
        case 0xd2:
          header = 5;
          len = 0;
          break;
        case 0xd6:
          header = 6;
          len = 0;
          break;
        case 0xcb:
        case 0xcf:
        case 0xd3:
          header = 9;
          len = 0;
          break;
        case 0xd7:
          header = 10;
          len = 0;
          break;
        case 0xd8:
          header = 18;
          len = 0;
          break;
        case 0xc4: // bin 8, 16, 32
        case 0xc5:
        case 0xc6:
        case 0xc7: // ext 8, 16, 32: a type byte follows the length
        case 0xc8:
        case 0xc9:
        case 0xd9: // str 8, 16, 32
        case 0xda:
        case 0xdb: {
          // Each family lists its 1-, 2- and 4-byte length forms in that order.
          const width = 1 << ((b >= 0xd9 ? b - 0xd9 : b - 0xc4) % 3);
          if (p + 1 + width > end) return this.needMore(p + 1 + width);
          const ext = b >= 0xc7 && b <= 0xc9;
          header = 1 + width + (ext ? 1 : 0);
          len = width === 1 ? buf[p + 1] : width === 2 ? (buf[p + 1] << 8) | buf[p + 2] : readU32(buf, p + 1);
          if (!ext) raw += len;
          break;
        }
        case 0xdc:
        case 0xdd:
        case 0xde:
        case 0xdf: {
          const wide = b === 0xdd || b === 0xdf;
          const isMap = b >= 0xde;
          if (p + (wide ? 5 : 3) > end) return this.needMore(p + (wide ? 5 : 3));
          const n = wide ? readU32(buf, p + 1) : (buf[p + 1] << 8) | buf[p + 2];
          p += wide ? 5 : 3;
          if (isMap ? n > lim.maxMapKeys : n > lim.maxArray) throw tooLarge(isMap ? 'map' : 'array', n);
          if (depth >= lim.maxDepth) throw new ErrTooLarge(`nesting deeper than ${lim.maxDepth}`);
          if (n > 0) {
            stack[depth++] = pending;
            pending = isMap ? n * 2 : n;
          }
          continue;
        }
        default:
          throw decodeError(`invalid msgpack byte 0x${b.toString(16)}`);
      }
      p = rawEnd(p, header, len, lim.maxBytes, valueLimit);
      if (p > end) return this.needMore(p);
    }
  }

  /** Skips one value (already known to be complete). */
  skip(): void {
    const scanned = this.scannedRaw;
    this.pos = this.scanValue(this.buf, this.pos, this.end);
    // Inside a value being read: its bodies are counted already.
    this.scannedRaw = scanned;
    if (this.pos === NEED_MORE) throw decodeError('truncated value');
  }

  /** The type byte of the next value, without consuming it. */
  peek(): number {
    return this.buf[this.pos];
  }

  /** Go's uint64/uint8 fields. nil reads as 0 (the zero value). */
  readUint(): number {
    const v = this.readInt();
    if (v < 0) throw decodeError('negative value for an unsigned field');
    return v;
  }

  /** Go's int/int64 fields, any integer form. nil reads as 0. */
  readInt(): number {
    const buf = this.buf;
    const p = this.pos;
    const b = buf[p];
    if (b < 0x80) {
      this.pos = p + 1;
      return b;
    }
    if (b >= 0xe0) {
      this.pos = p + 1;
      return b - 0x100;
    }
    const dv = this.dv;
    switch (b) {
      case 0xc0:
        this.pos = p + 1;
        return 0;
      case 0xcc:
        this.pos = p + 2;
        return buf[p + 1];
      case 0xcd:
        this.pos = p + 3;
        return dv.getUint16(p + 1);
      case 0xce:
        this.pos = p + 5;
        return dv.getUint32(p + 1);
      case 0xcf: {
        const hi = dv.getUint32(p + 1);
        if (hi > MAX_SAFE_HI) throw decodeError('integer above 2^53-1');
        this.pos = p + 9;
        return hi * TWO_32 + dv.getUint32(p + 5);
      }
      case 0xd0:
        this.pos = p + 2;
        return dv.getInt8(p + 1);
      case 0xd1:
        this.pos = p + 3;
        return dv.getInt16(p + 1);
      case 0xd2:
        this.pos = p + 5;
        return dv.getInt32(p + 1);
      case 0xd3: {
        const hi = dv.getInt32(p + 1);
        const v = hi * TWO_32 + dv.getUint32(p + 5);
        if (hi > MAX_SAFE_HI || hi < -MAX_SAFE_HI - 1 || !Number.isSafeInteger(v)) {
          throw decodeError('integer outside the safe range');
        }
        this.pos = p + 9;
        return v;
      }
      default:
        throw decodeError(`expected an integer, got 0x${b.toString(16)}`);
    }
  }

  /** Go's bool. nil reads as false. */
  readBool(): boolean {
    const b = this.buf[this.pos];
    if (b === 0xc3 || b === 0xc2 || b === 0xc0) {
      this.pos++;
      return b === 0xc3;
    }
    throw decodeError(`expected a bool, got 0x${b.toString(16)}`);
  }

  /** True (and consumed) if the next value is nil. */
  tryNil(): boolean {
    if (this.buf[this.pos] === 0xc0) {
      this.pos++;
      return true;
    }
    return false;
  }

  /** The input buffer, for readers that parse a raw body in place (see readRawLength). */
  get input(): Uint8Array {
    return this.buf;
  }

  /**
   * Length of the str/bin body at the cursor, advancing past its header to the body; -1 for nil;
   * throws for other types. Accepts raw str, str8 and bin (Go emits none of the latter two).
   * A caller that parses the body in place from `input` must then advance `pos` past it.
   */
  readRawLength(): number {
    const buf = this.buf;
    const p = this.pos;
    const b = buf[p];
    if (b >= 0xa0 && b <= 0xbf) {
      this.pos = p + 1;
      return b & 0x1f;
    }
    switch (b) {
      case 0xc0:
        this.pos = p + 1;
        return -1;
      case 0xd9:
      case 0xc4:
        this.pos = p + 2;
        return buf[p + 1];
      case 0xda:
      case 0xc5:
        this.pos = p + 3;
        return (buf[p + 1] << 8) | buf[p + 2];
      case 0xdb:
      case 0xc6:
        this.pos = p + 5;
        return readU32(buf, p + 1);
      default:
        throw decodeError(`expected bytes or a string, got 0x${b.toString(16)}`);
    }
  }

  /** Go's []byte: null for nil. See the class comment on aliasing. */
  readNullableBytes(): Uint8Array | null {
    const len = this.readRawLength();
    if (len < 0) return null;
    return this.takeBytes(len);
  }

  /** Go's []byte where nil and empty mean the same: both give an empty array. */
  readBytes(): Uint8Array {
    const len = this.readRawLength();
    if (len <= 0) return EMPTY_BYTES;
    return this.takeBytes(len);
  }

  private takeBytes(len: number): Uint8Array {
    const start = this.pos;
    const stop = start + len;
    if (stop > this.end) throw decodeError('truncated bytes');
    this.pos = stop;
    const buf = this.buf;
    // The constructor is markedly cheaper than subarray(), which goes through species lookup.
    const view = new Uint8Array(buf.buffer, buf.byteOffset + start, len);
    if (!this.copyBytes) return view;
    // A value read without a scan before it (so with no arena) still gets its own copy.
    if (len > this.arenaLeft) return view.slice();
    this.arena ??= new Uint8Array(this.arenaLeft);
    const at = this.arenaPos;
    this.arena.set(view, at);
    this.arenaPos = at + len;
    this.arenaLeft -= len;
    return new Uint8Array(this.arena.buffer, at, len);
  }

  /** Go's string. nil reads as ''. */
  readString(): string {
    const len = this.readRawLength();
    if (len <= 0) return '';
    const start = this.pos;
    if (start + len > this.end) throw decodeError('truncated string');
    this.pos = start + len;
    return utf8Text(this.buf.subarray(start, start + len));
  }

  /** Number of entries of the map at the cursor, or -1 for nil. */
  readMapHeader(): number {
    return this.readContainerHeader(0x80, 0xde, 0xdf, 'a map');
  }

  /** Number of elements of the array at the cursor, or -1 for nil. */
  readArrayHeader(): number {
    return this.readContainerHeader(0x90, 0xdc, 0xdd, 'an array');
  }

  private readContainerHeader(fix: number, c16: number, c32: number, what: string): number {
    const buf = this.buf;
    const p = this.pos;
    const b = buf[p];
    if ((b & 0xf0) === fix) {
      this.pos = p + 1;
      return b & 0x0f;
    }
    if (b === 0xc0) {
      this.pos = p + 1;
      return -1;
    }
    if (b === c16) {
      this.pos = p + 3;
      return (buf[p + 1] << 8) | buf[p + 2];
    }
    if (b === c32) {
      this.pos = p + 5;
      return readU32(buf, p + 1);
    }
    throw decodeError(`expected ${what}, got 0x${b.toString(16)}`);
  }

  /**
   * Reads a map key and returns its index in `keys` (pre-encoded raw strs), or -1 after consuming
   * an unknown key (its value is then the caller's to skip). `hint` is the index to try first:
   * Go sends keys sorted, so the next key is almost always the one after the last match.
   */
  readKey(keys: readonly Uint8Array[], hint: number): number {
    const buf = this.buf;
    const p = this.pos;
    const b = buf[p];
    if (b >= 0xa0 && b <= 0xbf) {
      // Fast path: compare the encoded key (header byte included) directly.
      const total = 1 + (b & 0x1f);
      if (hint < keys.length && sameBytes(buf, p, keys[hint], total)) {
        this.pos = p + total;
        return hint;
      }
      for (let i = 0; i < keys.length; i++) {
        if (sameBytes(buf, p, keys[i], total)) {
          this.pos = p + total;
          return i;
        }
      }
      this.pos = p + total;
      return -1;
    }
    if (b === 0xd9 || b === 0xc4 || b === 0xda || b === 0xc5 || b === 0xdb || b === 0xc6) {
      const len = this.readRawLength();
      const start = this.pos;
      this.pos = start + len;
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i];
        if (k.length - 1 === len && sameBytes(buf, start, k.subarray(1), len)) return i;
      }
      return -1;
    }
    this.skip();
    return -1;
  }

  /**
   * Reads an ext value at the cursor and returns its type and body (a view of the input), or
   * null without consuming anything when the value is not an ext. Only Log.AppendedAt accepts
   * ext (the msgpack timestamp, type -1).
   */
  readExt(): { type: number; body: Uint8Array } | null {
    const buf = this.buf;
    const p = this.pos;
    const b = buf[p];
    let header: number;
    let len: number;
    if (b >= 0xd4 && b <= 0xd8) {
      header = 2;
      len = 1 << (b - 0xd4);
    } else if (b === 0xc7) {
      header = 3;
      len = buf[p + 1];
    } else if (b === 0xc8) {
      header = 4;
      len = (buf[p + 1] << 8) | buf[p + 2];
    } else if (b === 0xc9) {
      header = 6;
      len = readU32(buf, p + 1);
    } else {
      return null;
    }
    const type = this.dv.getInt8(p + header - 1);
    this.pos = p + header + len;
    return { type, body: buf.subarray(p + header, p + header + len) };
  }
}

function readU32(buf: Uint8Array, p: number): number {
  return ((buf[p] << 24) >>> 0) + ((buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3]);
}

function sameBytes(buf: Uint8Array, p: number, key: Uint8Array, len: number): boolean {
  if (key.length !== len) return false;
  for (let i = 0; i < len; i++) if (buf[p + i] !== key[i]) return false;
  return true;
}

function tooLarge(what: string, n: number): Error {
  return new ErrTooLarge(`${what} of ${n} entries`);
}

function rawEnd(p: number, header: number, len: number, maxBytes: number, valueLimit: number): number {
  if (len > maxBytes) throw new ErrTooLarge(`${len}-byte string`);
  const stop = p + header + len;
  if (stop > valueLimit) throw new ErrTooLarge('value larger than maxValueBytes');
  return stop;
}

/** Result of decoding one value from a buffer that may hold only part of it. */
export interface Decoded<T> {
  value: T;
  bytesUsed: number;
}

/**
 * Decodes one value at buf[offset..] with `read` (a module-level reader function), or returns
 * null when more bytes are needed. Throws only ErrDecode or ErrTooLarge.
 */
export function decodeOne<T>(
  d: Decoder,
  buf: Uint8Array,
  offset: number,
  read: (d: Decoder) => T,
): Decoded<T> | null {
  const stop = d.scanValue(buf, offset, buf.length);
  if (stop === NEED_MORE) return null;
  d.reset(buf, offset, stop);
  const value = read(d);
  if (d.pos !== stop) throw decodeError('value not fully consumed');
  return { value, bytesUsed: stop - offset };
}

/** Decodes a buffer expected to start with one complete value (trailing bytes are ignored, as Go does). */
export function decodeComplete<T>(d: Decoder, buf: Uint8Array, read: (d: Decoder) => T): T {
  const r = decodeOne(d, buf, 0, read);
  if (r === null) throw decodeError('truncated value');
  return r.value;
}
