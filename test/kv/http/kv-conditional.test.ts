/**
 * Conditional writes on `/kv/{key}` (src/kv/http/kv-routes.ts): ETag, If-Match, If-None-Match,
 * `?lease=`, the compare-and-set body form and compare-and-delete, what each logs, and hostile
 * conditions refused before anything is applied.
 */
import { describe, expect, it } from 'vitest';
import { decodeCommand } from '../../../src/kv/commands.js';
import { expectJsonError, useKvApi } from './api-harness.js';

const api = useKvApi();
const req = api.req;
const b64 = (text: string) => Buffer.from(text).toString('base64');

/** The ops of the commands the cluster was asked to replicate, in order. */
function loggedOps(): string[] {
  const ops: string[] = [];
  const apply = api.cluster.apply.bind(api.cluster);
  api.cluster.apply = (data) => {
    ops.push(decodeCommand(data).op);
    return apply(data);
  };
  return ops;
}

describe('revisions and ETags', () => {
  it('GET answers the key revision as a strong ETag; writes answer index and revision', async () => {
    expect((await req('PUT', '/kv/a', '1')).json()).toEqual({ index: 1, revision: 1 });
    await req('PUT', '/kv/b', '2');
    await req('PUT', '/kv/a', '3');
    expect((await req('GET', '/kv/a')).headers.etag).toBe('"3"');
    expect((await req('GET', '/kv/b?stale')).headers.etag).toBe('"2"');
  });
});

describe('If-Match and If-None-Match', () => {
  it('If-Match writes only while the revision matches, and 412 tells the current one', async () => {
    await req('PUT', '/kv/a', 'v1');
    const ok = await req('PUT', '/kv/a', 'v2', { 'If-Match': '"1"' });
    expect(ok.status).toBe(200);
    const stale = await req('PUT', '/kv/a', 'v3', { 'If-Match': '"1"' });
    expectJsonError(stale, 412);
    expect(stale.json()).toMatchObject({ revision: 2 });
    expect((await req('GET', '/kv/a')).text).toBe('v2');
    expect((await req('DELETE', '/kv/a', undefined, { 'If-Match': '"1"' })).status).toBe(412);
    expect((await req('DELETE', '/kv/a', undefined, { 'If-Match': '"2"' })).status).toBe(200);
    expect((await req('GET', '/kv/a')).status).toBe(404);
  });

  it('an absent key never matches If-Match, not even "0"; If-Match: * needs the key to exist', async () => {
    expect((await req('PUT', '/kv/new', 'v', { 'If-Match': '"0"' })).status).toBe(412);
    expect((await req('PUT', '/kv/new', 'v', { 'If-Match': '*' })).status).toBe(412);
    expect((await req('GET', '/kv/new')).status).toBe(404);
  });

  it('If-None-Match: * creates only an absent key', async () => {
    expect((await req('PUT', '/kv/a', 'first', { 'If-None-Match': '*' })).status).toBe(200);
    const again = await req('PUT', '/kv/a', 'second', { 'If-None-Match': '*' });
    expectJsonError(again, 412);
    expect(again.json()).toMatchObject({ revision: 1 });
    expect((await req('GET', '/kv/a')).text).toBe('first');
  });

  it('logs version 1 commands for plain writes and ?prev, a txn for revision conditions', async () => {
    const ops = loggedOps();
    await req('PUT', '/kv/a', '1');
    await req('PUT', '/kv/a?prev=1', '2');
    await req('PUT', '/kv/a', '3', { 'If-Match': '"2"' });
    await req('DELETE', '/kv/a?prev=3');
    await req('DELETE', '/kv/a');
    expect(ops).toEqual(['put', 'cas', 'txn', 'txn', 'delete']);
  });
});

