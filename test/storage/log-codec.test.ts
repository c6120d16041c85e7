import { describe, expect, it } from 'vitest';
import { ErrStoreCorrupt } from '../../src/core/errors.js';
import { LogType, type LogEntry } from '../../src/core/types.js';
import {
  LOG_CODEC_VERSION,
  decodeLogEntry,
  decodeUint64,
  encodeLogEntry,
  encodeUint64,
} from '../../src/storage/log-codec.js';

function entry(overrides: Partial<LogEntry> = {}): LogEntry {
  return {
    index: 42,
    term: 7,
    type: LogType.Command,
    data: new Uint8Array([1, 2, 3]),
    extensions: new Uint8Array([9]),
    appendedAt: 1_700_000_000_123.5,
    ...overrides,
  };
}

/** Plain arrays, so that Buffer and Uint8Array views of the same bytes compare equal. */
function plain(e: LogEntry) {
  return { ...e, data: [...e.data], extensions: [...e.extensions] };
}

describe('log entry codec', () => {
  it('round-trips every field, including large numbers and empty payloads', () => {
    const cases = [
      entry(),
      entry({ index: 1, term: 0, data: new Uint8Array(), extensions: new Uint8Array(), appendedAt: 0 }),
      entry({ index: Number.MAX_SAFE_INTEGER, term: Number.MAX_SAFE_INTEGER, type: LogType.Configuration }),
      entry({ index: 2 ** 32 + 5, term: 2 ** 32 - 1, type: LogType.Barrier, appendedAt: -1 }),
      entry({ data: new Uint8Array(5_000).fill(0xab), extensions: new Uint8Array(300).fill(1) }),
    ];
    for (const original of cases) {
      const bytes = encodeLogEntry(original);
      expect(bytes[0]).toBe(LOG_CODEC_VERSION);
      expect(bytes.length).toBe(34 + original.data.length + original.extensions.length);
      const decoded = decodeLogEntry(bytes, original.index);
      expect(plain(decoded)).toEqual(plain(original));
      expect(decoded.data).toBeInstanceOf(Uint8Array);
      expect(Buffer.isBuffer(decoded.data)).toBe(false);
    }
  });

  it('writes the documented layout', () => {
    const bytes = encodeLogEntry(entry({ index: 0x0102030405, term: 3, data: new Uint8Array([0xee]) }));
    expect(bytes.subarray(0, 2)).toEqual(Buffer.from([1, LogType.Command]));
    expect(bytes.subarray(2, 10)).toEqual(Buffer.from([0, 0, 0, 1, 2, 3, 4, 5]));
    expect(bytes.subarray(10, 18)).toEqual(Buffer.from([0, 0, 0, 0, 0, 0, 0, 3]));
    expect(bytes.readDoubleBE(18)).toBe(1_700_000_000_123.5);
    expect(bytes.readUInt32BE(26)).toBe(1);
    expect(bytes[30]).toBe(0xee);
    expect(bytes.readUInt32BE(31)).toBe(1);
    expect(bytes[35]).toBe(9);
  });

  it('refuses to encode entries it could not read back', () => {
    expect(() => encodeLogEntry(entry({ index: -1 }))).toThrow(RangeError);
    expect(() => encodeLogEntry(entry({ index: 1.5 }))).toThrow(RangeError);
    expect(() => encodeLogEntry(entry({ term: 2 ** 53 }))).toThrow(RangeError);
    expect(() => encodeLogEntry(entry({ type: 99 as LogType }))).toThrow(RangeError);
    expect(() => encodeLogEntry(entry({ appendedAt: Number.NaN }))).toThrow(RangeError);
  });

  it('answers every truncation of a valid value with ErrStoreCorrupt', () => {
    const bytes = encodeLogEntry(entry());
    for (let length = 0; length < bytes.length; length++) {
      expect(() => decodeLogEntry(bytes.subarray(0, length), 42)).toThrow(ErrStoreCorrupt);
    }
  });

  it('answers damaged headers with ErrStoreCorrupt naming the problem', () => {
    const damaged = (mutate: (b: Buffer) => void, expectedIndex = 42) => {
      const bytes = Buffer.from(encodeLogEntry(entry()));
      mutate(bytes);
      return () => decodeLogEntry(bytes, expectedIndex);
    };
    expect(damaged((b) => (b[0] = 2))).toThrow(/unknown format version 2/);
    expect(damaged((b) => (b[1] = 6))).toThrow(/unknown type 6/);
    expect(damaged(() => undefined, 43)).toThrow(/holds index 42/);
    expect(damaged((b) => b.writeUInt32BE(0xffffffff, 2))).toThrow(/holds index > 2\^53-1/);
    expect(damaged((b) => b.writeUInt32BE(0x200000, 10))).toThrow(/term exceeds/);
    expect(damaged((b) => b.writeDoubleBE(Number.POSITIVE_INFINITY, 18))).toThrow(/appendedAt/);
    expect(damaged((b) => b.writeUInt32BE(0xffffffff, 26))).toThrow(/data length/);
    expect(damaged((b) => b.writeUInt32BE(2, 33))).toThrow(/extensions length/);
    expect(damaged((b) => b.writeUInt32BE(0, 33))).toThrow(ErrStoreCorrupt);
  });

  it('never throws anything but ErrStoreCorrupt on random bytes', () => {
    let seed = 12345;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    for (let round = 0; round < 2000; round++) {
      const bytes = Buffer.alloc(next() % 80);
      for (let i = 0; i < bytes.length; i++) bytes[i] = next() >>> 24;
      if (bytes.length > 0 && round % 2 === 0) bytes[0] = LOG_CODEC_VERSION;
      try {
        decodeLogEntry(bytes, 1);
      } catch (error) {
        expect(error).toBeInstanceOf(ErrStoreCorrupt);
      }
    }
  });

  it('encodes uint64 as 8 bytes big-endian and rejects other lengths on decode', () => {
    expect(encodeUint64(0x0102)).toEqual(Buffer.from([0, 0, 0, 0, 0, 0, 1, 2]));
    expect(decodeUint64(encodeUint64(Number.MAX_SAFE_INTEGER), 'v')).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => decodeUint64(new Uint8Array(7), 'v')).toThrow(ErrStoreCorrupt);
    expect(() => decodeUint64(Buffer.alloc(8, 0xff), 'v')).toThrow(ErrStoreCorrupt);
    expect(() => encodeUint64(-1)).toThrow(RangeError);
  });
});
