import { describe, expect, it } from 'vitest';
import { ErrDecode, ErrTooLarge } from '../../src/core/errors.js';
import { Decoder, NEED_MORE, decodeComplete, decodeOne } from '../../src/wire/decoder.js';
import { Encoder, encodedKey } from '../../src/wire/encoder.js';
import { readLog } from '../../src/wire/log.js';
import { readAppendEntriesResponse, readRequestVoteRequest } from '../../src/wire/messages-read.js';
import { toHex } from './goldens.js';

function hexOf(write: (e: Encoder) => void): string {
  const e = new Encoder(1);
  write(e);
  return toHex(e.view());
}

const bytes = (...parts: (number[] | Uint8Array | string)[]): Uint8Array => {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === 'string') out.push(...Buffer.from(p.replace(/\s+/g, ''), 'hex'));
    else out.push(...p);
  }
  return Uint8Array.from(out);
};
const key = (s: string) => encodedKey(s);

describe('Encoder', () => {
  it('writes unsigned ints in the smallest form', () => {
    const table: [number, string][] = [
      [0, '00'],
      [127, '7f'],
      [128, 'cc80'],
      [255, 'ccff'],
      [256, 'cd0100'],
      [65535, 'cdffff'],
      [65536, 'ce00010000'],
      [2 ** 32 - 1, 'ceffffffff'],
      [2 ** 32, 'cf0000000100000000'],
      [2 ** 53 - 1, 'cf001fffffffffffff'],
    ];
    for (const [n, hex] of table)
      expect(
        hexOf((e) => e.writeUint(n)),
        String(n),
      ).toBe(hex);
  });

  it('writes non-negative signed ints unsigned (go-msgpack 0.5.5) and negatives signed', () => {
    const table: [number, string][] = [
      [300, 'cd012c'],
      [-1, 'ff'],
      [-32, 'e0'],
      [-33, 'd0df'],
      [-128, 'd080'],
      [-129, 'd1ff7f'],
      [-32768, 'd18000'],
      [-32769, 'd2ffff7fff'],
      [-(2 ** 31), 'd280000000'],
      [-(2 ** 31) - 1, 'd3ffffffff7fffffff'],
      [-(2 ** 53 - 1), 'd3ffe0000000000001'],
    ];
    for (const [n, hex] of table)
      expect(
        hexOf((e) => e.writeInt(n)),
        String(n),
      ).toBe(hex);
  });

  it('writes bytes and strings only in the raw str family (never str8 or bin)', () => {
    const table: [number, string][] = [
      [0, 'a0'],
      [31, 'bf'],
      [32, 'da0020'],
      [255, 'da00ff'],
      [256, 'da0100'],
      [65535, 'daffff'],
      [65536, 'db00010000'],
    ];
    for (const [n, header] of table) {
      const payload = new Uint8Array(n).fill(0x41);
      expect(hexOf((e) => e.writeBytes(payload)).slice(0, header.length)).toBe(header);
      expect(hexOf((e) => e.writeString('A'.repeat(n))).slice(0, header.length)).toBe(header);
    }
    // Multi-byte text: the header counts UTF-8 bytes.
    expect(hexOf((e) => e.writeString('€'.repeat(10)))).toBe('be' + 'e282ac'.repeat(10));
    expect(hexOf((e) => e.writeString('é'.repeat(16)))).toBe('da0020' + 'c3a9'.repeat(16));
    expect(hexOf((e) => e.writeNullableBytes(null))).toBe('c0');
  });

  it('writes containers, bools and nil', () => {
    expect(hexOf((e) => e.writeMapHeader(15))).toBe('8f');
    expect(hexOf((e) => e.writeMapHeader(16))).toBe('de0010');
    expect(hexOf((e) => e.writeMapHeader(65536))).toBe('df00010000');
    expect(hexOf((e) => e.writeArrayHeader(15))).toBe('9f');
    expect(hexOf((e) => e.writeArrayHeader(65535))).toBe('dcffff');
    expect(hexOf((e) => e.writeArrayHeader(65536))).toBe('dd00010000');
    expect(hexOf((e) => (e.writeBool(true), e.writeBool(false), e.writeNil()))).toBe('c3c2c0');
  });

  it('reuses its buffer: finish() copies, view() aliases', () => {
    const e = new Encoder(2);
    e.writeString('hello world, longer than two bytes');
    const copy = e.finish();
    const view = e.view();
    e.reset();
    e.writeUint(0x7f);
    expect(copy[0]).toBe(0xda);
    expect(view[0]).toBe(0x7f);
  });
});