describe('compare-and-delete and the compare-and-set body form', () => {
  it('DELETE ?prev= deletes only the expected value and 412 reports the current one', async () => {
    await req('PUT', '/kv/a', 'mine');
    const refused = await req('DELETE', '/kv/a?prev=yours');
    expectJsonError(refused, 412);
    expect(refused.json()).toMatchObject({ current: b64('mine'), revision: 1 });
    expect((await req('DELETE', '/kv/a?prev=mine')).status).toBe(200);
    expect((await req('GET', '/kv/a')).status).toBe(404);
  });

  it('POST ?cas swaps values of any bytes, creates with prev null, deletes with value null', async () => {
    const binary = Buffer.from([0, 1, 0xff, 0x25, 0x26]);
    const create = await req(
      'POST',
      '/kv/a?cas',
      JSON.stringify({ prev: null, value: binary.toString('base64') }),
    );
    expect(create.json()).toEqual({ index: 1, revision: 1 });
    expect((await req('GET', '/kv/a')).body.equals(binary)).toBe(true);
    const wrong = await req('POST', '/kv/a?cas', JSON.stringify({ prev: b64('x'), value: b64('y') }));
    expectJsonError(wrong, 412);
    expect(wrong.json()).toMatchObject({ current: binary.toString('base64') });
    const swap = await req(
      'POST',
      '/kv/a?cas',
      JSON.stringify({ prev: binary.toString('base64'), value: b64('z') }),
    );
    expect(swap.status).toBe(200);
    const del = await req('POST', '/kv/a?cas', JSON.stringify({ prev: b64('z'), value: null }));
    expect(del.status).toBe(200);
    expect((await req('GET', '/kv/a')).status).toBe(404);
    const absent = await req('POST', '/kv/a?cas', JSON.stringify({ prev: b64('z'), value: null }));
    expect(absent.json()).toMatchObject({ current: null, revision: 0 });
  });
});

describe('?lease=', () => {
  it('attaches the key to an existing lease; 404 and nothing written for a missing one', async () => {
    const lease = (await req('POST', '/leases', '{"ttl":30}')).json() as { id: string };
    expect((await req('PUT', `/kv/session?lease=${lease.id}`, 'x')).status).toBe(200);
    expect(api.cluster.fsm.entry('session')?.lease).toBe(Number(lease.id));
    const missing = await req('PUT', '/kv/other?lease=999', 'x');
    expectJsonError(missing, 404);
    expect(missing.json()).toMatchObject({ error: 'lease not found', lease: '999' });
    expect((await req('GET', '/kv/other')).status).toBe(404);
    await req('DELETE', `/leases/${lease.id}`);
    expect((await req('GET', '/kv/session')).status).toBe(404);
  });
});

describe('hostile conditions are refused with 400 and nothing applied', () => {
  const cases: [string, string, string, Record<string, string>, string?][] = [
    ['a weak ETag', 'PUT', '/kv/a', { 'If-Match': 'W/"1"' }],
    ['an unquoted ETag', 'PUT', '/kv/a', { 'If-Match': '1' }],
    ['an ETag list', 'PUT', '/kv/a', { 'If-Match': '"1", "2"' }],
    ['a negative revision', 'PUT', '/kv/a', { 'If-Match': '"-1"' }],
    ['a revision past 2^53', 'PUT', '/kv/a', { 'If-Match': '"9007199254740993"' }],
    ['If-None-Match with a tag', 'PUT', '/kv/a', { 'If-None-Match': '"1"' }],
    ['a lease ID of 0', 'PUT', '/kv/a?lease=0', {}],
    ['a negative lease ID', 'PUT', '/kv/a?lease=-4', {}],
    ['a lease ID with letters', 'PUT', '/kv/a?lease=12abc', {}],
    ['a lease ID past 2^53', 'PUT', '/kv/a?lease=99999999999999999', {}],
    ['an empty lease ID', 'PUT', '/kv/a?lease=', {}],
    ['POST without ?cas', 'POST', '/kv/a', {}, '{"prev":null,"value":"eA=="}'],
    ['a ?cas body that is not JSON', 'POST', '/kv/a?cas', {}, '{"prev":'],
    ['a ?cas body without prev', 'POST', '/kv/a?cas', {}, '{"value":"eA=="}'],
    ['a ?cas body with bad base64', 'POST', '/kv/a?cas', {}, '{"prev":null,"value":"e A"}'],
    ['a ?cas body that is an array', 'POST', '/kv/a?cas', {}, '[1]'],
    ['a ?cas on a reserved key', 'POST', '/kv/_raftkit/x?cas', {}, '{"prev":null,"value":"eA=="}'],
  ];
  for (const [name, method, path, headers, body] of cases) {
    it(name, async () => {
      api.cluster.seed('a', 'keep');
      const res = await req(method, path, body ?? 'value', headers);
      expectJsonError(res, 400);
      expect(api.cluster.applyCalls).toBe(0);
      expect(Buffer.from(api.cluster.fsm.get('a')!).toString()).toBe('keep');
    });
  }
});
