/**
 * The version 2 commands of the KV state machine (src/kv/fsm.ts, src/kv/state/store.ts), one
 * behaviour of the contract per test: revisions, transactions, leases, locks and fencing tokens,
 * and what the watch history records.
 */
import { describe, expect, it } from 'vitest';
import { KvFsm } from '../../src/kv/fsm.js';
import type { Journal } from '../../src/kv/state/store.js';
import { b64, LogDriver, text } from './support/log-driver.js';

const v = (s: string) => Buffer.from(s);

function setup(options = {}) {
  const fsm = new KvFsm(options);
  return { fsm, log: new LogDriver(fsm) };
}

/** The history as compact strings, e.g. "3 put a=1", "5 delete b". */
function history(fsm: KvFsm): string[] {
  const out: string[] = [];
  for (let i = 0; i < fsm.history.length; i++) {
    const e = fsm.history.at(i);
    out.push(`${e.revision} ${e.op} ${e.key}${e.value === null ? '' : `=${e.value.toString()}`}`);
  }
  return out;
}

describe('revisions', () => {
  it('a key takes the index of the command that last changed it; the store takes the last applied', () => {
    const { fsm, log } = setup();
    log.apply({ op: 'put', key: 'a', value: v('1') });
    log.skip(2);
    log.apply({ op: 'put', key: 'b', value: v('2') });
    log.apply({ op: 'put', key: 'a', value: v('3') });
    expect(fsm.entry('a')?.revision).toBe(5);
    expect(fsm.entry('b')?.revision).toBe(4);
    log.apply({ op: 'delete', key: 'missing' });
    expect(fsm.revision).toBe(6);
    // A failed compare-and-set changes no key but is applied: the store revision moves on.
    log.apply({ op: 'cas', key: 'a', prev: v('nope'), value: v('x') });
    expect(fsm.revision).toBe(7);
    expect(fsm.entry('a')?.revision).toBe(5);
  });

  it('a malformed command changes nothing but is applied (the store revision moves)', () => {
    const { fsm, log } = setup();
    log.apply({ op: 'put', key: 'a', value: v('1') });
    expect(log.apply('{"op":"put","key":"a"}').result).toMatchObject({ ok: false, reason: 'malformed' });
    expect(fsm.revision).toBe(2);
    expect(history(fsm)).toEqual(['1 put a=1']);
  });
});

