/** `GET /kv?prefix=` (src/kv/http/range-routes.ts): order, paging, reserved keys, stale reads, bounds. */
import { describe, expect, it } from 'vitest';
import { httpAddressKey } from '../../../src/kv/commands.js';
import type { RangeBody } from '../../../src/kv/contract.js';
import { expectJsonError, useKvApi } from './api-harness.js';

const api = useKvApi();
const req = api.req;
const range = async (query: string) => {
  const res = await req('GET', `/kv?${query}`);
  expect(res.status).toBe(200);
  return res.json() as RangeBody;
};
const keys = (body: RangeBody) => body.items.map((item) => item.key);

describe('GET /kv?prefix=', () => {
  it('answers the keys under the prefix in UTF-8 byte order, with values, revisions and the store revision', async () => {
    for (const key of ['app/\u{1f600}', 'app/\ue000', 'app/b', 'app/a', 'apple', 'other'])
      await req('PUT', `/kv/${encodeURIComponent(key)}`, key);
    const body = await range('prefix=app/');
    expect(keys(body)).toEqual(['app/a', 'app/b', 'app/\ue000', 'app/\u{1f600}']);
    expect(body.items[0]).toEqual({
      key: 'app/a',
      value: Buffer.from('app/a').toString('base64'),
      revision: 4,
    });
    expect(body.revision).toBe(6);
    expect(body.more).toBe(false);
    expect(api.cluster.readCalls).toBe(1);
  });

  it('pages with limit and after until more is false', async () => {
    for (let i = 0; i < 25; i++) await req('PUT', `/kv/k${String(i).padStart(2, '0')}`, String(i));
    const seen: string[] = [];
    let after: string | undefined;
    for (let page = 0; ; page++) {
      const body = await range(`prefix=k&limit=10${after === undefined ? '' : `&after=${after}`}`);
      seen.push(...keys(body));
      if (!body.more) {
        expect(page).toBe(2);
        break;
      }
      after = keys(body).at(-1);
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `k${String(i).padStart(2, '0')}`));
  });

  it('hides reserved keys unless the prefix is reserved', async () => {
    api.cluster.seed(httpAddressKey('n1'), 'http://127.0.0.1:8001');
    for (const key of ['_a', '_raftkit0', 'z']) await req('PUT', `/kv/${key}`, 'v');
    expect(keys(await range(''))).toEqual(['_a', '_raftkit0', 'z']);
    expect(keys(await range('prefix=_'))).toEqual(['_a', '_raftkit0']);
    expect(keys(await range('prefix=_raftkit/'))).toEqual(['_raftkit/http/n1']);
  });

  it('with ?stale reads local state on a follower; without it a follower redirects', async () => {
    await req('PUT', '/kv/a', '1');
    api.cluster.seed(httpAddressKey('n2'), 'http://127.0.0.1:8999');
    api.cluster.follow('n2');
    expect(keys(await range('prefix=a&stale'))).toEqual(['a']);
    const redirect = await req('GET', '/kv?prefix=a');
    expect(redirect.status).toBe(307);
    expect(redirect.headers.location).toBe('http://127.0.0.1:8999/kv?prefix=a');
    expect(api.cluster.readCalls).toBe(0);
  });

  it('stops a page at maxRangeBytes of values (always at least one item)', async () => {
    await api.restart({ maxRangeBytes: 2500 });
    for (let i = 0; i < 5; i++) await req('PUT', `/kv/big${i}`, Buffer.alloc(1000, 1));
    const first = await range('prefix=big');
    expect(keys(first)).toEqual(['big0', 'big1', 'big2']);
    expect(first.more).toBe(true);
    await api.restart({ maxRangeBytes: 10 });
    await req('PUT', '/kv/huge', Buffer.alloc(1000, 1));
    expect(keys(await range('prefix=huge'))).toEqual(['huge']);
  });

  const hostile: [string, string][] = [
    ['a limit of 0', 'limit=0'],
    ['a limit over 10,000', 'limit=10001'],
    ['a negative limit', 'limit=-1'],
    ['a fractional limit', 'limit=1.5'],
    ['a limit with junk', 'limit=10abc'],
    ['an empty after', 'after='],
    ['a control character in the prefix', 'prefix=%00'],
    ['a prefix over 1024 bytes', `prefix=${'p'.repeat(1025)}`],
    ['an after over 1024 bytes', `after=${'p'.repeat(1025)}`],
    ['invalid UTF-8 in after', 'after=%FF'],
  ];
  for (const [name, query] of hostile) {
    it(`refuses ${name} with 400`, async () => {
      expectJsonError(await req('GET', `/kv?${query}`), 400);
      expect(api.cluster.readCalls).toBe(0);
    });
  }
});
