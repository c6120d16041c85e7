/**
 * msgpack encoder for hashicorp/raft's Go codecs: byte slices and strings both go into the old
 * "raw" str family (a0-bf, da, db); integers into the smallest unsigned form when non-negative
 * (go-msgpack 0.5.5 style, also for signed Go ints); no floats, ext, str8 or bin. General-purpose
 * libraries emit bin/str8, which 0.5.5 peers reject for strings, hence this hand-written one.
 */

const TWO_32 = 4294967296;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8');

export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

/**
 * A growable output buffer, meant to be reused: `reset()` before each message, then either
 * `view()` (no copy; valid only until the next write or reset) or `finish()` (a copy you own).
 */
export class Encoder {
  private buf: Uint8Array;
  private dv: DataView;
  private pos = 0;

  constructor(initialSize = 4096) {
    this.buf = new Uint8Array(initialSize);
    this.dv = new DataView(this.buf.buffer);
  }

  reset(): void {
    this.pos = 0;
  }

  get length(): number {
    return this.pos;
  }

  /** The bytes written since reset, aliasing the internal buffer. */
  view(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** A copy of the bytes written since reset, safe to keep or hand to a socket. */
  finish(): Uint8Array<ArrayBuffer> {
    return this.buf.slice(0, this.pos);
  }

  private ensure(extra: number): void {
    const needed = this.pos + extra;
    if (needed <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < needed) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }

  writeByte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Bytes already in msgpack form (pre-encoded map keys). */
  writeVerbatim(bytes: Uint8Array): void {
    this.copyIn(bytes);
  }

  /** Small arrays copy faster by hand than through TypedArray.set. */
  private copyIn(bytes: Uint8Array): void {
    const n = bytes.length;
    this.ensure(n);
    if (n <= 32) {
      const buf = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) buf[p++] = bytes[i];
    } else {
      this.buf.set(bytes, this.pos);
    }
    this.pos += n;
  }

  writeNil(): void {
    this.writeByte(0xc0);
  }

  writeBool(v: boolean): void {
    this.writeByte(v ? 0xc3 : 0xc2);
  }

  /** A non-negative safe integer in the smallest unsigned form. */
  writeUint(n: number): void {
    this.ensure(9);
    const buf = this.buf;
    let p = this.pos;
    if (n < 0x80) {
      buf[p++] = n;
    } else if (n < 0x100) {
      buf[p++] = 0xcc;
      buf[p++] = n;
    } else if (n < 0x10000) {
      buf[p++] = 0xcd;
      this.dv.setUint16(p, n);
      p += 2;
    } else if (n < TWO_32) {
      buf[p++] = 0xce;
      this.dv.setUint32(p, n);
      p += 4;
    } else {
      buf[p++] = 0xcf;
      this.dv.setUint32(p, Math.floor(n / TWO_32));
      this.dv.setUint32(p + 4, n >>> 0);
      p += 8;
    }
    this.pos = p;
  }

  /** A signed Go int: go-msgpack 0.5.5 writes non-negative values in the unsigned forms. */
  writeInt(n: number): void {
    if (n >= 0) {
      this.writeUint(n);
      return;
    }
    this.ensure(9);
    const buf = this.buf;
    let p = this.pos;
    if (n >= -32) {
      buf[p++] = n & 0xff;
    } else if (n >= -0x80) {
      buf[p++] = 0xd0;
      this.dv.setInt8(p, n);
      p += 1;
    } else if (n >= -0x8000) {
      buf[p++] = 0xd1;
      this.dv.setInt16(p, n);
      p += 2;
    } else if (n >= -0x80000000) {
      buf[p++] = 0xd2;
      this.dv.setInt32(p, n);
      p += 4;
    } else {
      buf[p++] = 0xd3;
      this.dv.setInt32(p, Math.floor(n / TWO_32));
      this.dv.setUint32(p + 4, n >>> 0);
      p += 8;
    }
    this.pos = p;
  }

  private writeRawHeader(len: number): void {
    this.ensure(5 + len);
    const buf = this.buf;
    if (len < 32) {
      buf[this.pos++] = 0xa0 | len;
    } else if (len < 0x10000) {
      buf[this.pos] = 0xda;
      this.dv.setUint16(this.pos + 1, len);
      this.pos += 3;
    } else {
      buf[this.pos] = 0xdb;
      this.dv.setUint32(this.pos + 1, len);
      this.pos += 5;
    }
  }

  /** A Go []byte that is never nil here (empty encodes as a0). */
  writeBytes(bytes: Uint8Array): void {
    this.writeRawHeader(bytes.length);
    this.copyIn(bytes);
  }

  /** A Go []byte: null is Go's nil slice (c0). */
  writeNullableBytes(bytes: Uint8Array | null): void {
    if (bytes === null) this.writeNil();
    else this.writeBytes(bytes);
  }

  /** A Go string, UTF-8, in the raw str family. */
  writeString(s: string): void {
    // Up to 10 UTF-16 units always fit in 31 UTF-8 bytes: write in place behind a fixstr header.
    if (s.length <= 10) {
      this.ensure(31 + 1);
      const { written } = textEncoder.encodeInto(s, this.buf.subarray(this.pos + 1, this.pos + 32));
      this.buf[this.pos] = 0xa0 | written;
      this.pos += 1 + written;
      return;
    }
    this.writeBytes(textEncoder.encode(s));
  }

  writeArrayHeader(n: number): void {
    this.writeContainerHeader(n, 0x90, 0xdc, 0xdd);
  }

  writeMapHeader(n: number): void {
    this.writeContainerHeader(n, 0x80, 0xde, 0xdf);
  }

  private writeContainerHeader(n: number, fix: number, c16: number, c32: number): void {
    this.ensure(5);
    if (n < 16) {
      this.buf[this.pos++] = fix | n;
    } else if (n < 0x10000) {
      this.buf[this.pos] = c16;
      this.dv.setUint16(this.pos + 1, n);
      this.pos += 3;
    } else {
      this.buf[this.pos] = c32;
      this.dv.setUint32(this.pos + 1, n);
      this.pos += 5;
    }
  }
}

/** A map key (or any Go string constant) pre-encoded as a raw str. */
export function encodedKey(name: string): Uint8Array {
  const e = new Encoder(64);
  e.writeString(name);
  return e.finish();
}

/** UTF-8 bytes of a Go string field. */
export function utf8Bytes(s: string): Uint8Array {
  return textEncoder.encode(s);
}

/** Text of a Go string field; invalid UTF-8 becomes U+FFFD rather than failing. */
export function utf8Text(bytes: Uint8Array): string {
  if (bytes.length === 0) return '';
  if (bytes.length <= 32) {
    // Short ASCII (IDs, addresses, key names) is faster by hand than through TextDecoder.
    let s = '';
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i];
      if (c >= 0x80) return textDecoder.decode(bytes);
      s += String.fromCharCode(c);
    }
    return s;
  }
  return textDecoder.decode(bytes);
}