describe('transactions', () => {
  it('compares by revision with each cmp, by value and by existence (absent: revision 0)', () => {
    const { log } = setup();
    log.apply({ op: 'put', key: 'a', value: v('x') }); // revision 1
    const txn = (compare: unknown[]) =>
      log.apply(
        JSON.stringify({ op: 'txn', compare, success: [{ op: 'put', key: 'won', value: b64('y') }] }),
      );
    const cases: [unknown, boolean][] = [
      [{ key: 'a', revision: 1 }, true],
      [{ key: 'a', revision: 2 }, false],
      [{ key: 'a', revision: 1, cmp: '!=' }, false],
      [{ key: 'a', revision: 2, cmp: '<' }, true],
      [{ key: 'a', revision: 1, cmp: '<' }, false],
      [{ key: 'a', revision: 0, cmp: '>' }, true],
      [{ key: 'absent', revision: 0 }, true],
      [{ key: 'absent', revision: 1, cmp: '<' }, true],
      [{ key: 'a', value: b64('x') }, true],
      [{ key: 'a', value: b64('z') }, false],
      [{ key: 'absent', value: b64('') }, false],
      [{ key: 'a', exists: true }, true],
      [{ key: 'absent', exists: true }, false],
      [{ key: 'absent', exists: false }, true],
    ];
    for (const [compare, expected] of cases) {
      expect(txn([compare]).result, JSON.stringify(compare)).toMatchObject({ ok: true, succeeded: expected });
    }
    expect(txn([]).result).toMatchObject({ succeeded: true });
    expect(
      txn([
        { key: 'a', exists: true },
        { key: 'a', revision: 99 },
      ]).result,
    ).toMatchObject({ succeeded: false });
  });

  it('applies the whole chosen branch at one revision, and reports the compared keys as they were', () => {
    const { fsm, log } = setup();
    log.apply({ op: 'put', key: 'a', value: v('1') });
    log.apply({ op: 'put', key: 'b', value: v('2') });
    const { index, result } = log.apply({
      op: 'txn',
      compare: [{ key: 'a', value: v('1') }],
      success: [
        { op: 'put', key: 'a', value: v('10'), lease: 0 },
        { op: 'delete', key: 'b' },
        { op: 'put', key: 'c', value: v('30'), lease: 0 },
      ],
      failure: [{ op: 'put', key: 'failed', value: v('!'), lease: 0 }],
    });
    expect(result).toEqual({
      ok: true,
      succeeded: true,
      compared: [{ key: 'a', revision: 1, value: v('1') }],
    });
    expect([text(fsm.get('a')), fsm.get('b'), text(fsm.get('c')), fsm.get('failed')]).toEqual([
      '10',
      undefined,
      '30',
      undefined,
    ]);
    expect(history(fsm).slice(2)).toEqual([`${index} put a=10`, `${index} delete b`, `${index} put c=30`]);
    const failed = log.apply({
      op: 'txn',
      compare: [{ key: 'a', value: v('1') }],
      success: [{ op: 'delete', key: 'a' }],
      failure: [{ op: 'put', key: 'failed', value: v('!'), lease: 0 }],
    });
    expect(failed.result).toMatchObject({ ok: true, succeeded: false });
    expect(text(fsm.get('a'))).toBe('10');
    expect(text(fsm.get('failed'))).toBe('!');
  });

  it('a put naming a missing lease fails the whole transaction: nothing applied, the revision consumed', () => {
    const { fsm, log } = setup();
    log.apply({ op: 'put', key: 'a', value: v('1') });
    const { result } = log.apply({
      op: 'txn',
      compare: [],
      success: [
        { op: 'delete', key: 'a' },
        { op: 'put', key: 'b', value: v('2'), lease: 77 },
      ],
      failure: [],
    });
    expect(result).toEqual({ ok: false, reason: 'lease-not-found', lease: 77 });
    expect(text(fsm.get('a'))).toBe('1');
    expect(fsm.get('b')).toBeUndefined();
    expect(fsm.revision).toBe(2);
    expect(history(fsm)).toEqual(['1 put a=1']);
  });

  const refused: [string, unknown][] = [
    [
      'a key twice in a branch',
      {
        success: [
          { op: 'delete', key: 'a' },
          { op: 'delete', key: 'a' },
        ],
      },
    ],
    ['129 compares', { compare: Array.from({ length: 129 }, (_, i) => ({ key: `k${i}`, exists: true })) }],
    ['129 operations', { success: Array.from({ length: 129 }, (_, i) => ({ op: 'delete', key: `k${i}` })) }],
    ['a compare with two targets', { compare: [{ key: 'a', revision: 1, exists: true }] }],
    ['a compare with no target', { compare: [{ key: 'a' }] }],
    ['cmp on a value compare', { compare: [{ key: 'a', value: 'eA==', cmp: '<' }] }],
    ['an unknown cmp', { compare: [{ key: 'a', revision: 1, cmp: '>=' }] }],
    ['a negative revision', { compare: [{ key: 'a', revision: -1 }] }],
    ['a fractional revision', { compare: [{ key: 'a', revision: 1.5 }] }],
    ['a revision past 2^53', { compare: [{ key: 'a', revision: 2 ** 53 }] }],
    ['a numeric lease', { success: [{ op: 'put', key: 'a', value: 'eA==', lease: 5 }] }],
    ['a lease of 0', { success: [{ op: 'put', key: 'a', value: 'eA==', lease: '0' }] }],
    ['a put without value', { success: [{ op: 'put', key: 'a' }] }],
    ['a branch that is not an array', { success: { op: 'delete', key: 'a' } }],
    ['an empty key', { success: [{ op: 'delete', key: '' }] }],
  ];
  for (const [name, body] of refused) {
    it(`refuses ${name} as malformed, changing nothing`, () => {
      const { fsm, log } = setup();
      log.apply({ op: 'put', key: 'a', value: v('keep') });
      expect(log.apply(JSON.stringify({ op: 'txn', ...(body as object) })).result).toMatchObject({
        ok: false,
        reason: 'malformed',
      });
      expect(text(fsm.get('a'))).toBe('keep');
      expect(fsm.size).toBe(1);
    });
  }
});

