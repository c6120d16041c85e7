/** The membership and leadership routes (src/kv/http/cluster-routes.ts) and the demo's isolate switch. */
import { beforeEach, describe, expect, it } from 'vitest';
import { httpAddressKey } from '../../../src/kv/commands.js';
import { waitFor } from '../../support/wait.js';
import { expectJsonError, useKvApi } from './api-harness.js';

const api = useKvApi();
const req = api.json;

describe('cluster routes', () => {
  it('join stores the HTTP address, adds a non-voter, and promotes it once caught up', async () => {
    const res = await req(
      'POST',
      '/cluster/join',
      '{"id":"n4","address":"127.0.0.1:7004","http":"127.0.0.1:8004"}',
    );
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.json()).toEqual({ ok: true, outcome: 'added' });
    expect(api.cluster.fsm.httpAddress('n4')).toBe('http://127.0.0.1:8004');
    expect(api.cluster.calls).toEqual(['addNonvoter n4 127.0.0.1:7004', 'addVoter n4 127.0.0.1:7004']);
  });

  it('join with voter:false adds a nonvoter', async () => {
    const body = '{"id":"n5","address":"127.0.0.1:7005","http":"http://127.0.0.1:8005","voter":false}';
    expect((await req('POST', '/cluster/join', body)).status).toBe(200);
    expect(api.cluster.calls).toEqual(['addNonvoter n5 127.0.0.1:7005']);
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
      expect(api.cluster.applyCalls).toBe(0);
      expect(api.cluster.calls).toEqual([]);
    });
  }

  it('DELETE /cluster/{id} removes the server and forgets its HTTP address', async () => {
    api.cluster.seed(httpAddressKey('n3'), 'http://127.0.0.1:8003');
    const res = await req('DELETE', '/cluster/n3');
    expect(res.status).toBe(200);
    expect(api.cluster.calls).toEqual(['removeServer n3']);
    expect(api.cluster.fsm.httpAddress('n3')).toBeUndefined();
  });

  it('DELETE /cluster/ with a bad ID answers 400', async () => {
    expectJsonError(await req('DELETE', '/cluster/'), 400);
    expectJsonError(await req('DELETE', '/cluster/a%20b'), 400);
    expect(api.cluster.calls).toEqual([]);
  });

  it('transfer goes to the named server, or to any with an empty body or {}', async () => {
    expect((await req('POST', '/cluster/transfer', '{"id":"n2"}')).status).toBe(200);
    expect((await req('POST', '/cluster/transfer', '{}')).status).toBe(200);
    expect((await req('POST', '/cluster/transfer')).status).toBe(200);
    expect(api.cluster.calls).toEqual([
      'leadershipTransfer n2',
      'leadershipTransfer *',
      'leadershipTransfer *',
    ]);
  });

  it('transfer refuses bad JSON and a bad id', async () => {
    expectJsonError(await req('POST', '/cluster/transfer', '{'), 400);
    expectJsonError(await req('POST', '/cluster/transfer', '{"id":5}'), 400);
    expect(api.cluster.calls).toEqual([]);
  });
});

describe('debug routes', () => {
  beforeEach(async () => {
    await api.restart({ debugRoutes: true });
  });

  it('isolate and heal reach the cluster', async () => {
    expect((await req('POST', '/debug/isolate', '{"peers":["n2","n3"]}')).status).toBe(200);
    expect(api.cluster.isolated).toEqual(['n2', 'n3']);
    expect((await req('POST', '/debug/isolate', '{"heal":true}')).status).toBe(200);
    expect(api.cluster.isolated).toBeNull();
  });

  it('refuses a malformed body', async () => {
    expectJsonError(await req('POST', '/debug/isolate', '{"peers":[1]}'), 400);
    expectJsonError(await req('POST', '/debug/isolate', '{}'), 400);
    expect(api.cluster.isolated).toBeNull();
  });

  it('answers 501 when the node cannot isolate', async () => {
    (api.cluster as { isolate?: unknown }).isolate = undefined;
    expectJsonError(await req('POST', '/debug/isolate', '{"heal":true}'), 501);
  });
});

describe('the audit log', () => {
  const ADMIN = 'admin-token-0123456789abcdef';
  const CLIENT = 'client-token-0123456789abcdef';
  let lines: Record<string, unknown>[];
  const audits = () => lines.filter((line) => 'audit' in line);

  beforeEach(async () => {
    lines = [];
    const logger = {
      debug() {},
      info: (obj: object) => void lines.push(obj as Record<string, unknown>),
      warn() {},
      error() {},
    };
    await api.restart({ logger, tokens: { client: CLIENT, admin: ADMIN } });
  });

  /** Audit lines are written once the response has gone out, which the client may see first. */
  const auditLines = (count: number) =>
    waitFor(() => audits().length >= count && audits(), 5000, `${count} audit lines`);

  it('logs a join, a transfer and a removal with the caller role and remote address', async () => {
    const admin = { Authorization: `Bearer ${ADMIN}` };
    await req(
      'POST',
      '/cluster/join',
      '{"id":"n4","address":"127.0.0.1:7004","http":"127.0.0.1:8004"}',
      admin,
    );
    await req('POST', '/cluster/transfer', '{"id":"n4"}', admin);
    await api.req('DELETE', '/cluster/n4', undefined, admin);
    expect(await auditLines(3)).toEqual([
      expect.objectContaining({
        audit: 'cluster_join',
        role: 'admin',
        remote: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
        status: 200,
        id: 'n4',
        address: '127.0.0.1:7004',
        http: 'http://127.0.0.1:8004',
        outcome: 'added',
      }),
      expect.objectContaining({ audit: 'cluster_transfer', role: 'admin', status: 200, to: 'n4' }),
      expect.objectContaining({ audit: 'cluster_remove', role: 'admin', status: 200, id: 'n4' }),
    ]);
  });

  it('logs refused attempts too, with the role they had', async () => {
    await req('POST', '/cluster/transfer', '{}', { Authorization: `Bearer ${CLIENT}` });
    await req('POST', '/cluster/transfer', '{}');
    expect(await auditLines(2)).toEqual([
      expect.objectContaining({ audit: 'cluster_transfer', role: 'client', status: 403 }),
      expect.objectContaining({ audit: 'cluster_transfer', role: 'anonymous', status: 401 }),
    ]);
  });

  it('does not log key reads and writes', async () => {
    await api.req('PUT', '/kv/a', 'v', { Authorization: `Bearer ${CLIENT}` });
    await api.req('GET', '/kv/a', undefined, { Authorization: `Bearer ${CLIENT}` });
    await req('POST', '/cluster/transfer', '{}', { Authorization: `Bearer ${ADMIN}` });
    expect((await auditLines(1)).map((line) => line.audit)).toEqual(['cluster_transfer']);
  });
});
