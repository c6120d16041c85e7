/** GET /status, GET /metrics, GET /healthz and GET /readyz (src/kv/http/status-routes.ts). */
import { describe, expect, it } from 'vitest';
import { httpAddressKey } from '../../../src/kv/commands.js';
import { KvHttpServer } from '../../../src/kv/http/server.js';
import { rawRequest } from '../../support/raw-request.js';
import { expectJsonError, useKvApi } from './api-harness.js';

const api = useKvApi();
const req = api.req;

describe('GET /status', () => {
  it('answers exactly the contract, with the leader HTTP address from the reserved keys', async () => {
    api.cluster.seed(httpAddressKey('n1'), 'http://127.0.0.1:8001');
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
      removed: false,
      configuration: [{ id: 'n1', address: '127.0.0.1:7001', suffrage: 'Voter' }],
      revision: 1,
      watchers: 0,
      leases: 0,
      locks: 0,
    });
  });

  it('gives empty leader fields while there is no leader', async () => {
    api.cluster.follow(null);
    expect((await req('GET', '/status')).json()).toMatchObject({
      state: 'Follower',
      leader: { id: '', address: '', http: '' },
    });
  });
});

describe('GET /metrics', () => {
  it('exposes raft gauges, request counters and the apply histogram', async () => {
    await req('PUT', '/kv/a', '1');
    await req('GET', '/kv/missing');
    api.cluster.term = 7;
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
    const other = new KvHttpServer({ cluster: api.cluster, fsm: api.cluster.fsm });
    expect(other.metrics.registry).not.toBe(api.server.metrics.registry);
  });
});

describe('GET /healthz and GET /readyz', () => {
  const tokens = { client: 'client-token-0123456789' };

  it('/healthz answers {"ok":true} without a token, even when the server needs one', async () => {
    await api.restart({ tokens });
    const res = await req('GET', '/healthz');
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ ok: true });
    api.cluster.follow(null);
    expect((await req('GET', '/healthz')).status).toBe(200);
  });

  it('/readyz needs the token like any other route', async () => {
    await api.restart({ tokens });
    expect((await req('GET', '/readyz')).status).toBe(401);
    const res = await req('GET', '/readyz', undefined, { Authorization: `Bearer ${tokens.client}` });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ ok: true });
  });

  it('/readyz is 503 while no leader is known', async () => {
    api.cluster.follow(null);
    expectJsonError(await req('GET', '/readyz'), 503);
    api.cluster.follow('n2');
    expect((await req('GET', '/readyz')).status).toBe(200);
  });

  it('/readyz is 503 until what was committed when the server started is applied', async () => {
    api.cluster.unapplied = 3;
    // A server that starts with three committed entries still to apply.
    const starting = new KvHttpServer({ cluster: api.cluster, fsm: api.cluster.fsm });
    const base = await starting.listen(0);
    try {
      const first = await rawRequest(base, 'GET', '/readyz');
      expectJsonError(first, 503);
      expect((first.json() as { error: string }).error).toMatch(/catching up: applied 0 of 3/);
      api.cluster.lastIndex = 2;
      api.cluster.unapplied = 1;
      expect((await rawRequest(base, 'GET', '/readyz')).status).toBe(503);
      api.cluster.lastIndex = 3;
      api.cluster.unapplied = 0;
      expect((await rawRequest(base, 'GET', '/readyz')).status).toBe(200);
    } finally {
      await starting.close();
    }
  });
});