describe('leases', () => {
  it('a lease is named by the index that granted it; keys attach, a plain put detaches', () => {
    const { fsm, log } = setup();
    const { index: id } = log.apply({ op: 'lease-grant', ttl: 10 });
    expect(fsm.lease(id)).toMatchObject({ id, ttl: 10 });
    log.apply({
      op: 'txn',
      compare: [],
      success: [{ op: 'put', key: 'a', value: v('1'), lease: id }],
      failure: [],
    });
    log.apply({
      op: 'txn',
      compare: [],
      success: [{ op: 'put', key: 'b', value: v('2'), lease: id }],
      failure: [],
    });
    expect(fsm.entry('a')?.lease).toBe(id);
    expect([...fsm.lease(id)!.keys].sort()).toEqual(['a', 'b']);
    log.apply({ op: 'put', key: 'b', value: v('3') });
    expect(fsm.entry('b')?.lease).toBe(0);
    expect([...fsm.lease(id)!.keys]).toEqual(['a']);
    log.apply({ op: 'delete', key: 'a' });
    expect(fsm.lease(id)!.keys.size).toBe(0);
  });

  it('revoking deletes every attached key at the revoke revision, in key order; a second revoke changes nothing', () => {
    const { fsm, log } = setup();
    const { index: id } = log.apply({ op: 'lease-grant', ttl: 10 });
    for (const key of ['z', 'b', 'm'])
      log.apply({
        op: 'txn',
        compare: [],
        success: [{ op: 'put', key, value: v(key), lease: id }],
        failure: [],
      });
    log.apply({ op: 'put', key: 'free', value: v('stays') });
    const revoke = log.apply({ op: 'lease-revoke', id, reason: 'expire' });
    expect(revoke.result).toEqual({ ok: true });
    expect(fsm.lease(id)).toBeUndefined();
    expect(fsm.size).toBe(1);
    expect(history(fsm).slice(-3)).toEqual([
      `${revoke.index} delete b`,
      `${revoke.index} delete m`,
      `${revoke.index} delete z`,
    ]);
    const again = log.apply({ op: 'lease-revoke', id, reason: 'revoke' });
    expect(again.result).toEqual({ ok: false, reason: 'lease-not-found', lease: id });
    expect(fsm.size).toBe(1);
    expect(history(fsm).at(-1)).toBe(`${revoke.index} delete z`);
  });

  it('refuses TTLs outside 1..86400 and lease IDs that are not decimal strings', () => {
    const { fsm, log } = setup();
    for (const bad of [
      '{"op":"lease-grant","ttl":0}',
      '{"op":"lease-grant","ttl":86401}',
      '{"op":"lease-grant","ttl":1.5}',
      '{"op":"lease-grant","ttl":"10"}',
      '{"op":"lease-revoke","id":5,"reason":"revoke"}',
      '{"op":"lease-revoke","id":"05","reason":"revoke"}',
      '{"op":"lease-revoke","id":"99999999999999999","reason":"revoke"}',
      '{"op":"lease-revoke","id":"5","reason":"because"}',
    ]) {
      expect(log.apply(bad).result, bad).toMatchObject({ ok: false, reason: 'malformed' });
    }
    expect(fsm.leaseCount).toBe(0);
  });
});

