/** The key routes (src/kv/http/kv-routes.ts): reads, writes, compare-and-set, redirects, Raft errors, refusals. */
import { describe, expect, it, beforeEach } from 'vitest';
import {
  ErrApplyTimeout,
  ErrEnqueueTimeout,
  ErrLeadershipLost,
  ErrLeadershipTransferInProgress,
  ErrNotLeader,
  ErrRaftShutdown,
} from '../../../src/core/errors.js';
import { httpAddressKey } from '../../../src/kv/commands.js';
import type { WriteBody } from '../../../src/kv/contract.js';
import { writeAnswer } from '../../../src/kv/http/kv-routes.js';
import { rawRequest } from '../../support/raw-request.js';
import { expectJsonError, useKvApi } from './api-harness.js';

const LEADER_HTTP = 'http://127.0.0.1:8999';
const api = useKvApi();
const req = api.req;

describe('KV routes on the leader', () => {
  it('PUT stores the raw body and answers the index as JSON; GET returns the raw value', async () => {
    const put = await req('PUT', '/kv/greeting', 'hello world');
    expect(put.status).toBe(200);
    expect(put.headers['content-type']).toBe('application/json');
    expect(put.json()).toEqual({ index: 1, revision: 1 });
    expect(put.text).toBe('{"index":1,"revision":1}');
    expect(put.headers['content-length']).toBe('24');
    const get = await req('GET', '/kv/greeting');
    expect(get.status).toBe(200);
    expect(get.text).toBe('hello world');
    expect(get.headers.etag).toBe('"1"');
    expect(api.cluster.readCalls).toBe(1);
  });

  it('keeps binary values byte for byte', async () => {
    const value = Buffer.from([0, 1, 2, 0xff, 0xfe, 10]);
    await req('PUT', '/kv/bin', value);
    expect((await req('GET', '/kv/bin')).body.equals(value)).toBe(true);
  });

  it('GET of an absent key is 404 with a JSON error', async () => {
    expectJsonError(await req('GET', '/kv/missing'), 404);
  });

  it('DELETE removes the key and answers the index', async () => {
    await req('PUT', '/kv/a', '1');
    const del = await req('DELETE', '/kv/a');
    expect(del.status).toBe(200);
    expect(del.json()).toEqual({ index: 2, revision: 2 });
    expect((await req('GET', '/kv/a')).status).toBe(404);
  });

  it('URL-decodes keys, slashes and all', async () => {
    await req('PUT', '/kv/dir%2Fsub%20file%C3%BC', 'v');
    expect(Buffer.from(api.cluster.fsm.get('dir/sub fileü')!).toString()).toBe('v');
    expect((await req('GET', '/kv/dir/sub%20file%C3%BC')).text).toBe('v');
  });

  it('accepts a key of exactly 1024 bytes', async () => {
    expect((await req('PUT', `/kv/${'k'.repeat(1024)}`, 'v')).status).toBe(200);
  });

  it('GET ?stale reads local state without a read barrier', async () => {
    await req('PUT', '/kv/a', '1');
    expect((await req('GET', '/kv/a?stale')).text).toBe('1');
    expect(api.cluster.readCalls).toBe(0);
  });

  it('reserved keys may be read but not written', async () => {
    api.cluster.seed(httpAddressKey('n1'), 'http://127.0.0.1:8001');
    expect((await req('GET', '/kv/_raftkit/http/n1')).text).toBe('http://127.0.0.1:8001');
  });
});

describe('compare-and-set', () => {
  it('swaps when prev matches', async () => {
    await req('PUT', '/kv/a', 'old');
    const res = await req('PUT', '/kv/a?prev=old', 'new');
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ index: 2, revision: 2 });
    expect((await req('GET', '/kv/a')).text).toBe('new');
  });

  it('answers 412 and keeps the value when prev differs', async () => {
    await req('PUT', '/kv/a', 'old');
    const res = await req('PUT', '/kv/a?prev=wrong', 'new');
    expectJsonError(res, 412);
    expect(res.json()).toMatchObject({ current: Buffer.from('old').toString('base64') });
    expect((await req('GET', '/kv/a')).text).toBe('old');
  });

  it('empty prev means the key must be absent', async () => {
    expect((await req('PUT', '/kv/a?prev=', 'first')).status).toBe(200);
    expect((await req('PUT', '/kv/a?prev=', 'second')).status).toBe(412);
    expect((await req('GET', '/kv/a')).text).toBe('first');
  });

  it('prev is compared with the raw bytes of the value, not with their base64', async () => {
    await req('PUT', '/kv/a', 'abc');
    const base64 = Buffer.from('abc').toString('base64');
    expectJsonError(await req('PUT', `/kv/a?prev=${base64}`, 'new'), 412);
    expect((await req('PUT', '/kv/a?prev=abc', 'new')).status).toBe(200);
    expect((await req('GET', '/kv/a')).text).toBe('new');
  });

  it('DELETE with ?prev= that does not match deletes nothing (compare-and-delete: kv-conditional.test.ts)', async () => {
    await req('PUT', '/kv/a', 'keep me');
    for (const path of ['/kv/a?prev=other', '/kv/a?prev=']) {
      expectJsonError(await req('DELETE', path), 412);
    }
    expect((await req('GET', '/kv/a')).text).toBe('keep me');
  });

  it('prev is percent-decoded to raw bytes, + as space', async () => {
    api.cluster.seed('bin', Buffer.from([0x00, 0xff, 0x20, 0x61]));
    expect((await req('PUT', '/kv/bin?prev=%00%FF+a', 'x')).status).toBe(200);
    expect((await req('GET', '/kv/bin')).text).toBe('x');
  });
});

