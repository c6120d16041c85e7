import { describe, expect, it } from 'vitest';
import { Crc64, checkCrc64, crc64, sealCrc64 } from '../../src/storage/crc64.js';

/** Bit-at-a-time CRC-64/XZ with BigInt: slow but obviously right, to check the sliced tables against. */
function referenceCrc64(data: Uint8Array): string {
  const poly = 0xc96c5795d7870f42n;
  const mask = 0xffffffffffffffffn;
  let crc = mask;
  for (const byte of data) {
    crc ^= BigInt(byte);
    for (let bit = 0; bit < 8; bit++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  return ((crc ^ mask) & mask).toString(16).padStart(16, '0');
}

function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let state = seed >>> 0;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state >>> 24;
  }
  return out;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('crc64 (CRC-64/XZ, Go crc64.ECMA)', () => {
  it('gives the catalogued check value for "123456789"', () => {
    expect(hex(crc64(Buffer.from('123456789')))).toBe('995dc9bbdf1939fa');
  });

  it('is zero for empty input (init and final XOR cancel)', () => {
    expect(hex(crc64(new Uint8Array(0)))).toBe('0000000000000000');
  });

  it('matches a bitwise reference for every length 0..40 and for a long buffer', () => {
    for (let length = 0; length <= 40; length++) {
      const data = pseudoRandomBytes(length, length + 1);
      expect(hex(crc64(data))).toBe(referenceCrc64(data));
    }
    const long = pseudoRandomBytes(10_007, 99);
    expect(hex(crc64(long))).toBe(referenceCrc64(long));
  });

  it('gives the same digest whatever the chunking, including unaligned subarrays', () => {
    const data = pseudoRandomBytes(5_000, 7);
    const whole = hex(crc64(data));
    for (const step of [1, 3, 7, 8, 9, 64, 1_023]) {
      const incremental = new Crc64();
      for (let offset = 0; offset < data.length; offset += step) {
        incremental.update(data.subarray(offset, offset + step));
      }
      expect(incremental.hex()).toBe(whole);
    }
  });

  it('detects a single flipped bit', () => {
    const data = pseudoRandomBytes(4_096, 3);
    const before = hex(crc64(data));
    data[2_000] ^= 0x10;
    expect(hex(crc64(data))).not.toBe(before);
  });

  it('digest() does not end the computation', () => {
    const crc = new Crc64().update(Buffer.from('1234'));
    crc.digest();
    crc.update(Buffer.from('56789'));
    expect(crc.hex()).toBe('995dc9bbdf1939fa');
  });

  it('seals and checks a range in place (sealCrc64, checkCrc64), as the WAL does per record', () => {
    const record = new Uint8Array(7 + 1_003 + 8 + 5);
    record.set(pseudoRandomBytes(1_003, 11), 7);
    sealCrc64(record, 7, 1_010, 1_010);
    expect(hex(record.subarray(1_010, 1_018))).toBe(referenceCrc64(record.subarray(7, 1_010)));
    expect(checkCrc64(record, 7, 1_010, 1_010)).toBe(true);
    for (const at of [7, 500, 1_009, 1_010, 1_017]) {
      record[at] ^= 0x01;
      expect(checkCrc64(record, 7, 1_010, 1_010), `byte ${at} flipped`).toBe(false);
      record[at] ^= 0x01;
    }
  });
});