describe('locks and fencing tokens', () => {
  it('serves waiters in arrival order; each token is the index that handed the lock over', () => {
    const { fsm, log } = setup();
    const first = log.apply({ op: 'lock', name: 'db', ttl: 10 });
    const second = log.apply({ op: 'lock', name: 'db', ttl: 10 });
    const third = log.apply({ op: 'lock', name: 'db', ttl: 10 });
    expect(first.result).toEqual({ ok: true, lease: first.index, token: first.index });
    expect(second.result).toEqual({ ok: true, lease: second.index, token: null });
    expect(fsm.lock('db')).toEqual({
      holder: first.index,
      token: first.index,
      waiters: [second.index, third.index],
    });
    const release = log.apply({ op: 'lock-release', name: 'db', token: first.index });
    expect(release.result).toEqual({ ok: true });
    expect(fsm.lease(first.index)).toBeUndefined();
    expect(fsm.lock('db')).toEqual({ holder: second.index, token: release.index, waiters: [third.index] });
    // The lease of the holder expires: the next waiter gets it, with a greater token still.
    const expire = log.apply({ op: 'lease-revoke', id: second.index, reason: 'expire' });
    expect(fsm.lock('db')).toEqual({ holder: third.index, token: expire.index, waiters: [] });
    expect(expire.index).toBeGreaterThan(release.index);
    log.apply({ op: 'lock-release', name: 'db', token: expire.index });
    expect(fsm.lock('db')).toBeUndefined();
    expect(fsm.lockCount).toBe(0);
    expect(fsm.leaseCount).toBe(0);
  });

  it('a release with a stale or unknown token changes nothing and names the holder', () => {
    const { fsm, log } = setup();
    const first = log.apply({ op: 'lock', name: 'db', ttl: 10 });
    log.apply({ op: 'lock-release', name: 'db', token: first.index });
    const second = log.apply({ op: 'lock', name: 'db', ttl: 10 });
    expect(log.apply({ op: 'lock-release', name: 'db', token: first.index }).result).toEqual({
      ok: false,
      reason: 'not-holder',
      token: second.index,
    });
    expect(log.apply({ op: 'lock-release', name: 'other', token: 1 }).result).toEqual({
      ok: false,
      reason: 'not-holder',
      token: null,
    });
    expect(fsm.lock('db')?.holder).toBe(second.index);
  });

  it('a cancelled waiter leaves the queue; cancelled after a handover it releases the lock again', () => {
    const { fsm, log } = setup();
    const holder = log.apply({ op: 'lock', name: 'db', ttl: 10 });
    const a = log.apply({ op: 'lock', name: 'db', ttl: 10 });
    const b = log.apply({ op: 'lock', name: 'db', ttl: 10 });
    log.apply({ op: 'lock-cancel', name: 'db', lease: a.index });
    expect(fsm.lock('db')?.waiters).toEqual([b.index]);
    expect(fsm.lease(a.index)).toBeUndefined();
    log.apply({ op: 'lock-release', name: 'db', token: holder.index });
    expect(fsm.lock('db')?.holder).toBe(b.index);
    // b's client gave up just as the lock reached it: the cancel frees the lock.
    log.apply({ op: 'lock-cancel', name: 'db', lease: b.index });
    expect(fsm.lock('db')).toBeUndefined();
    // A cancel of a lease that is not this lock's changes nothing.
    const lease = log.apply({ op: 'lease-grant', ttl: 5 });
    log.apply({ op: 'lock-cancel', name: 'db', lease: lease.index });
    expect(fsm.lease(lease.index)).toBeDefined();
  });

  it('tells its observers which lease got which lock, and which leases went', () => {
    const { fsm, log } = setup();
    const journals: [number, Journal][] = [];
    fsm.observe({ applied: (revision, journal) => journals.push([revision, journal]) });
    const a = log.apply({ op: 'lock', name: 'n', ttl: 10 });
    const b = log.apply({ op: 'lock', name: 'n', ttl: 10 });
    const release = log.apply({ op: 'lock-release', name: 'n', token: a.index });
    expect(
      journals.map(([revision, j]) => [
        revision,
        j.locksAcquired,
        j.leasesGranted.map((l) => l.id),
        j.leasesRevoked,
      ]),
    ).toEqual([
      [a.index, [{ name: 'n', lease: a.index, token: a.index }], [a.index], []],
      [b.index, [], [b.index], []],
      [
        release.index,
        [{ name: 'n', lease: b.index, token: release.index }],
        [],
        [{ id: a.index, reason: 'revoke' }],
      ],
    ]);
  });
});

describe('watch history', () => {
  it('keeps the changes of the last N revisions; compactRevision says where it starts', () => {
    const { fsm, log } = setup({ watchHistory: 5 });
    for (let i = 1; i <= 10; i++) log.apply({ op: 'put', key: `k${i}`, value: v(String(i)) });
    expect(fsm.history.compactRevision).toBe(5);
    expect(history(fsm)).toEqual(['6 put k6=6', '7 put k7=7', '8 put k8=8', '9 put k9=9', '10 put k10=10']);
    // Commands that change no key still move the window.
    log.apply({ op: 'lease-grant', ttl: 5 });
    log.apply({ op: 'lease-grant', ttl: 5 });
    expect(fsm.history.compactRevision).toBe(7);
    expect(history(fsm)[0]).toBe('8 put k8=8');
  });

  it('drops whole revisions, oldest first, past the byte bound', () => {
    const { fsm, log } = setup({ watchHistoryBytes: 2000 });
    const big = Buffer.alloc(500, 1);
    for (let i = 1; i <= 10; i++) log.apply({ op: 'put', key: `k${i}`, value: big });
    expect(fsm.history.retainedBytes).toBeLessThanOrEqual(2000);
    expect(fsm.history.length).toBe(3);
    expect(fsm.history.compactRevision).toBe(7);
    expect(fsm.history.at(0).revision).toBe(8);
    expect(fsm.history.indexAfter(7)).toBe(0);
    expect(fsm.history.indexAfter(9)).toBe(2);
    expect(fsm.history.indexAfter(10)).toBe(3);
  });
});
