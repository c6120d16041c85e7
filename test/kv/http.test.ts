import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ErrApplyTimeout,
  ErrEnqueueTimeout,
  ErrLeadershipLost,
  ErrLeadershipTransferInProgress,
  ErrNotLeader,
} from '../../src/core/errors.js';
import { encodeCommand, httpAddressKey } from '../../src/kv/commands.js';
import { announceHttpAddress, KvHttpServer } from '../../src/kv/http.js';
import { LogType } from '../../src/core/types.js';
import { FakeSingleNodeCluster } from './fake-cluster.js';
import { rawRequest, type RawResponse } from './http-helpers.js';

const LEADER_HTTP = 'http://127.0.0.1:8999';
let cluster: FakeSingleNodeCluster;
let server: KvHttpServer;
let base: string;

async function start(options: { maxBodyBytes?: number; debugRoutes?: boolean } = {}) {
  cluster = new FakeSingleNodeCluster();
  server = new KvHttpServer({ cluster, fsm: cluster.fsm, ...options });
  base = await server.listen(0);
}

/** Writes directly through the FSM, as if replicated from a leader. */
function seed(key: string, value: string | Buffer) {
  cluster.fsm.apply({
    index: 0,
    term: 1,
    type: LogType.Command,
    data: encodeCommand({ op: 'put', key, value: Buffer.from(value) }),
    extensions: new Uint8Array(),
    appendedAt: 0,
  });
}

const req = (method: string, path: string, body?: string | Buffer, headers?: Record<string, string>) =>
  rawRequest(base, method, path, { body, headers });

function expectJsonError(res: RawResponse, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toBe('application/json');
  expect(typeof (res.json() as { error: unknown }).error).toBe('string');
}

beforeEach(() => start());
afterEach(() => server.close());

describe('KV routes on the leader', () => {
  it('PUT stores the raw body and answers the index as JSON; GET returns the raw value', async () => {
    const put = await req('PUT', '/kv/greeting', 'hello world');
    expect(put.status).toBe(200);
    expect(put.headers['content-type']).toBe('application/json');
    expect(put.json()).toEqual({ index: 1 });
    const get = await req('GET', '/kv/greeting');
    expect(get.status).toBe(200);
    expect(get.text).toBe('hello world');
    expect(cluster.readCalls).toBe(1);
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
    expect(del.json()).toEqual({ index: 2 });
    expect((await req('GET', '/kv/a')).status).toBe(404);
  });

  it('URL-decodes keys, slashes and all', async () => {
    await req('PUT', '/kv/dir%2Fsub%20file%C3%BC', 'v');
    expect(Buffer.from(cluster.fsm.get('dir/sub fileü')!).toString()).toBe('v');
    expect((await req('GET', '/kv/dir/sub%20file%C3%BC')).text).toBe('v');
  });

  it('accepts a key of exactly 1024 bytes', async () => {
    expect((await req('PUT', `/kv/${'k'.repeat(1024)}`, 'v')).status).toBe(200);
  });

  it('GET ?stale reads local state without a read barrier', async () => {
    await req('PUT', '/kv/a', '1');
    expect((await req('GET', '/kv/a?stale')).text).toBe('1');
    expect(cluster.readCalls).toBe(0);
  });

  it('reserved keys may be read but not written', async () => {
    seed(httpAddressKey('n1'), 'http://127.0.0.1:8001');
    expect((await req('GET', '/kv/_raftkit/http/n1')).text).toBe('http://127.0.0.1:8001');
  });
});

describe('compare-and-set', () => {
  it('swaps when prev matches', async () => {
    await req('PUT', '/kv/a', 'old');
    const res = await req('PUT', '/kv/a?prev=old', 'new');
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ index: 2 });
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

  it('prev is percent-decoded to raw bytes, + as space', async () => {
    seed('bin', Buffer.from([0x00, 0xff, 0x20, 0x61]));
    expect((await req('PUT', '/kv/bin?prev=%00%FF+a', 'x')).status).toBe(200);
    expect((await req('GET', '/kv/bin')).text).toBe('x');
  });
});

