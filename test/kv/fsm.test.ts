import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ErrSnapshotCorrupt, ErrTooLarge } from '../../src/core/errors.js';
import { LogType, type LogEntry } from '../../src/core/types.js';
import {
  decodeCommand,
  encodeCommand,
  ErrUnknownCommand,
  httpAddressKey,
  type KvCommand,
} from '../../src/kv/commands.js';
import { KvFsm } from '../../src/kv/fsm.js';
import type { SnapshotSink } from '../../src/storage/types.js';

let nextIndex = 1;
function entry(data: Uint8Array | string, type = LogType.Command): LogEntry {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  return { index: nextIndex++, term: 1, type, data: bytes, extensions: new Uint8Array(), appendedAt: 0 };
}
const apply = (fsm: KvFsm, command: KvCommand) => fsm.apply(entry(encodeCommand(command)));
const bytes = (text: string) => Buffer.from(text);
const text = (value: Uint8Array | undefined) =>
  value === undefined ? undefined : Buffer.from(value).toString();

/** A SnapshotStore sink kept in memory, recording how it was written to. */
class MemorySink implements SnapshotSink {
  readonly id = 'mem-1';
  chunks: Buffer[] = [];
  closed = false;
  cancelled = false;
  constructor(private readonly failAfterWrites = Infinity) {}
  async write(chunk: Uint8Array): Promise<void> {
    if (this.chunks.length >= this.failAfterWrites) throw new Error('disk full');
    this.chunks.push(Buffer.from(chunk));
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  async cancel(): Promise<void> {
    this.cancelled = true;
  }
  reader(): Readable {
    return Readable.from(this.chunks);
  }
}

async function persist(fsm: KvFsm, sink = new MemorySink()): Promise<MemorySink> {
  const snapshot = fsm.snapshot();
  await snapshot.persist(sink);
  snapshot.release();
  return sink;
}

describe('KvFsm commands', () => {
  it('put stores and overwrites a value', () => {
    const fsm = new KvFsm();
    expect(apply(fsm, { op: 'put', key: 'a', value: bytes('1') })).toEqual({ ok: true });
    expect(apply(fsm, { op: 'put', key: 'a', value: bytes('2') })).toEqual({ ok: true });
    expect(text(fsm.get('a'))).toBe('2');
    expect(fsm.size).toBe(1);
  });

  it('put keeps arbitrary binary values intact', () => {
    const fsm = new KvFsm();
    const value = Buffer.from([0, 255, 10, 13, 128, 0]);
    apply(fsm, { op: 'put', key: 'bin', value });
    expect(Buffer.from(fsm.get('bin')!).equals(value)).toBe(true);
  });

  it('delete removes a key and is a no-op for an absent one', () => {
    const fsm = new KvFsm();
    apply(fsm, { op: 'put', key: 'a', value: bytes('1') });
    expect(apply(fsm, { op: 'delete', key: 'a' })).toEqual({ ok: true });
    expect(fsm.get('a')).toBeUndefined();
    expect(apply(fsm, { op: 'delete', key: 'a' })).toEqual({ ok: true });
  });

  it('cas with a matching prev swaps the value', () => {
    const fsm = new KvFsm();
    apply(fsm, { op: 'put', key: 'a', value: bytes('old') });
    expect(apply(fsm, { op: 'cas', key: 'a', prev: bytes('old'), value: bytes('new') })).toEqual({
      ok: true,
    });
    expect(text(fsm.get('a'))).toBe('new');
  });

  it('cas with a different prev fails and reports the current value', () => {
    const fsm = new KvFsm();
    apply(fsm, { op: 'put', key: 'a', value: bytes('old') });
    expect(apply(fsm, { op: 'cas', key: 'a', prev: bytes('other'), value: bytes('new') })).toEqual({
      ok: false,
      reason: 'cas-failed',
      current: Buffer.from('old').toString('base64'),
    });
    expect(text(fsm.get('a'))).toBe('old');
  });

  it('cas with prev null succeeds only while the key is absent', () => {
    const fsm = new KvFsm();
    expect(apply(fsm, { op: 'cas', key: 'a', prev: null, value: bytes('first') })).toEqual({ ok: true });
    expect(apply(fsm, { op: 'cas', key: 'a', prev: null, value: bytes('second') })).toMatchObject({
      ok: false,
      reason: 'cas-failed',
    });
    expect(text(fsm.get('a'))).toBe('first');
  });

  it('cas on an absent key with a non-null prev fails with current null', () => {
    const fsm = new KvFsm();
    expect(apply(fsm, { op: 'cas', key: 'a', prev: bytes('x'), value: bytes('y') })).toEqual({
      ok: false,
      reason: 'cas-failed',
      current: null,
    });
    expect(fsm.get('a')).toBeUndefined();
  });

  it('reads member HTTP addresses from the reserved keys', () => {
    const fsm = new KvFsm();
    apply(fsm, { op: 'put', key: httpAddressKey('n2'), value: bytes('http://127.0.0.1:8002') });
    expect(fsm.httpAddress('n2')).toBe('http://127.0.0.1:8002');
    expect(fsm.httpAddress('n3')).toBeUndefined();
  });

  it('applies the exact JSON of the contract, as another implementation would write it', () => {
    const fsm = new KvFsm();
    fsm.apply(entry('{"op":"put","key":"k","value":"aGVsbG8="}'));
    expect(text(fsm.get('k'))).toBe('hello');
    fsm.apply(entry('{"op":"cas","key":"k","prev":"aGVsbG8=","value":"d29ybGQ="}'));
    expect(text(fsm.get('k'))).toBe('world');
    fsm.apply(entry('{"op":"delete","key":"k"}'));
    expect(fsm.get('k')).toBeUndefined();
  });

  it('encodes commands as the contract states', () => {
    expect(
      JSON.parse(
        Buffer.from(encodeCommand({ op: 'cas', key: 'k', prev: null, value: bytes('v') })).toString(),
      ),
    ).toEqual({ op: 'cas', key: 'k', prev: null, value: 'dg==' });
    const round: KvCommand = { op: 'put', key: 'ü/x', value: bytes('v') };
    expect(decodeCommand(encodeCommand(round))).toEqual({ ...round, value: Buffer.from('v') });
  });

  it('ignores entries that are not commands', () => {
    const fsm = new KvFsm();
    expect(fsm.apply(entry('', LogType.Noop))).toEqual({ ok: true });
    expect(fsm.size).toBe(0);
  });
});

describe('KvFsm malformed commands', () => {
  const malformed: [string, string][] = [
    ['not JSON', '{"op":'],
    ['a JSON array', '[1,2]'],
    ['JSON null', 'null'],
    ['a numeric op', '{"op":7,"key":"a"}'],
    ['no op', '{"key":"a"}'],
    ['a key with a control character', '{"op":"delete","key":"a\\u0001"}'],
    ['a key over 1024 bytes', `{"op":"delete","key":"${'k'.repeat(1025)}"}`],
    ['a missing key', '{"op":"put","value":"YQ=="}'],
    ['an empty key', '{"op":"put","key":"","value":"YQ=="}'],
    ['a numeric key', '{"op":"delete","key":7}'],
    ['a missing value', '{"op":"put","key":"a"}'],
    ['a non-base64 value', '{"op":"put","key":"a","value":"***"}'],
    ['unpadded base64', '{"op":"put","key":"a","value":"YQ"}'],
    ['cas without prev', '{"op":"cas","key":"a","value":"YQ=="}'],
    ['cas with a numeric prev', '{"op":"cas","key":"a","prev":1,"value":"YQ=="}'],
    ['invalid UTF-8', '\xff\xfe'],
  ];
  for (const [name, data] of malformed) {
    it(`answers an error for ${name} and changes nothing`, () => {
      const warnings: object[] = [];
      const logger = { debug() {}, info() {}, error() {}, warn: (obj: object) => warnings.push(obj) };
      const fsm = new KvFsm({ logger });
      apply(fsm, { op: 'put', key: 'a', value: bytes('keep') });
      const raw = name === 'invalid UTF-8' ? Buffer.from([0xff, 0xfe]) : Buffer.from(data);
      expect(fsm.apply(entry(raw))).toMatchObject({ ok: false, reason: 'malformed' });
      expect(text(fsm.get('a'))).toBe('keep');
      expect(fsm.size).toBe(1);
      expect(warnings).toHaveLength(1);
    });
  }
});

describe('KvFsm and a command it does not know', () => {
  const unknown: [string, string][] = [
    ['an unknown op', '{"op":"incr","key":"a"}'],
    [
      'an unknown operation inside a transaction',
      '{"op":"txn","compare":[],"success":[{"op":"incr","key":"a"}]}',
    ],
  ];
  for (const [name, data] of unknown) {
    it(`halts on ${name}: throws ErrUnknownCommand for it and every later entry, changes nothing`, () => {
      const errors: object[] = [];
      const logger = { debug() {}, info() {}, warn() {}, error: (obj: object) => errors.push(obj) };
      const fsm = new KvFsm({ logger });
      const halted: Error[] = [];
      fsm.observe({ halted: (error) => halted.push(error) });
      apply(fsm, { op: 'put', key: 'a', value: bytes('keep') });
      const revision = fsm.revision;
      expect(() => fsm.apply(entry(data))).toThrow(ErrUnknownCommand);
      expect(fsm.haltedBy).toBeInstanceOf(ErrUnknownCommand);
      expect(halted).toHaveLength(1);
      expect(errors).toHaveLength(1);
      // Later entries are refused too: applying past the unknown one would diverge.
      expect(() => apply(fsm, { op: 'put', key: 'a', value: bytes('after') })).toThrow(ErrUnknownCommand);
      expect(text(fsm.get('a'))).toBe('keep');
      expect(fsm.revision).toBe(revision);
      expect(() => fsm.snapshot()).toThrow(ErrUnknownCommand);
    });
  }
});

describe('KvFsm snapshots', () => {
  it('round-trips through a sink, including binary values and odd keys', async () => {
    const fsm = new KvFsm();
    apply(fsm, { op: 'put', key: 'a', value: bytes('1') });
    apply(fsm, { op: 'put', key: 'quote"back\\slash', value: Buffer.from([0, 1, 2, 255]) });
    apply(fsm, { op: 'put', key: 'ünï/cødé', value: bytes('') });
    const sink = await persist(fsm);
    expect(sink.closed).toBe(true);
    expect(sink.cancelled).toBe(false);

    const restored = new KvFsm();
    apply(restored, { op: 'put', key: 'stale', value: bytes('gone after restore') });
    await restored.restore(sink.reader());
    expect(restored.size).toBe(3);
    expect(text(restored.get('a'))).toBe('1');
    expect(Buffer.from(restored.get('quote"back\\slash')!)).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(text(restored.get('ünï/cødé'))).toBe('');
    expect(restored.get('stale')).toBeUndefined();
  });

  it('streams a big map in bounded chunks', async () => {
    const chunkBytes = 4096;
    const fsm = new KvFsm({ snapshotChunkBytes: chunkBytes });
    const value = Buffer.alloc(100, 7);
    for (let i = 0; i < 5000; i++) apply(fsm, { op: 'put', key: `key-${i}`, value });
    const sink = await persist(fsm);
    expect(sink.chunks.length).toBeGreaterThan(100);
    // A chunk closes once it reaches chunkBytes, so it exceeds it by at most one entry.
    for (const chunk of sink.chunks) expect(chunk.length).toBeLessThan(chunkBytes + 200);
    const restored = new KvFsm();
    await restored.restore(sink.reader());
    expect(restored.size).toBe(5000);
    expect(Buffer.from(restored.get('key-4999')!).equals(value)).toBe(true);
  });

  it('captures the state at snapshot time, unaffected by later applies', async () => {
    const fsm = new KvFsm();
    apply(fsm, { op: 'put', key: 'a', value: bytes('before') });
    const revision = fsm.revision;
    const snapshot = fsm.snapshot();
    apply(fsm, { op: 'put', key: 'a', value: bytes('after') });
    apply(fsm, { op: 'put', key: 'b', value: bytes('new') });
    const sink = new MemorySink();
    await snapshot.persist(sink);
    const restored = new KvFsm();
    await restored.restore(sink.reader());
    expect(text(restored.get('a'))).toBe('before');
    expect(restored.get('b')).toBeUndefined();
    expect(restored.revision).toBe(revision);
  });

  it('cancels the sink when a write fails', async () => {
    const fsm = new KvFsm({ snapshotChunkBytes: 16 });
    for (let i = 0; i < 10; i++) apply(fsm, { op: 'put', key: `k${i}`, value: bytes('v') });
    const sink = new MemorySink(2);
    await expect(fsm.snapshot().persist(sink)).rejects.toThrow('disk full');
    expect(sink.cancelled).toBe(true);
    expect(sink.closed).toBe(false);
  });

  const corrupt: [string, string][] = [
    ['truncated JSON', '{"a":"YQ=='],
    ['an array', '["YQ=="]'],
    ['a non-string value', '{"a":1}'],
    ['a non-base64 value', '{"a":"!!"}'],
  ];
  for (const [name, data] of corrupt) {
    it(`refuses a version 1 snapshot with ${name} and keeps the old state`, async () => {
      const fsm = new KvFsm();
      apply(fsm, { op: 'put', key: 'a', value: bytes('keep') });
      await expect(fsm.restore(Readable.from([Buffer.from(data)]))).rejects.toBeInstanceOf(
        ErrSnapshotCorrupt,
      );
      expect(text(fsm.get('a'))).toBe('keep');
    });
  }

  it('refuses a version 1 snapshot larger than maxSnapshotBytes before buffering all of it', async () => {
    const fsm = new KvFsm({ maxSnapshotBytes: 1000 });
    let produced = 0;
    const endless = new Readable({
      read() {
        produced += 400;
        this.push(Buffer.alloc(400, 0x20));
      },
    });
    await expect(fsm.restore(endless)).rejects.toBeInstanceOf(ErrTooLarge);
    expect(produced).toBeLessThan(10_000);
  });
});
