import { describe, expect, it } from 'vitest';
import { ErrDecode } from '../../src/core/errors.js';
import { Decoder, decodeComplete } from '../../src/wire/decoder.js';
import { Encoder } from '../../src/wire/encoder.js';
import { readGoTime, writeGoTime } from '../../src/wire/time.js';
import { toHex } from './goldens.js';

const read = (hex: string): number =>
  decodeComplete(new Decoder(), new Uint8Array(Buffer.from(hex.replace(/\s+/g, ''), 'hex')), readGoTime);
const write = (ms: number): string => {
  const e = new Encoder(4);
  writeGoTime(e, ms);
  return toHex(e.view());
};
const jan2 = Date.UTC(2024, 0, 2, 3, 4, 5); // 2024-01-02T03:04:05Z

describe('Log.AppendedAt', () => {
  it('writes the zero time as af 01, 12 zero bytes, ffff', () => {
    expect(write(0)).toBe('af01' + '00'.repeat(12) + 'ffff');
  });

  it('writes Go seconds since year 1, nanoseconds and the UTC marker', () => {
    // 1704164645 + 62135596800 = 63839761445 = 0x0edd257425
    expect(write(jan2 + 6)).toBe('af01' + '0000000edd257425' + '005b8d80' + 'ffff');
  });

  it('round-trips whole milliseconds, before and after 1970', () => {
    for (const ms of [1, -1, -1500, jan2 + 999, 253402300799999, -62135596799999])
      expect(read(write(ms))).toBe(ms);
  });

  it('reads the version 2 (16-byte) form and ignores zone offsets', () => {
    expect(read('b0 02 0000000edd257425 00000000 014a 07')).toBe(jan2);
    expect(read('af 01 0000000edd257425 00000000 014a')).toBe(jan2);
  });

  it('reads the msgpack timestamp bodies as raw strings and as ext -1', () => {
    expect(read('a8 0000001865937d25')).toBe(jan2); // the reference example, 6 ns
    expect(read('a4 65937d25')).toBe(jan2);
    expect(read('ac 00000006 0000000065937d25')).toBe(jan2);
    expect(read('ac 00000000 ffffffffffffffff')).toBe(-1000);
    expect(read('d6ff 65937d25')).toBe(jan2);
    expect(read('d7ff 0000001865937d25')).toBe(jan2);
    expect(read('c70cff 00000006 0000000065937d25')).toBe(jan2);
  });

  it('reads nil and empty as the zero time', () => {
    expect(read('c0')).toBe(0);
    expect(read('a0')).toBe(0);
    expect(read('af01' + '00'.repeat(12) + 'ffff')).toBe(0);
  });

  it('refuses other lengths, versions, ext types and out-of-range times', () => {
    for (const hex of [
      'a3 010203',
      'af 03 0000000edd257425 00000000 014a',
      'b0 01 0000000edd257425 00000000 014a 07',
      'd6 05 65937d25',
      'ac 00000000 7fffffffffffffff',
      '01',
    ]) {
      expect(() => read(hex), hex).toThrow(ErrDecode);
    }
  });
});
