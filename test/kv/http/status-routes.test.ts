/** GET /status and GET /metrics (src/kv/http/status-routes.ts). */
import { describe, expect, it } from 'vitest';
import { httpAddressKey } from '../../../src/kv/commands.js';
import { KvHttpServer } from '../../../src/kv/http/server.js';
import { useKvApi } from './api-harness.js';

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
      configuration: [{ id: 'n1', address: '127.0.0.1:7001', suffrage: 'Voter' }],
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
