/**
 * Membership safety (src/kv/http/membership.ts) through POST /cluster/join and DELETE
 * /cluster/{id}: no takeover of another member's ID or addresses, no unroutable addresses,
 * idempotent retries, non-voter first and promotion once caught up, rollback when the new
 * server never catches up.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { httpAddressKey } from '../../../src/kv/commands.js';
import type { HostResolver } from '../../../src/kv/http/membership.js';
import { expectJsonError, useKvApi } from './api-harness.js';

const api = useKvApi();
const join = (body: object) => api.json('POST', '/cluster/join', JSON.stringify(body));

/** Resolves *.example names of the test's own world; the rest do not exist. */
const resolveHost: HostResolver = async (host) => {
  if (host === 'kv4.example') return ['10.0.0.4'];
  if (host === 'wild.example') return ['0.0.0.0'];
  throw new Error(`getaddrinfo ENOTFOUND ${host}`);
};

/** n1 leads; n2 and n3 are voters, n2 published its HTTP address. */
beforeEach(async () => {
  await api.restart({ resolveHost, joinTimeout: 300 });
  api.cluster.configuration.push(
    { id: 'n2', address: '127.0.0.1:7002', suffrage: 'Voter' },
    { id: 'n3', address: '127.0.0.1:7003', suffrage: 'Voter' },
  );
  api.cluster.seed(httpAddressKey('n2'), 'http://127.0.0.1:8002');
});

const n4 = { id: 'n4', address: '127.0.0.1:7004', http: 'http://127.0.0.1:8004' };
const members = () =>
  api.cluster.configuration.map(({ id, address, suffrage }) => `${id} ${address} ${suffrage}`);
const original = ['n1 127.0.0.1:7001 Voter', 'n2 127.0.0.1:7002 Voter', 'n3 127.0.0.1:7003 Voter'];

describe('joining a new server', () => {
  it('adds it as a non-voter, and promotes it once it has caught up', async () => {
    const res = await join(n4);
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ ok: true, outcome: 'added' });
    expect(api.cluster.calls).toEqual(['addNonvoter n4 127.0.0.1:7004', 'addVoter n4 127.0.0.1:7004']);
    expect(members()).toContain('n4 127.0.0.1:7004 Voter');
    expect(api.cluster.fsm.httpAddress('n4')).toBe('http://127.0.0.1:8004');
  });

  it('leaves a server that asked for it a non-voter', async () => {
    expect((await join({ ...n4, voter: false })).status).toBe(200);
    expect(api.cluster.calls).toEqual(['addNonvoter n4 127.0.0.1:7004']);
  });

  it('accepts a host name that resolves', async () => {
    expect((await join({ ...n4, address: 'kv4.example:7004', http: 'kv4.example:8004' })).status).toBe(200);
  });

  it('removes it again when it does not catch up within the join timeout, and says so', async () => {
    api.cluster.unreachable.add('n4');
    const res = await join(n4);
    expectJsonError(res, 504);
    expect((res.json() as { error: string }).error).toMatch(
      /n4 did not catch up within 300 ms.*removed again/,
    );
    expect(api.cluster.calls).toEqual(['addNonvoter n4 127.0.0.1:7004', 'removeServer n4']);
    expect(members()).toEqual(original);
    expect(api.cluster.fsm.httpAddress('n4')).toBeUndefined();
  });

  it('carries on with a half-done join when it is retried (a leader change interrupted it)', async () => {
    api.cluster.configuration.push({ id: 'n4', address: '127.0.0.1:7004', suffrage: 'Nonvoter' });
    api.cluster.seed(httpAddressKey('n4'), n4.http);
    const res = await join(n4);
    expect(res.json()).toEqual({ ok: true, outcome: 'promoted' });
    expect(api.cluster.calls).toEqual(['addVoter n4 127.0.0.1:7004']);
  });

  it('runs two identical joins sent at once as one', async () => {
    api.cluster.unreachable.add('n4');
    const first = join(n4);
    const second = join(n4);
    await new Promise((resolve) => setTimeout(resolve, 50));
    api.cluster.unreachable.delete('n4');
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    expect(api.cluster.calls).toEqual(['addNonvoter n4 127.0.0.1:7004', 'addVoter n4 127.0.0.1:7004']);
  });
});

