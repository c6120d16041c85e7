/**
 * src/kv/command-binary.ts: every command kind survives the binary round trip and decodes to what
 * its JSON form decodes to; every malformed entry is refused with ErrDecode (never a RangeError,
 * never an allocation sized by the input), and a version or op from a later server halts the state
 * machine (ErrUnknownCommand), as an unknown JSON op does.
 */
import { describe, expect, it } from 'vitest';
import { ErrDecode } from '../../src/index.js';
import { BINARY_V1 } from '../../src/kv/command-binary.js';
import { decodeCommand, encodeCommand, ErrUnknownCommand, type KvCommand } from '../../src/kv/commands.js';
import { KvFsm } from '../../src/kv/fsm.js';
import { LogDriver } from './support/log-driver.js';

const bytes = (text: string) => Buffer.from(text);

/** One of every command kind, with every variant of their fields. */
const EVERY_COMMAND: KvCommand[] = [
  { op: 'put', key: 'a', value: bytes('1') },
  { op: 'put', key: 'ключ/🔑', value: Buffer.from([0, 255, 10, 13, 0x7b]) },
  { op: 'put', key: 'empty', value: Buffer.alloc(0) },
  { op: 'delete', key: 'a' },
  { op: 'cas', key: 'a', prev: null, value: bytes('v') },
  { op: 'cas', key: 'a', prev: bytes('old'), value: bytes('new') },
  {
    op: 'txn',
    compare: [
      { key: 'a', revision: 12, cmp: '=' },
      { key: 'd', revision: Number.MAX_SAFE_INTEGER, cmp: '<' },
      { key: 'e', revision: 0, cmp: '!=' },
      { key: 'f', revision: 3, cmp: '>' },
      { key: 'b', value: bytes('x') },
      { key: 'c', exists: false },
      { key: 'g', exists: true },
    ],
    success: [
      { op: 'put', key: 'a', value: bytes('y'), lease: 81 },
      { op: 'put', key: 'h', value: bytes(''), lease: 0 },
      { op: 'delete', key: 'b' },
    ],
    failure: [{ op: 'put', key: 'log', value: bytes('failed'), lease: 0 }],
  },
  { op: 'txn', compare: [], success: [], failure: [] },
  { op: 'lease-grant', ttl: 1 },
  { op: 'lease-grant', ttl: 86_400 },
  { op: 'lease-revoke', id: 81, reason: 'revoke' },
  { op: 'lease-revoke', id: Number.MAX_SAFE_INTEGER, reason: 'expire' },
  { op: 'lock', name: 'jobs/1', ttl: 30 },
  { op: 'lock-release', name: 'jobs/1', token: 2 ** 40 + 7 },
  { op: 'lock-cancel', name: 'jobs/1', lease: 99 },
];

/** Decoded commands hold Buffers (views or copies): compare them as plain data. */
function plain(command: KvCommand): unknown {
  return JSON.parse(
    JSON.stringify(command, (_key, value: unknown) =>
      value instanceof Uint8Array || (value as { type?: string })?.type === 'Buffer'
        ? Buffer.from(value as Uint8Array).toString('hex')
        : value,
    ),
  );
}

function binary(command: KvCommand): Buffer {
  return Buffer.from(encodeCommand(command, 'binary'));
}

