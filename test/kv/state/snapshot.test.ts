/**
 * KV snapshots (src/kv/state/snapshot.ts through KvFsm): the version 2 NDJSON format, round trips of
 * every part of the state, version 1 restores, determinism (the same log gives the same bytes, with
 * or without a restore on the way), streaming with bounded lines, and damaged snapshots refused.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ErrSnapshotCorrupt } from '../../../src/core/errors.js';
import type { KvCommand } from '../../../src/kv/commands.js';
import { KvFsm } from '../../../src/kv/fsm.js';
import { SeededRandom } from '../../../src/testing/prng.js';
import {
  b64,
  chunksOf,
  expectBoundedRestore,
  LogDriver,
  MemorySink,
  richState,
  snapshotBytes,
  text,
} from '../support/log-driver.js';

const v = (s: string) => Buffer.from(s);
const lines = (bytes: Buffer) =>
  bytes
    .toString()
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as unknown);

describe('version 2 snapshots', () => {
  it('write the contract records, one per line, in a fixed order (snapshotFormat 2)', async () => {
    const { fsm } = richState({ snapshotFormat: 2 });
    expect(lines(await snapshotBytes(fsm))).toEqual([
      { format: 2, revision: 7, compactRevision: 0 },
      { k: 'a', v: 'AP8=', r: 2 },
      { k: 'c', v: b64('3'), r: 4, l: '3' },
      { lease: '3', ttl: 30 },
      { lease: '5', ttl: 10 },
      { lease: '6', ttl: 10 },
      { lock: 'db', token: 5, holder: '5', waiters: ['6'] },
      { event: { revision: 1, op: 'put', key: 'b', value: b64('2') } },
      { event: { revision: 2, op: 'put', key: 'a', value: 'AP8=' } },
      { event: { revision: 4, op: 'put', key: 'c', value: b64('3') } },
      { event: { revision: 7, op: 'delete', key: 'b', value: null } },
    ]);
  });

  it('round-trip every part of the state: a restored machine writes the same bytes and behaves the same', async () => {
    const { fsm, log } = richState({ snapshotFormat: 2 });
    const bytes = await snapshotBytes(fsm);
    const restored = new KvFsm({ snapshotFormat: 2 });
    new LogDriver(restored).apply({ op: 'put', key: 'stale', value: v('gone after restore') });
    await restored.restore(Readable.from([bytes]));
    expect((await snapshotBytes(restored)).equals(bytes)).toBe(true);
    expect(restored.get('stale')).toBeUndefined();
    expect(restored.revision).toBe(7);
    expect(restored.entry('c')).toEqual({ value: v('3'), revision: 4, lease: 3 });
    // The lease still owns its key and the lock its holder and waiter.
    const again = new LogDriver(restored);
    again.next = log.next;
    again.apply({ op: 'lease-revoke', id: 3, reason: 'expire' });
    expect(restored.get('c')).toBeUndefined();
    again.apply({ op: 'lock-release', name: 'db', token: 5 });
    expect(restored.lock('db')).toEqual({ holder: 6, token: 9, waiters: [] });
  });

  it('stream in chunks of about snapshotChunkBytes', async () => {
    const fsm = new KvFsm({ snapshotChunkBytes: 4096 });
    const log = new LogDriver(fsm);
    for (let i = 0; i < 3000; i++) log.apply({ op: 'put', key: `key-${i}`, value: Buffer.alloc(100, 7) });
    const sink = new MemorySink();
    await fsm.snapshot().persist(sink);
    expect(sink.closed).toBe(true);
    expect(sink.chunks.length).toBeGreaterThan(100);
    // A chunk closes once it reaches chunkBytes, so it exceeds it by at most one line.
    for (const chunk of sink.chunks) expect(chunk.length).toBeLessThan(4096 + 300);
  });

  it('restore with bounded lines: a 2 MB snapshot through a 4 KiB line limit, one long line refused', async () => {
    const start = Buffer.from(`{"format":2,"revision":1,"compactRevision":0}\n{"k":"a","v":"`);
    await expectBoundedRestore({ snapshotFormat: 2 }, start);
  });
});

describe('version 1 snapshots', () => {
  it('still restore: every key at revision 0, no history, and the history starts at the next command', async () => {
    const fsm = new KvFsm();
    await fsm.restore(Readable.from([Buffer.from(JSON.stringify({ x: b64('hello'), 'a/b': b64('') }))]));
    expect(text(fsm.get('x'))).toBe('hello');
    expect(fsm.entry('a/b')).toEqual({ value: Buffer.alloc(0), revision: 0, lease: 0 });
    expect(fsm.history.length).toBe(0);
    const log = new LogDriver(fsm);
    log.next = 40;
    log.apply({ op: 'put', key: 'y', value: v('1') });
    // Changes before index 40 are folded into the snapshot: a watch must start at 39 or later.
    expect(fsm.history.compactRevision).toBe(39);
    expect(fsm.revision).toBe(40);
  });

  it('an empty version 1 snapshot restores an empty store', async () => {
    const fsm = new KvFsm();
    await fsm.restore(Readable.from([Buffer.from('{}')]));
    expect(fsm.size).toBe(0);
  });
});

describe('determinism', () => {
  it('two machines fed the same log end equal with byte-identical snapshots, one restored halfway', async () => {
    const random = new SeededRandom(3);
    const commands = randomCommands(random, 2000);
    const straight = new KvFsm({ watchHistory: 300 });
    const restarted = new KvFsm({ watchHistory: 300 });
    const a = new LogDriver(straight);
    let b = new LogDriver(restarted);
    let second = restarted;
    for (const [i, command] of commands.entries()) {
      const ra = a.apply(command).result;
      const rb = b.apply(command).result;
      expect(rb).toEqual(ra);
      if (i === 1000) {
        // The second machine restarts from a snapshot of itself (different map insertion order).
        const bytes = await snapshotBytes(second);
        second = new KvFsm({ watchHistory: 300 });
        await second.restore(Readable.from(chunksOf(bytes, 777)));
        const next = b.next;
        b = new LogDriver(second);
        b.next = next;
      }
    }
    const final = await snapshotBytes(straight);
    expect((await snapshotBytes(second)).equals(final)).toBe(true);
    expect(straight.leaseCount + straight.lockCount + straight.size).toBeGreaterThan(10);
    expect(straight.history.compactRevision).toBeGreaterThan(0);
  });
});

describe('copy-on-write snapshots', () => {
  it('write the state at capture, whatever applies while they are written', async () => {
    // Leases, locks, txns, then 60 keys that every later command changes (overwrites, deletes) or
    // follows (new keys).
    const commands: KvCommand[] = randomCommands(new SeededRandom(5), 300);
    for (let i = 0; i < 60; i++) commands.push({ op: 'put', key: `cow-${i}`, value: v(`before ${i}`) });
    for (let i = 0; i < 60; i++) {
      commands.push(
        i % 2 === 0
          ? { op: 'delete', key: `cow-${i}` }
          : { op: 'put', key: `cow-${i}`, value: v(`after ${i}`) },
      );
      commands.push({ op: 'put', key: `cow-new-${i}`, value: v('new') });
    }
    const live = new KvFsm({ snapshotChunkBytes: 256 });
    const reference = new KvFsm({ snapshotChunkBytes: 256 });
    const a = new LogDriver(live);
    const b = new LogDriver(reference);
    for (const command of commands.slice(0, 360)) {
      a.apply(command);
      b.apply(command);
    }
    const expected = await snapshotBytes(reference);
    const snapshot = live.snapshot();
    const sink = new MemorySink();
    const keysBefore = live.size;
    // After the first chunk is written, the last 120 commands apply.
    let next = 360;
    sink.write = async (chunk) => {
      sink.chunks.push(Buffer.from(chunk));
      for (; next < commands.length; next++) a.apply(commands[next]);
    };
    await snapshot.persist(sink);
    snapshot.release();
    expect(sink.chunks.length).toBeGreaterThan(5);
    expect(live.size).not.toBe(keysBefore);
    expect(sink.bytes().equals(expected)).toBe(true);
    // A later snapshot sees the later state.
    for (const command of commands.slice(360)) b.apply(command);
    expect((await snapshotBytes(live)).equals(await snapshotBytes(reference))).toBe(true);
  });
});

describe('copy-on-write snapshots under load (property)', () => {
  /** Puts (new keys and overwrites) and deletes over 4,000 keys: enough for the index to split and merge chunks. */
  function keyCommand(random: SeededRandom, deletes: number): KvCommand {
    const key = `p/${Math.floor(random.next() * 4000)}`;
    return random.next() < deletes ? { op: 'delete', key } : { op: 'put', key, value: v(`${random.next()}`) };
  }

  it('two overlapping snapshots, each written while 0-60 commands apply per chunk, are exactly the state at their index', async () => {
    for (const seed of [1, 2]) {
      const random = new SeededRandom(seed);
      const log: KvCommand[] = randomCommands(random, 200);
      for (let i = 0; i < 5000; i++) log.push(keyCommand(random, 0.2));
      const live = new KvFsm({ snapshotChunkBytes: 1024 });
      const driver = new LogDriver(live);
      for (const command of log) driver.apply(command);
      const applyMore = () => {
        // Deletes outweigh puts while the snapshots are written, so chunks shrink and merge too.
        for (let n = Math.floor(random.next() * 60); n > 0; n--) {
          const command = keyCommand(random, 0.6);
          log.push(command);
          driver.apply(command);
        }
      };
      const firstAt = log.length;
      const first = live.snapshot();
      let second: { snapshot: ReturnType<KvFsm['snapshot']>; at: number } | null = null;
      const firstSink = new MemorySink();
      firstSink.write = async (chunk) => {
        firstSink.chunks.push(Buffer.from(chunk));
        applyMore();
        if (firstSink.chunks.length === 20) second = { snapshot: live.snapshot(), at: log.length };
      };
      await first.persist(firstSink);
      first.release();
      const secondSink = new MemorySink();
      secondSink.write = async (chunk) => {
        secondSink.chunks.push(Buffer.from(chunk));
        applyMore();
      };
      await second!.snapshot.persist(secondSink);
      second!.snapshot.release();

      const reference = new KvFsm({ snapshotChunkBytes: 1024 });
      const referenceDriver = new LogDriver(reference);
      for (const command of log.slice(0, firstAt)) referenceDriver.apply(command);
      expect(firstSink.bytes().equals(await snapshotBytes(reference)), `seed ${seed}: first`).toBe(true);
      for (const command of log.slice(firstAt, second!.at)) referenceDriver.apply(command);
      expect(secondSink.bytes().equals(await snapshotBytes(reference)), `seed ${seed}: second`).toBe(true);
      expect(log.length - firstAt, 'commands applied while the snapshots were written').toBeGreaterThan(1000);
      // And the live state carried on: a snapshot now is the whole log's.
      for (const command of log.slice(second!.at)) referenceDriver.apply(command);
      expect((await snapshotBytes(live)).equals(await snapshotBytes(reference))).toBe(true);
    }
  });
});