describe('Decoder tolerance', () => {
  const d = new Decoder();
  it('accepts str8 and bin for bytes and strings, and str8/bin map keys', () => {
    const m = decodeComplete(
      d,
      bytes(
        '83',
        [0xd9, 4],
        Buffer.from('Addr'),
        [0xc4, 2],
        Buffer.from('a1'),
        [0xc5, 0, 2],
        Buffer.from('ID'),
        [0xd9, 2],
        Buffer.from('n1'),
        key('Term'),
        '05',
      ),
      readRequestVoteRequest,
    );
    expect(m.Addr && Buffer.from(m.Addr).toString()).toBe('a1');
    expect(m.ID && Buffer.from(m.ID).toString()).toBe('n1');
    expect(m.Term).toBe(5);
    const s = decodeComplete(d, bytes([0xc6, 0, 0, 0, 2], Buffer.from('ok')), (x) => x.readString());
    expect(s).toBe('ok');
  });

  it('accepts signed forms for unsigned fields, nil as the zero value, and missing keys as zero', () => {
    const m = decodeComplete(
      d,
      bytes(
        '85',
        key('LastLog'),
        'd3 00000000 00000200',
        key('Term'),
        'd1 0100',
        key('Success'),
        'c0',
        key('ID'),
        'c0',
        key('ProtocolVersion'),
        'd0 03',
      ),
      readAppendEntriesResponse,
    );
    expect(m).toEqual({
      Addr: null,
      ID: null,
      LastLog: 512,
      NoRetryBackoff: false,
      ProtocolVersion: 3,
      Success: false,
      Term: 256,
    });
    expect(decodeComplete(d, Uint8Array.of(0xc0), readAppendEntriesResponse).Term).toBe(0);
  });

  it('skips unknown keys of every type, in any position', () => {
    const m = decodeComplete(
      d,
      bytes(
        '86',
        key('Aaa'),
        'd6ff00000001', // ext -1
        key('Term'),
        '07',
        key('Nested'),
        '82 a1 78 93 01 cb3ff0000000000000 81 a179 c4 02 0102 a1 7a dc0001 c0',
        key('Float'),
        'ca3f800000',
        '01',
        'c3', // an integer key
        key('Success'),
        'c3',
      ),
      readAppendEntriesResponse,
    );
    expect(m.Term).toBe(7);
    expect(m.Success).toBe(true);
  });

  it('returns views of the input unless asked to copy', () => {
    const input = bytes('81', key('Data'), 'a3 010203');
    const aliased = decodeComplete(new Decoder(), input, readLog);
    const copied = decodeComplete(new Decoder({}, true), input, readLog);
    input[input.length - 1] = 9;
    expect(Array.from(aliased.data)).toEqual([1, 2, 9]);
    expect(Array.from(copied.data)).toEqual([1, 2, 3]);
  });
});