describe('binary commands: round trip', () => {
  it('every command kind decodes to itself and to what its JSON form decodes to', () => {
    for (const command of EVERY_COMMAND) {
      const data = Uint8Array.from(binary(command));
      expect(data[0]).toBe(BINARY_V1);
      expect(plain(decodeCommand(data))).toEqual(plain(command));
      expect(plain(decodeCommand(data))).toEqual(plain(decodeCommand(encodeCommand(command, 'json'))));
    }
  });

  it('is smaller than the JSON form for a 100-byte put, and carries the value raw', () => {
    const value = Buffer.alloc(100, 0xab);
    const data = binary({ op: 'put', key: 'k000042', value });
    expect(data.length).toBe(2 + 2 + 7 + 4 + 100);
    expect(data.length).toBeLessThan(encodeCommand({ op: 'put', key: 'k000042', value }).length);
    expect(data.subarray(data.length - 100).equals(value)).toBe(true);
  });

  it('two state machines, one fed JSON and one binary, reach the same state and answers', () => {
    const viaJson = new LogDriver(new KvFsm());
    const viaBinary = new LogDriver(new KvFsm());
    for (const command of EVERY_COMMAND) {
      const expected = viaJson.apply(Uint8Array.from(encodeCommand(command, 'json'))).result;
      expect(viaBinary.apply(Uint8Array.from(binary(command))).result).toEqual(expected);
    }
    expect(viaBinary.fsm.revision).toBe(viaJson.fsm.revision);
    for (const key of ['a', 'ключ/🔑', 'empty', 'h', 'log', 'jobs/1'])
      expect(viaBinary.fsm.entry(key)).toEqual(viaJson.fsm.entry(key));
    expect([...viaBinary.fsm.leases()]).toEqual([...viaJson.fsm.leases()]);
  });

  it('a decoded value is not disturbed when the entry buffer is reused afterwards', () => {
    const driver = new LogDriver(new KvFsm());
    const data = Uint8Array.from(binary({ op: 'put', key: 'a', value: bytes('first') }));
    driver.apply(data);
    data.fill(0x5a, data.length - 5);
    expect(driver.fsm.get('a')?.toString()).toBe('first');
  });
});

/**
 * The bytes of EVERY_COMMAND in each form, pinned: snapshots, WALs and members of other versions
 * read them, so an encoder change (a faster one, say) must not move a single byte.
 */
const PINNED: [binaryHex: string, json: string][] = [
  ['01010001610000000131', '{"op":"put","key":"a","value":"MQ=="}'],
  ['0101000dd0bad0bbd18ed1872ff09f94910000000500ff0a0d7b', '{"op":"put","key":"ключ/🔑","value":"AP8KDXs="}'],
  ['01010005656d70747900000000', '{"op":"put","key":"empty","value":""}'],
  ['0102000161', '{"op":"delete","key":"a"}'],
  ['0103000161000000000176', '{"op":"cas","key":"a","prev":null,"value":"dg=="}'],
  ['010300016101000000036f6c64000000036e6577', '{"op":"cas","key":"a","prev":"b2xk","value":"bmV3"}'],
  [
    '010400070100016100000000000000000c0100016402001fffffffffffff01000165010000000000000000010001660300000000000000030200016200000001780300016300030001670100030100016100000000000000510000000179010001680000000000000000000000000200016200010100036c6f670000000000000000000000066661696c6564',
    '{"op":"txn","compare":[{"key":"a","revision":12},{"key":"d","revision":9007199254740991,"cmp":"<"},{"key":"e","revision":0,"cmp":"!="},{"key":"f","revision":3,"cmp":">"},{"key":"b","value":"eA=="},{"key":"c","exists":false},{"key":"g","exists":true}],"success":[{"op":"put","key":"a","value":"eQ==","lease":"81"},{"op":"put","key":"h","value":""},{"op":"delete","key":"b"}],"failure":[{"op":"put","key":"log","value":"ZmFpbGVk"}]}',
  ],
  ['0104000000000000', '{"op":"txn","compare":[],"success":[],"failure":[]}'],
  ['01050000000000000001', '{"op":"lease-grant","ttl":1}'],
  ['01050000000000015180', '{"op":"lease-grant","ttl":86400}'],
  ['0106000000000000005101', '{"op":"lease-revoke","id":"81","reason":"revoke"}'],
  ['0106001fffffffffffff02', '{"op":"lease-revoke","id":"9007199254740991","reason":"expire"}'],
  ['010700066a6f62732f31000000000000001e', '{"op":"lock","name":"jobs/1","ttl":30}'],
  ['010800066a6f62732f310000010000000007', '{"op":"lock-release","name":"jobs/1","token":1099511627783}'],
  ['010900066a6f62732f310000000000000063', '{"op":"lock-cancel","name":"jobs/1","lease":"99"}'],
];