describe('damaged version 2 snapshots are refused and the old state kept', () => {
  const header = '{"format":2,"revision":10,"compactRevision":2}';
  const cases: [string, string][] = [
    ['an unknown format', '{"format":3,"revision":1,"compactRevision":0}\n'],
    ['a compact revision past the revision', '{"format":2,"revision":1,"compactRevision":2}\n'],
    ['a record of no known kind', `${header}\n{"what":1}\n`],
    ['a line that is not JSON', `${header}\n{"k":\n`],
    ['a truncated last line', `${header}\n{"k":"a","v":"","r":1}`],
    ['a key twice', `${header}\n{"k":"a","v":"","r":1}\n{"k":"a","v":"","r":1}\n`],
    ['a key revision past the snapshot', `${header}\n{"k":"a","v":"","r":11}\n`],
    ['a key on a missing lease', `${header}\n{"k":"a","v":"","r":1,"l":"4"}\n`],
    ['a value that is not base64', `${header}\n{"k":"a","v":"***","r":1}\n`],
    ['a lock on a missing lease', `${header}\n{"lock":"l","token":3,"holder":"3","waiters":[]}\n`],
    [
      'a free lock with waiters',
      `${header}\n{"lease":"3","ttl":5}\n{"lock":"l","token":0,"holder":null,"waiters":["3"]}\n`,
    ],
    [
      'one lease holding two locks',
      `${header}\n{"lease":"3","ttl":5}\n{"lock":"l","token":3,"holder":"3","waiters":[]}\n{"lock":"m","token":3,"holder":"3","waiters":[]}\n`,
    ],
    [
      'an event at the compact revision',
      `${header}\n{"event":{"revision":2,"op":"delete","key":"a","value":null}}\n`,
    ],
    [
      'events out of order',
      `${header}\n{"event":{"revision":5,"op":"delete","key":"a","value":null}}\n{"event":{"revision":4,"op":"delete","key":"a","value":null}}\n`,
    ],
    [
      'a put event without a value',
      `${header}\n{"event":{"revision":5,"op":"put","key":"a","value":null}}\n`,
    ],
  ];
  for (const [name, snapshot] of cases) {
    it(`${name}`, async () => {
      const fsm = new KvFsm();
      new LogDriver(fsm).apply({ op: 'put', key: 'keep', value: v('me') });
      await expect(fsm.restore(Readable.from([Buffer.from(snapshot)]))).rejects.toBeInstanceOf(
        ErrSnapshotCorrupt,
      );
      expect(text(fsm.get('keep'))).toBe('me');
      expect(fsm.revision).toBe(1);
    });
  }
});