describe('a join that repeats the membership', () => {
  it('succeeds and changes nothing (what --join retries send)', async () => {
    api.cluster.seed(httpAddressKey('n3'), 'http://127.0.0.1:8003');
    const res = await join({ id: 'n3', address: '127.0.0.1:7003', http: '127.0.0.1:8003' });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ ok: true, outcome: 'unchanged' });
    expect(api.cluster.calls).toEqual([]);
    expect(api.cluster.applyCalls).toBe(0);
  });

  it('refuses to name the HTTP address of a member that never published one (409) without replace', async () => {
    // A --peers member that never led: anyone could otherwise aim its future redirects elsewhere.
    const res = await join({ id: 'n3', address: '127.0.0.1:7003', http: '127.0.0.1:8003' });
    expectJsonError(res, 409);
    expect((res.json() as { error: string }).error).toMatch(/n3 is already a member.*not published/);
    expect(api.cluster.fsm.httpAddress('n3')).toBeUndefined();
    expect(api.cluster.applyCalls).toBe(0);
  });
});

describe('a join that would take over', () => {
  it("answers 409 for a member's ID with another Raft address, and changes nothing", async () => {
    const res = await join({ id: 'n2', address: '127.0.0.1:9999', http: 'http://127.0.0.1:8002' });
    expectJsonError(res, 409);
    expect((res.json() as { error: string }).error).toMatch(/n2 is already a member.*"replace": true/);
    expect(members()).toEqual(original);
    expect(api.cluster.applyCalls).toBe(0);
  });

  it("answers 409 for a member's ID with another HTTP address (the redirect hijack), and changes nothing", async () => {
    expectJsonError(await join({ id: 'n2', address: '127.0.0.1:7002', http: 'http://127.0.0.1:6666' }), 409);
    expect(api.cluster.fsm.httpAddress('n2')).toBe('http://127.0.0.1:8002');
    expect(api.cluster.applyCalls).toBe(0);
  });

  it('changes the addresses with "replace": true, keeping the suffrage', async () => {
    const res = await join({ id: 'n2', address: '127.0.0.1:9002', http: '127.0.0.1:9802', replace: true });
    expect(res.json()).toEqual({ ok: true, outcome: 'replaced' });
    expect(members()).toContain('n2 127.0.0.1:9002 Voter');
    expect(api.cluster.fsm.httpAddress('n2')).toBe('http://127.0.0.1:9802');
  });

  it('answers 409 for a Raft or HTTP address another member uses', async () => {
    expectJsonError(await join({ ...n4, address: '127.0.0.1:7003' }), 409);
    expectJsonError(await join({ ...n4, http: 'http://127.0.0.1:8002' }), 409);
    expectJsonError(await join({ ...n4, address: '127.0.0.1:7003', replace: true }), 409);
    expect(members()).toEqual(original);
    expect(api.cluster.applyCalls).toBe(0);
  });
});

describe('unroutable addresses', () => {
  const cases: [string, object][] = [
    ['the wildcard 0.0.0.0 as Raft address', { address: '0.0.0.0:7004' }],
    ['the wildcard :: as Raft address', { address: '[::]:7004' }],
    ['port 0 as Raft address', { address: '127.0.0.1:0' }],
    ['a Raft host name that does not resolve', { address: 'nowhere.example:7004' }],
    ['a Raft host name that resolves to a wildcard', { address: 'wild.example:7004' }],
    ['the wildcard 0.0.0.0 as HTTP address', { http: 'http://0.0.0.0:8004' }],
    ['the wildcard :: as HTTP address', { http: 'http://[::]:8004' }],
    ['port 0 as HTTP address', { http: '127.0.0.1:0' }],
    ['an HTTP host name that does not resolve', { http: 'http://nowhere.example:8004' }],
  ];
  for (const [what, change] of cases) {
    it(`answers 400 for ${what}, and changes nothing`, async () => {
      const res = await join({ ...n4, ...change });
      expectJsonError(res, 400);
      expect(members()).toEqual(original);
      expect(api.cluster.applyCalls).toBe(0);
    });
  }
});

describe('DELETE /cluster/{id}', () => {
  it('removes the member and forgets its HTTP address', async () => {
    expect((await api.req('DELETE', '/cluster/n2')).status).toBe(200);
    expect(api.cluster.calls).toEqual(['removeServer n2']);
    expect(api.cluster.fsm.httpAddress('n2')).toBeUndefined();
  });
});