describe('on a follower', () => {
  beforeEach(() => {
    cluster.follow('n2');
    seed(httpAddressKey('n2'), LEADER_HTTP);
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
      const res = await req(method, path, body);
      expect(res.status).toBe(307);
      expect(res.headers.location).toBe(LEADER_HTTP + path);
      expect(cluster.applyCalls).toBe(0);
      expect(cluster.calls).toEqual([]);
    });
  }

  it('answers ?stale reads from local state', async () => {
    seed('a', 'local');
    const res = await req('GET', '/kv/a?stale');
    expect(res.status).toBe(200);
    expect(res.text).toBe('local');
  });

  it('answers 503 with a JSON error while no leader is known', async () => {
    cluster.follow(null);
    expectJsonError(await req('PUT', '/kv/a', 'v'), 503);
    expectJsonError(await req('GET', '/kv/a'), 503);
    expect(cluster.applyCalls).toBe(0);
  });

  it('answers 503 while the leader has not published its HTTP address', async () => {
    cluster.follow('n3');
    expectJsonError(await req('DELETE', '/kv/a'), 503);
  });

  it('redirects when leadership is lost between the check and the apply', async () => {
    cluster.state = 'Leader';
    const apply = cluster.apply.bind(cluster);
    cluster.apply = async (data) => {
      cluster.follow('n2');
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
      cluster.nextApplyError = new ErrorClass();
      expectJsonError(await req('PUT', '/kv/a', 'v'), 504);
    });
  }

  it('a read barrier timeout answers 504', async () => {
    cluster.nextReadError = new ErrApplyTimeout();
    expectJsonError(await req('GET', '/kv/a'), 504);
  });

  it('a leadership transfer in progress answers 503 (nothing was appended)', async () => {
    cluster.nextApplyError = new ErrLeadershipTransferInProgress();
    expectJsonError(await req('DELETE', '/kv/a'), 503);
  });

  it('ErrNotLeader with no leader known answers 503', async () => {
    cluster.nextApplyError = new ErrNotLeader();
    cluster.leader = null;
    expectJsonError(await req('PUT', '/kv/a', 'v'), 503);
  });

  it('any other error answers 500 with its message', async () => {
    cluster.nextApplyError = new Error('disk on fire');
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
    ['the bare /kv path', 'GET', '/kv', 404],
    ['a POST on a key', 'POST', '/kv/a', 405],
    ['a PUT on /status', 'PUT', '/status', 405],
    ['a GET on /cluster/join', 'GET', '/cluster/join', 405],
    ['a GET on /cluster/n2', 'GET', '/cluster/n2', 405],
    ['a debug route that is off', 'POST', '/debug/isolate', 404],
  ];
  for (const [name, method, path, status] of bad) {
    it(`${name} answers ${status}`, async () => {
      seed('a', 'keep');
      const res = await req(method, path, 'value');
      expectJsonError(res, status);
      expect(cluster.applyCalls).toBe(0);
      expect(Buffer.from(cluster.fsm.get('a')!).toString()).toBe('keep');
    });
  }

  it('405 names the allowed methods', async () => {
    expect((await req('PATCH', '/kv/a')).headers.allow).toBe('GET, PUT, DELETE');
  });

  it('a body over the limit answers 413 when declared up front', async () => {
    await server.close();
    await start({ maxBodyBytes: 1000 });
    expectJsonError(await req('PUT', '/kv/a', Buffer.alloc(1001)), 413);
    expect(cluster.applyCalls).toBe(0);
    expect((await req('PUT', '/kv/a', Buffer.alloc(1000))).status).toBe(200);
  });

  it('a streamed (chunked) body over the limit answers 413', async () => {
    await server.close();
    await start({ maxBodyBytes: 64 * 1024 });
    const chunks = Array.from({ length: 40 }, () => Buffer.alloc(16 * 1024, 1));
    expectJsonError(await rawRequest(base, 'PUT', '/kv/a', { chunks }), 413);
    expect(cluster.applyCalls).toBe(0);
  });

  it('a 2 MiB body is refused by the default 1 MiB limit', async () => {
    expectJsonError(await req('PUT', '/kv/a', Buffer.alloc(2 * 1024 * 1024)), 413);
    expect(cluster.applyCalls).toBe(0);
  });
});