describe('binary and JSON commands: the bytes are pinned', () => {
  it('every command kind encodes to exactly the pinned bytes, in both forms', () => {
    expect(PINNED).toHaveLength(EVERY_COMMAND.length);
    EVERY_COMMAND.forEach((command, i) => {
      expect(binary(command).toString('hex'), `${command.op} #${i} binary`).toBe(PINNED[i][0]);
      expect(Buffer.from(encodeCommand(command, 'json')).toString('utf8'), `${command.op} #${i} json`).toBe(
        PINNED[i][1],
      );
    });
  });
});

describe('binary commands: the encoder refuses what it cannot carry', () => {
  it('a negative, fractional or unsafe integer, and a string over 65,535 bytes, are RangeErrors', () => {
    for (const ttl of [-1, 1.5, 2 ** 53, Number.NaN])
      expect(() => encodeCommand({ op: 'lease-grant', ttl }, 'binary'), String(ttl)).toThrow(RangeError);
    const name = 'n'.repeat(70_000);
    expect(() => encodeCommand({ op: 'lock', name, ttl: 5 }, 'binary')).toThrow(RangeError);
  });
});

describe('binary commands: malformed input', () => {
  const put = binary({ op: 'put', key: 'key', value: bytes('value') });
  const txn = binary(EVERY_COMMAND[6]);

  it('every truncation of every command kind is ErrDecode', () => {
    for (const command of EVERY_COMMAND) {
      const data = binary(command);
      for (let length = 1; length < data.length; length++) {
        // Counts and lengths come first, so a cut anywhere leaves a promised field missing.
        expect(() => decodeCommand(data.subarray(0, length)), `${command.op} cut at ${length}`).toThrow(
          ErrDecode,
        );
      }
    }
  });

  it('trailing bytes are ErrDecode', () => {
    for (const command of EVERY_COMMAND) {
      expect(() => decodeCommand(Buffer.concat([binary(command), Buffer.from([0])]))).toThrow(
        /trailing bytes/,
      );
    }
  });

  it('lengths beyond the entry or the limits are refused before anything is read or allocated', () => {
    const huge = Buffer.from(put);
    huge.writeUInt32BE(0xffff_ffff, 2 + 2 + 3); // the value's length
    expect(() => decodeCommand(huge)).toThrow(/cut short: "value" needs 4294967295 bytes/);
    const longKey = Buffer.from(put);
    longKey.writeUInt16BE(1025, 2);
    expect(() => decodeCommand(longKey)).toThrow(/longer than 1024 bytes/);
    const keyPastEnd = Buffer.from(put);
    keyPastEnd.writeUInt16BE(1000, 2);
    expect(() => decodeCommand(keyPastEnd)).toThrow(/cut short: "key" needs 1000 bytes/);
    const manyCompares = Buffer.from(txn);
    manyCompares.writeUInt16BE(129, 2);
    expect(() => decodeCommand(manyCompares)).toThrow(/"compare" has 129 elements, more than 128/);
    const manyOps = Buffer.concat([Buffer.from([BINARY_V1, 4, 0, 0, 0xff, 0xff])]);
    expect(() => decodeCommand(manyOps)).toThrow(/"success" has 65535 elements, more than 128/);
  });

  it('integers outside their bounds or the safe-integer range are ErrDecode', () => {
    const grant = (high: number, low: number) => {
      const data = Buffer.from([BINARY_V1, 5, 0, 0, 0, 0, 0, 0, 0, 0]);
      data.writeUInt32BE(high, 2);
      data.writeUInt32BE(low, 6);
      return data;
    };
    expect(() => decodeCommand(grant(0, 0))).toThrow(/"ttl" must be an integer from 1 to 86400/);
    expect(() => decodeCommand(grant(0, 86_401))).toThrow(ErrDecode);
    const revoke = binary({ op: 'lease-revoke', id: 1, reason: 'revoke' });
    const beyondSafe = Buffer.from(revoke);
    beyondSafe.writeUInt32BE(0x20_0000, 2); // 2^53
    expect(() => decodeCommand(beyondSafe)).toThrow(/"id" must be an integer/);
    const zeroId = Buffer.from(revoke);
    zeroId.writeUInt32BE(0, 6);
    expect(() => decodeCommand(zeroId)).toThrow(/"id" must be an integer from 1/);
  });

  it('bad keys, flags, reasons, compare kinds and duplicate keys are ErrDecode', () => {
    const withKey = (key: Buffer) => Buffer.concat([Buffer.from([BINARY_V1, 2, 0, key.length]), key]);
    expect(() => decodeCommand(withKey(Buffer.from([0xc3, 0x28])))).toThrow(/not valid UTF-8/);
    expect(() => decodeCommand(withKey(Buffer.from('a\u0001b')))).toThrow(/control characters/);
    expect(() => decodeCommand(withKey(Buffer.alloc(0)))).toThrow(/key is empty/);
    const cas = binary({ op: 'cas', key: 'k', prev: null, value: bytes('v') });
    cas[2 + 2 + 1] = 2; // the prev flag
    expect(() => decodeCommand(cas)).toThrow(/"prev" flag must be 0 or 1/);
    const revoke = binary({ op: 'lease-revoke', id: 1, reason: 'revoke' });
    revoke[revoke.length - 1] = 3;
    expect(() => decodeCommand(revoke)).toThrow(/"reason"/);
    const compare = binary({ op: 'txn', compare: [{ key: 'a', exists: true }], success: [], failure: [] });
    compare[4] = 9; // the compare kind
    expect(() => decodeCommand(compare)).toThrow(/unknown compare kind 9/);
    const cmp = binary({
      op: 'txn',
      compare: [{ key: 'a', revision: 1, cmp: '=' }],
      success: [],
      failure: [],
    });
    cmp[4 + 1 + 3] = 4; // the cmp after kind and key
    expect(() => decodeCommand(cmp)).toThrow(/"cmp" must be one of/);
    const twice = binary({
      op: 'txn',
      compare: [],
      success: [
        { op: 'delete', key: 'a' },
        { op: 'delete', key: 'a' },
      ],
      failure: [],
    });
    expect(() => decodeCommand(twice)).toThrow(/appears twice in "success"/);
  });

  it('an unknown op or a later binary version halts (ErrUnknownCommand), like an unknown JSON op', () => {
    expect(() => decodeCommand(Buffer.from([BINARY_V1, 10]))).toThrow(ErrUnknownCommand);
    expect(() => decodeCommand(Buffer.from([BINARY_V1, 0]))).toThrow(ErrUnknownCommand);
    expect(() => decodeCommand(Buffer.from([2, 1, 0, 1, 0x61]))).toThrow(/binary version 2/);
    const txnOp = binary({ op: 'txn', compare: [], success: [{ op: 'delete', key: 'a' }], failure: [] });
    txnOp[6] = 3; // the success op's kind
    expect(() => decodeCommand(txnOp)).toThrow(ErrUnknownCommand);
    // The state machine stops on it rather than skipping it.
    const driver = new LogDriver(new KvFsm());
    expect(() => driver.apply(Buffer.from([BINARY_V1, 10]))).toThrow(ErrUnknownCommand);
    expect(driver.fsm.haltedBy).toBeInstanceOf(ErrUnknownCommand);
  });

  it('an empty entry and bytes that are neither form are ErrDecode; JSON may start with whitespace', () => {
    expect(() => decodeCommand(Buffer.alloc(0))).toThrow(ErrDecode);
    expect(() => decodeCommand(Buffer.from([0x00, 1, 2]))).toThrow(ErrDecode);
    expect(() => decodeCommand(Buffer.from([0xff, 1, 2]))).toThrow(ErrDecode);
    expect(decodeCommand(Buffer.from('\n\t {"op":"delete","key":"a"}'))).toEqual({ op: 'delete', key: 'a' });
  });

  it('a malformed binary command changes nothing and the state machine applies on', () => {
    const driver = new LogDriver(new KvFsm());
    const { result } = driver.apply(put.subarray(0, put.length - 1));
    expect(result).toMatchObject({ ok: false, reason: 'malformed' });
    expect(driver.apply(Uint8Array.from(put)).result).toEqual({ ok: true });
    expect(driver.fsm.get('key')?.toString()).toBe('value');
  });
});