/** Puts, deletes, transactions, leases, locks and their releases over a few keys and names. */
function randomCommands(random: SeededRandom, count: number): KvCommand[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random.next() * items.length)];
  const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
  const commands: KvCommand[] = [];
  // Lease IDs are indexes; the driver starts at 1, so command i (0-based) is at index i + 1.
  const leases: number[] = [];
  for (let i = 0; i < count; i++) {
    const roll = random.next();
    const key = pick(keys);
    const value = Buffer.from(String(Math.floor(random.next() * 1000)));
    if (roll < 0.3) commands.push({ op: 'put', key, value });
    else if (roll < 0.4) commands.push({ op: 'delete', key });
    else if (roll < 0.5) {
      leases.push(i + 1);
      commands.push({ op: 'lease-grant', ttl: 5 });
    } else if (roll < 0.65) {
      const lease = leases.length > 0 && random.next() < 0.7 ? pick(leases) : 0;
      commands.push({
        op: 'txn',
        compare: [
          { key, revision: Math.floor(random.next() * (i + 1)), cmp: pick(['=', '<', '>', '!='] as const) },
        ],
        success: [{ op: 'put', key, value, lease }],
        failure: [{ op: 'delete', key: pick(keys) }],
      });
    } else if (roll < 0.75 && leases.length > 0) {
      commands.push({ op: 'lease-revoke', id: pick(leases), reason: 'expire' });
    } else if (roll < 0.85) {
      leases.push(i + 1);
      commands.push({ op: 'lock', name: pick(['x', 'y']), ttl: 5 });
    } else if (roll < 0.93) {
      commands.push({
        op: 'lock-release',
        name: pick(['x', 'y']),
        token: Math.floor(random.next() * (i + 1)) + 1,
      });
    } else if (leases.length > 0) {
      commands.push({ op: 'lock-cancel', name: pick(['x', 'y']), lease: pick(leases) });
    } else commands.push({ op: 'cas', key, prev: null, value });
  }
  return commands;
}