describe('on a follower', () => {
  beforeEach(() => {
    api.cluster.follow('n2');
    api.cluster.seed(httpAddressKey('n2'), LEADER_HTTP);
  });

  const leaderOnly: [string, string, string?][] = [
    ['PUT', '/kv/a?prev=x', 'v'],
    ['GET', '/kv/a'],
    ['DELETE', '/kv/a'],
    ['POST', '/cluster/join', '{"id":"n4","address":"127.0.0.1:7004","http":"127.0.0.1:8004"}'],
    ['DELETE', '/cluster/n3'],
    ['POST', '/cluster/transfer', '{}'],
  ];
  for (const [method, path, body] of leaderOnly) {
    it(`${method} ${path} redirects 307 to the leader's HTTP address and applies nothing`, async () => {
      const res = await api.json(method, path, body);
      expect(res.status).toBe(307);
      expect(res.headers.location).toBe(LEADER_HTTP + path);
      expect(api.cluster.applyCalls).toBe(0);
      expect(api.cluster.calls).toEqual([]);
    });
  }

  it('answers ?stale reads from local state', async () => {
    api.cluster.seed('a', 'local');
    const res = await req('GET', '/kv/a?stale');
    expect(res.status).toBe(200);
    expect(res.text).toBe('local');
  });

  it('answers 503 with a JSON error while no leader is known', async () => {
    api.cluster.follow(null);
    expectJsonError(await req('PUT', '/kv/a', 'v'), 503);
    expectJsonError(await req('GET', '/kv/a'), 503);
    expect(api.cluster.applyCalls).toBe(0);
  });

  it('answers 503 while the leader has not published its HTTP address', async () => {
    api.cluster.follow('n3');
    expectJsonError(await req('DELETE', '/kv/a'), 503);
  });

  it('redirects when leadership is lost between the check and the apply', async () => {
    api.cluster.state = 'Leader';
    const apply = api.cluster.apply.bind(api.cluster);
    api.cluster.apply = async (data) => {
      api.cluster.follow('n2');
      return apply(data);
    };
    const res = await req('PUT', '/kv/a', 'v');
    expect(res.status).toBe(307);
    expect(res.headers.location).toBe(`${LEADER_HTTP}/kv/a`);
  });
});

describe('Raft errors', () => {
  const unknownOutcome = [ErrApplyTimeout, ErrEnqueueTimeout, ErrLeadershipLost];
  for (const ErrorClass of unknownOutcome) {
    it(`${ErrorClass.name} on a write answers 504`, async () => {
      api.cluster.nextApplyError = new ErrorClass();
      expectJsonError(await req('PUT', '/kv/a', 'v'), 504);
    });
  }

  it('a read barrier timeout answers 504', async () => {
    api.cluster.nextReadError = new ErrApplyTimeout();
    expectJsonError(await req('GET', '/kv/a'), 504);
  });

  it('a leadership transfer in progress answers 503 (nothing was appended)', async () => {
    api.cluster.nextApplyError = new ErrLeadershipTransferInProgress();
    expectJsonError(await req('DELETE', '/kv/a'), 503);
  });

  it('a shutdown that fails a pending write answers 504 (the write may still commit elsewhere)', async () => {
    api.cluster.nextApplyError = new ErrRaftShutdown();
    expectJsonError(await req('PUT', '/kv/a', 'v'), 504);
  });

  it('ErrNotLeader with no leader known answers 503', async () => {
    api.cluster.nextApplyError = new ErrNotLeader();
    api.cluster.leader = null;
    expectJsonError(await req('PUT', '/kv/a', 'v'), 503);
  });

  it('any other error answers 500 with its message', async () => {
    api.cluster.nextApplyError = new Error('disk on fire');
    const res = await req('PUT', '/kv/a', 'v');
    expectJsonError(res, 500);
    expect(res.json()).toEqual({ error: 'disk on fire' });
  });
});