describe('GET /status', () => {
  it('answers exactly the contract, with the leader HTTP address from the reserved keys', async () => {
    seed(httpAddressKey('n1'), 'http://127.0.0.1:8001');
    await req('PUT', '/kv/a', '1');
    const res = await req('GET', '/status');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.json()).toEqual({
      id: 'n1',
      state: 'Leader',
      term: 1,
      leader: { id: 'n1', address: '127.0.0.1:7001', http: 'http://127.0.0.1:8001' },
      lastIndex: 1,
      commitIndex: 1,
      appliedIndex: 1,
      lastSnapshotIndex: 0,
      configuration: [{ id: 'n1', address: '127.0.0.1:7001', suffrage: 'Voter' }],
    });
  });

  it('gives empty leader fields while there is no leader', async () => {
    cluster.follow(null);
    expect((await req('GET', '/status')).json()).toMatchObject({
      state: 'Follower',
      leader: { id: '', address: '', http: '' },
    });
  });
});

describe('cluster routes', () => {
  it('join stores the HTTP address, then adds a voter', async () => {
    const res = await req(
      'POST',
      '/cluster/join',
      '{"id":"n4","address":"127.0.0.1:7004","http":"127.0.0.1:8004"}',
    );
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(cluster.fsm.httpAddress('n4')).toBe('http://127.0.0.1:8004');
    expect(cluster.calls).toEqual(['addVoter n4 127.0.0.1:7004']);
  });

  it('join with voter:false adds a nonvoter', async () => {
    const body = '{"id":"n5","address":"127.0.0.1:7005","http":"http://127.0.0.1:8005","voter":false}';
    expect((await req('POST', '/cluster/join', body)).status).toBe(200);
    expect(cluster.calls).toEqual(['addNonvoter n5 127.0.0.1:7005']);
  });

  const badJoins = [
    'not json',
    '[]',
    '{"address":"127.0.0.1:7004","http":"127.0.0.1:8004"}',
    '{"id":"","address":"127.0.0.1:7004","http":"127.0.0.1:8004"}',
    '{"id":"n 4","address":"127.0.0.1:7004","http":"127.0.0.1:8004"}',
    '{"id":"n4","address":"127.0.0.1","http":"127.0.0.1:8004"}',
    '{"id":"n4","address":"127.0.0.1:99999","http":"127.0.0.1:8004"}',
    '{"id":"n4","address":"127.0.0.1:7004"}',
    '{"id":"n4","address":"127.0.0.1:7004","http":"ftp://x:1"}',
    '{"id":"n4","address":"127.0.0.1:7004","http":"http://x:1/path"}',
    '{"id":"n4","address":"127.0.0.1:7004","http":"127.0.0.1:8004","voter":"yes"}',
  ];
  for (const body of badJoins) {
    it(`join refuses ${body} with 400`, async () => {
      expectJsonError(await req('POST', '/cluster/join', body), 400);
      expect(cluster.applyCalls).toBe(0);
      expect(cluster.calls).toEqual([]);
    });
  }

  it('DELETE /cluster/{id} removes the server and forgets its HTTP address', async () => {
    seed(httpAddressKey('n3'), 'http://127.0.0.1:8003');
    const res = await req('DELETE', '/cluster/n3');
    expect(res.status).toBe(200);
    expect(cluster.calls).toEqual(['removeServer n3']);
    expect(cluster.fsm.httpAddress('n3')).toBeUndefined();
  });

  it('DELETE /cluster/ with a bad ID answers 400', async () => {
    expectJsonError(await req('DELETE', '/cluster/'), 400);
    expectJsonError(await req('DELETE', '/cluster/a%20b'), 400);
    expect(cluster.calls).toEqual([]);
  });

  it('transfer goes to the named server, or to any with an empty body or {}', async () => {
    expect((await req('POST', '/cluster/transfer', '{"id":"n2"}')).status).toBe(200);
    expect((await req('POST', '/cluster/transfer', '{}')).status).toBe(200);
    expect((await req('POST', '/cluster/transfer')).status).toBe(200);
    expect(cluster.calls).toEqual(['leadershipTransfer n2', 'leadershipTransfer *', 'leadershipTransfer *']);
  });

  it('transfer refuses bad JSON and a bad id', async () => {
    expectJsonError(await req('POST', '/cluster/transfer', '{'), 400);
    expectJsonError(await req('POST', '/cluster/transfer', '{"id":5}'), 400);
    expect(cluster.calls).toEqual([]);
  });
});