describe('Decoder refusals', () => {
  const d = new Decoder();
  const readUint = (x: Decoder) => x.readUint();
  const readInt = (x: Decoder) => x.readInt();
  const refuses = (input: string, read: (x: Decoder) => unknown, err: typeof ErrDecode) =>
    expect(() => decodeComplete(d, bytes(input), read), input).toThrow(err);

  it('refuses integers outside the safe range', () => {
    refuses('cf 0020000000000000', readUint, ErrDecode);
    refuses('cf ffffffffffffffff', readUint, ErrDecode);
    refuses('d3 0020000000000000', readInt, ErrDecode);
    refuses('d3 ffe0000000000000', readInt, ErrDecode);
    expect(decodeComplete(d, bytes('cf 001fffffffffffff'), readUint)).toBe(2 ** 53 - 1);
  });

  it('refuses negative values for unsigned fields, floats and other types for ints', () => {
    for (const input of [
      'ff',
      'e0',
      'd0ff',
      'd1ff00',
      'd2ffffffff',
      'd3ffffffffffffffff',
      'ca3f800000',
      'cb3ff0000000000000',
      'a0',
      'c3',
      '90',
      'd6ff00000000',
    ]) {
      refuses(input, readUint, ErrDecode);
    }
    refuses('ca3f800000', readInt, ErrDecode);
    refuses('01', (x) => x.readBool(), ErrDecode);
    refuses('01', (x) => x.readBytes(), ErrDecode);
    refuses('a0', (x) => x.readMapHeader(), ErrDecode);
    refuses('c1', readUint, ErrDecode);
  });

  it('refuses declared lengths above the limits as soon as the header arrives', () => {
    const small = new Decoder({
      maxBytes: 100,
      maxArray: 10,
      maxMapKeys: 5,
      maxDepth: 3,
      maxValueBytes: 1000,
    });
    const tooLarge = (input: string) =>
      expect(() => decodeOne(small, bytes(input), 0, (x) => x.skip()), input).toThrow(ErrTooLarge);
    tooLarge('db ffffffff'); // 4 GiB string: refused, not "need more"
    tooLarge('c6 00000065');
    tooLarge('da 0065');
    tooLarge('c9 00001000 ff');
    tooLarge('dd ffffffff');
    tooLarge('9b');
    tooLarge('86');
    tooLarge('df 00000006');
    tooLarge('91 91 91 91');
    tooLarge('91 91 91 90');
    const wholeValue = new Decoder({ maxBytes: 2000, maxValueBytes: 1000 });
    expect(decodeOne(wholeValue, bytes('92 da01f4'), 0, (x) => x.skip())).toBeNull();
    expect(() =>
      decodeOne(wholeValue, bytes('92 da01f4', new Uint8Array(500), 'da01f4'), 0, (x) => x.skip()),
    ).toThrow(ErrTooLarge);
    expect(decodeOne(small, bytes('91 91 91'), 0, (x) => x.skip())).toBeNull();
    expect(decodeOne(small, bytes('91 91 90'), 0, (x) => x.skip())).toEqual({
      value: undefined,
      bytesUsed: 3,
    });
  });

  it('refuses deep nesting with default limits without recursion', () => {
    const deep = new Uint8Array(100_000).fill(0x91);
    expect(() => decodeOne(new Decoder(), deep, 0, (x) => x.skip())).toThrow(ErrTooLarge);
  });

  it('scanValue reports need-more for every proper prefix of every value form', () => {
    const forms = [
      '00',
      'ff',
      'cc80',
      'cd0100',
      'ce00010000',
      'cf0000000100000000',
      'd0df',
      'd1ff7f',
      'd2ffff7fff',
      'd3ffffffff7fffffff',
      'ca3f800000',
      'cb3ff0000000000000',
      'c0',
      'c2',
      'c3',
      'a3616263',
      'd903616263',
      'da0003616263',
      'db00000003616263',
      'c403010203',
      'c5000101',
      'c60000000101',
      'd4ff01',
      'd5ff0102',
      'd6ff01020304',
      'd7ff0102030405060708',
      'd8ff' + '00'.repeat(16),
      'c702ff0102',
      'c80002ff0102',
      'c900000002ff0102',
      '92 01 a161',
      'dc0002 01 02',
      'dd00000001 c0',
      '81 a161 01',
      'de0001 a161 01',
      'df00000001 a161 92 01 02',
    ];
    const scanner = new Decoder();
    for (const form of forms) {
      const b = bytes(form);
      expect(scanner.scanValue(b, 0, b.length), form).toBe(b.length);
      for (let cut = 0; cut < b.length; cut++)
        expect(scanner.scanValue(b, 0, cut), `${form}@${cut}`).toBe(NEED_MORE);
    }
  });
});

describe('Decoder copyBytes', () => {
  it('copies byte values out of a Node Buffer (whose slice would alias it)', async () => {
    const { Decoder, Encoder, decodeOne } = await import('../../src/wire/msgpack.js');
    const enc = new Encoder();
    enc.writeBytes(new Uint8Array([1, 2, 3]));
    const input = Buffer.from(enc.finish());
    const decoder = new Decoder({}, true);
    const result = decodeOne(decoder, input, 0, (d) => d.readBytes());
    expect(result).not.toBeNull();
    input.fill(9);
    expect([...result!.value]).toEqual([1, 2, 3]);
  });
});

describe('Decoder needAtLeast', () => {
  it('says how long a partial value must grow before a rescan can succeed', async () => {
    const { Decoder, Encoder, NEED_MORE } = await import('../../src/wire/msgpack.js');
    const enc = new Encoder();
    enc.writeArrayHeader(2);
    enc.writeBytes(new Uint8Array(100_000));
    enc.writeUint(7);
    const frame = enc.finish();
    const decoder = new Decoder();
    // Cut inside the big byte string: the scan knows exactly where that string ends.
    expect(decoder.scanValue(frame.subarray(0, 1000), 0)).toBe(NEED_MORE);
    expect(decoder.needAtLeast).toBe(frame.length - 1);
    // Cut right after it: one more byte is all it can ask for.
    expect(decoder.scanValue(frame.subarray(0, frame.length - 1), 0)).toBe(NEED_MORE);
    expect(decoder.needAtLeast).toBe(frame.length);
    expect(decoder.scanValue(frame, 0)).toBe(frame.length);
  });
});