describe('bad requests change nothing', () => {
  const bad: [string, string, string, number][] = [
    ['an empty key', 'PUT', '/kv/', 400],
    ['a key over 1024 bytes', 'PUT', `/kv/${'k'.repeat(1025)}`, 400],
    ['a multi-byte key over 1024 bytes', 'PUT', `/kv/${'%C3%BC'.repeat(513)}`, 400],
    ['a control character in the key', 'PUT', '/kv/a%01b', 400],
    ['a newline in the key', 'DELETE', '/kv/a%0Ab', 400],
    ['a reserved key', 'PUT', '/kv/_raftkit/http/n1', 400],
    ['a reserved key delete', 'DELETE', '/kv/_raftkit/http/n1', 400],
    ['malformed percent-encoding in the key', 'PUT', '/kv/a%E0%A4', 400],
    ['a truncated escape in the key', 'GET', '/kv/a%4', 400],
    ['malformed percent-encoding in prev', 'PUT', '/kv/a?prev=%zz', 400],
    ['an unknown route', 'GET', '/nope', 404],
    ['a PUT on the bare /kv path (ranges are read-only)', 'PUT', '/kv', 405],
    ['a POST on a key without ?cas', 'POST', '/kv/a', 400],
    ['a PUT on /status', 'PUT', '/status', 405],
    ['a GET on /cluster/join', 'GET', '/cluster/join', 405],
    ['a GET on /cluster/n2', 'GET', '/cluster/n2', 405],
    ['a debug route that is off', 'POST', '/debug/isolate', 404],
  ];
  for (const [name, method, path, status] of bad) {
    it(`${name} answers ${status}`, async () => {
      api.cluster.seed('a', 'keep');
      const res = await req(method, path, 'value');
      expectJsonError(res, status);
      expect(api.cluster.applyCalls).toBe(0);
      expect(Buffer.from(api.cluster.fsm.get('a')!).toString()).toBe('keep');
    });
  }

  it('405 names the allowed methods', async () => {
    expect((await req('PATCH', '/kv/a')).headers.allow).toBe('GET, PUT, DELETE, POST');
  });

  it('a body over the limit answers 413 when declared up front', async () => {
    await api.restart({ maxBodyBytes: 1000 });
    expectJsonError(await req('PUT', '/kv/a', Buffer.alloc(1001)), 413);
    expect(api.cluster.applyCalls).toBe(0);
    expect((await req('PUT', '/kv/a', Buffer.alloc(1000))).status).toBe(200);
  });

  it('a streamed (chunked) body over the limit answers 413', async () => {
    await api.restart({ maxBodyBytes: 64 * 1024 });
    const chunks = Array.from({ length: 40 }, () => Buffer.alloc(16 * 1024, 1));
    expectJsonError(await rawRequest(api.base, 'PUT', '/kv/a', { chunks }), 413);
    expect(api.cluster.applyCalls).toBe(0);
  });

  it('a 2 MiB body is refused by the default 1 MiB limit', async () => {
    expectJsonError(await req('PUT', '/kv/a', Buffer.alloc(2 * 1024 * 1024)), 413);
    expect(api.cluster.applyCalls).toBe(0);
  });
});

describe('a removed server', () => {
  it('answers the data routes 410 and serves them again once a configuration names it', async () => {
    api.cluster.removed = true;
    for (const [method, path] of [
      ['PUT', '/kv/a'],
      ['GET', '/kv/a'],
      ['GET', '/kv?prefix=a'],
      ['POST', '/txn'],
    ]) {
      const res = await api.json(method, path, method === 'GET' ? undefined : '{}');
      expectJsonError(res, 410);
      expect((res.json() as { error: string }).error).toMatch(/removed from the cluster/);
    }
    expect((await req('GET', '/status')).status).toBe(200);
    expect(api.cluster.applyCalls).toBe(0);
    api.cluster.removed = false;
    expect((await req('PUT', '/kv/a', 'v')).status).toBe(200);
  });
});

describe('the checks of a request', () => {
  it('never build the whole cluster status (status routes only): a write asks three cheap questions', async () => {
    let statusCalls = 0;
    const status = api.cluster.status.bind(api.cluster);
    api.cluster.status = () => {
      statusCalls++;
      return status();
    };
    expect((await req('PUT', '/kv/a', 'v')).status).toBe(200);
    expect((await req('GET', '/kv/a')).status).toBe(200);
    expect((await req('DELETE', '/kv/a')).status).toBe(200);
    api.cluster.follow('n2');
    expect((await req('PUT', '/kv/a', 'v')).status).toBe(503);
    expect(statusCalls).toBe(0);
  });
});

describe('writeAnswer', () => {
  it('is the JSON of a WriteBody, byte for byte, for any log index', () => {
    for (const index of [0, 1, 9, 10, 123_456_789, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      expect(writeAnswer(index)).toBe(JSON.stringify({ index, revision: index } satisfies WriteBody));
    }
  });
});
