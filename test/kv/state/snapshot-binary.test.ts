/**
 * Version 3 KV snapshots (src/kv/state/snapshot-binary.ts): the default format, binary records with
 * raw values; round trips equal to version 2's; a version 2 snapshot restores into a machine that
 * writes version 3; restore holds one record at a time; every cut and damage is refused with the
 * old state kept.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ErrSnapshotCorrupt } from '../../../src/core/errors.js';
import { KvFsm } from '../../../src/kv/fsm.js';
import { V3_MAGIC } from '../../../src/kv/state/snapshot-binary.js';
import {
  chunksOf,
  expectBoundedRestore,
  LogDriver,
  MemorySink,
  richState,
  snapshotBytes,
} from '../support/log-driver.js';

/** A version 3 record: u32 body length, u8 type, body. */
function record(type: number, body: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(body.length, 0);
  prefix[4] = type;
  return Buffer.concat([prefix, body]);
}

function u64s(...values: number[]): Buffer {
  const out = Buffer.alloc(8 * values.length);
  values.forEach((value, i) => out.writeBigUInt64BE(BigInt(value), 8 * i));
  return out;
}

describe('version 3 snapshots', () => {
  it('are the default, hold values as raw bytes, and round-trip every part of the state', async () => {
    const { fsm } = richState();
    const bytes = await snapshotBytes(fsm);
    expect(bytes.subarray(0, V3_MAGIC.length).equals(V3_MAGIC)).toBe(true);
    // The value of key "a" (bytes 0, 255) appears as itself, not as base64.
    expect(bytes.indexOf(Buffer.from([0x61, 0, 255]))).toBeGreaterThan(0);
    const restored = new KvFsm();
    new LogDriver(restored).apply({ op: 'put', key: 'stale', value: Buffer.from('x') });
    await restored.restore(Readable.from(chunksOf(bytes, 7)));
    expect((await snapshotBytes(restored)).equals(bytes)).toBe(true);
    expect(restored.get('stale')).toBeUndefined();
    expect(restored.entry('c')).toEqual({ value: Buffer.from('3'), revision: 4, lease: 3 });
    expect(restored.lock('db')).toEqual({ holder: 5, token: 5, waiters: [6] });
    expect(restored.history.length).toBe(4);
  });

  it('are the same bytes in any chunk size: small chunks hold whole records, a larger record gets a chunk of its own', async () => {
    const build = (snapshotChunkBytes: number) => {
      const fsm = new KvFsm({ snapshotChunkBytes });
      const driver = new LogDriver(fsm);
      for (let i = 0; i < 50; i++)
        driver.apply({ op: 'put', key: `k${i}`, value: Buffer.alloc(i === 25 ? 1000 : 3, i) });
      return fsm;
    };
    const sink = new MemorySink();
    const snapshot = build(64).snapshot();
    await snapshot.persist(sink);
    snapshot.release();
    expect(sink.bytes().equals(await snapshotBytes(build(64 * 1024)))).toBe(true);
    const sizes = sink.chunks.map((chunk) => chunk.length);
    // The big value's key record and its watch event, each alone in its chunk.
    expect(sizes.filter((size) => size > 64)).toEqual([5 + 20 + 3 + 1000, 5 + 13 + 3 + 1000]);
    expect(sizes.length).toBeGreaterThan(20);
  });

  it('restore the same state as version 2 of the same machine', async () => {
    const { fsm: v2 } = richState({ snapshotFormat: 2 });
    const { fsm: v3 } = richState();
    const fromV2 = new KvFsm();
    await fromV2.restore(Readable.from([await snapshotBytes(v2)]));
    const fromV3 = new KvFsm();
    await fromV3.restore(Readable.from([await snapshotBytes(v3)]));
    expect((await snapshotBytes(fromV2)).equals(await snapshotBytes(fromV3))).toBe(true);
    expect((await snapshotBytes(fromV3)).equals(await snapshotBytes(v3))).toBe(true);
  });

  it('restore one record at a time: a record longer than the limit is refused before it is read', async () => {
    // A key record announcing 1 GiB.
    const big = Buffer.alloc(5);
    big.writeUInt32BE(1 << 30, 0);
    big[4] = 2;
    await expectBoundedRestore({}, Buffer.concat([V3_MAGIC, record(1, u64s(1, 0)), big]));
  });

  it('refuse a snapshot cut anywhere, the old state kept', async () => {
    const { fsm } = richState();
    const bytes = await snapshotBytes(fsm);
    const restored = new KvFsm();
    new LogDriver(restored).apply({ op: 'put', key: 'kept', value: Buffer.from('1') });
    for (let cut = V3_MAGIC.length; cut < bytes.length; cut++) {
      const error = await restored.restore(Readable.from([bytes.subarray(0, cut)])).catch((e: unknown) => e);
      expect(error, `cut at ${cut} of ${bytes.length}`).toBeInstanceOf(ErrSnapshotCorrupt);
    }
    expect(restored.get('kept')).toEqual(Buffer.from('1'));
  });

  const header = record(1, u64s(10, 2));
  const key = (name: string, revision: number, lease: number, value: string) => {
    const nameBytes = Buffer.from(name);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(nameBytes.length, 0);
    return record(2, Buffer.concat([u64s(revision, lease), length, nameBytes, Buffer.from(value)]));
  };
  const end = (count: number) => record(6, u64s(count));
  const cases: [string, Buffer[]][] = [
    ['no header', [key('a', 1, 0, ''), end(1)]],
    ['a header twice', [header, header, end(2)]],
    ['a compact revision past the revision', [record(1, u64s(1, 2)), end(1)]],
    ['an unknown record type', [header, record(9, Buffer.alloc(3)), end(2)]],
    ['a short record', [header, record(3, Buffer.alloc(4)), end(2)]],
    ['a key twice', [header, key('a', 1, 0, ''), key('a', 1, 0, ''), end(3)]],
    ['a key revision past the snapshot', [header, key('a', 11, 0, ''), end(2)]],
    ['a key on a missing lease', [header, key('a', 1, 4, ''), end(2)]],
    ['a key that is not a valid key', [header, key('', 1, 0, ''), end(2)]],
    ['a number beyond 2^53-1', [header, record(3, Buffer.alloc(16, 0xff)), end(2)]],
    ['a wrong record count', [header, key('a', 1, 0, ''), end(5)]],
    ['bytes after the end record', [header, end(1), Buffer.from([0])]],
  ];
  it.each(cases)('refuse %s, the old state kept', async (_name, records) => {
    const restored = new KvFsm();
    new LogDriver(restored).apply({ op: 'put', key: 'kept', value: Buffer.from('1') });
    const error = await restored
      .restore(Readable.from([Buffer.concat([V3_MAGIC, ...records])]))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ErrSnapshotCorrupt);
    expect(restored.get('kept')).toEqual(Buffer.from('1'));
  });

  it('accept a hand-written minimal snapshot (the cases above differ from it by their damage only)', async () => {
    const restored = new KvFsm();
    await restored.restore(Readable.from([Buffer.concat([V3_MAGIC, header, key('a', 1, 0, 'v'), end(2)])]));
    expect(restored.entry('a')).toEqual({ value: Buffer.from('v'), revision: 1, lease: 0 });
    expect(restored.revision).toBe(10);
  });
});