describe('debug routes', () => {
  beforeEach(async () => {
    await server.close();
    await start({ debugRoutes: true });
  });

  it('isolate and heal reach the cluster', async () => {
    expect((await req('POST', '/debug/isolate', '{"peers":["n2","n3"]}')).status).toBe(200);
    expect(cluster.isolated).toEqual(['n2', 'n3']);
    expect((await req('POST', '/debug/isolate', '{"heal":true}')).status).toBe(200);
    expect(cluster.isolated).toBeNull();
  });

  it('refuses a malformed body', async () => {
    expectJsonError(await req('POST', '/debug/isolate', '{"peers":[1]}'), 400);
    expectJsonError(await req('POST', '/debug/isolate', '{}'), 400);
    expect(cluster.isolated).toBeNull();
  });

  it('answers 501 when the node cannot isolate', async () => {
    (cluster as { isolate?: unknown }).isolate = undefined;
    expectJsonError(await req('POST', '/debug/isolate', '{"heal":true}'), 501);
  });
});

describe('GET /metrics', () => {
  it('exposes raft gauges, request counters and the apply histogram', async () => {
    await req('PUT', '/kv/a', '1');
    await req('GET', '/kv/missing');
    cluster.term = 7;
    const res = await req('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toMatch(/^raft_term 7$/m);
    expect(res.text).toMatch(/^raft_commit_index 1$/m);
    expect(res.text).toMatch(/^raft_applied_index 1$/m);
    expect(res.text).toMatch(/^raft_last_index 1$/m);
    expect(res.text).toMatch(/^raft_is_leader 1$/m);
    expect(res.text).toMatch(/^kv_http_requests_total\{method="PUT",route="kv",code="200"\} 1$/m);
    expect(res.text).toMatch(/^kv_http_requests_total\{method="GET",route="kv",code="404"\} 1$/m);
    expect(res.text).toMatch(/^kv_apply_duration_seconds_count\{op="put"\} 1$/m);
  });

  it('keeps a registry per server', async () => {
    const other = new KvHttpServer({ cluster, fsm: cluster.fsm });
    expect(other.metrics.registry).not.toBe(server.metrics.registry);
  });
});

describe('announceHttpAddress', () => {
  it('writes the address once while leading, and never as a follower', async () => {
    expect(await announceHttpAddress(cluster, cluster.fsm, 'http://127.0.0.1:8001')).toBe(true);
    expect(cluster.fsm.httpAddress('n1')).toBe('http://127.0.0.1:8001');
    expect(await announceHttpAddress(cluster, cluster.fsm, 'http://127.0.0.1:8001')).toBe(false);
    cluster.follow('n2');
    expect(await announceHttpAddress(cluster, cluster.fsm, 'http://127.0.0.1:9001')).toBe(false);
    expect(cluster.applyCalls).toBe(1);
  });
});
