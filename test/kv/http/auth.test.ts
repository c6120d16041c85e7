/**
 * Bearer-token authentication (src/kv/http/auth.ts and its policy in policy.ts): 401 with a
 * challenge and a JSON error, the admin role on the cluster routes, rotation while serving.
 */
import { describe, expect, it } from 'vitest';
import { bearerToken, TokenAuthenticator } from '../../../src/kv/http/auth.js';
import { expectJsonError, useKvApi } from './api-harness.js';

const CLIENT = 'client-token-0123456789abcdef';
const ADMIN = 'admin-token-0123456789abcdef';
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

const api = useKvApi();

describe('TokenAuthenticator', () => {
  it('grants the admin role to the admin token and the client role to the client token', () => {
    const auth = new TokenAuthenticator({ client: CLIENT, admin: ADMIN });
    expect(auth.enabled).toBe(true);
    expect(auth.roleOf(ADMIN)).toBe('admin');
    expect(auth.roleOf(CLIENT)).toBe('client');
    expect(auth.roleOf(`${CLIENT}x`)).toBeNull();
    expect(auth.roleOf(CLIENT.slice(0, -1))).toBeNull();
    expect(auth.roleOf('')).toBeNull();
  });

  it('without an admin token the client token may do everything', () => {
    expect(new TokenAuthenticator({ client: CLIENT }).roleOf(CLIENT)).toBe('admin');
    expect(new TokenAuthenticator({ admin: ADMIN }).roleOf(ADMIN)).toBe('admin');
  });

  it('is off without tokens, and set() replaces the tokens at once', () => {
    const auth = new TokenAuthenticator();
    expect(auth.enabled).toBe(false);
    auth.set({ client: CLIENT });
    expect(auth.roleOf(CLIENT)).toBe('admin');
    auth.set({ client: 'rotated-token-0123456789' });
    expect(auth.roleOf(CLIENT)).toBeNull();
  });

  it('reads the token of an Authorization header', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer abc')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeNull();
    expect(bearerToken('Bearer')).toBeNull();
    expect(bearerToken('Bearer a b')).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
  });
});

describe('a server with a token', () => {
  it('answers 401 with a Bearer challenge and a JSON error without a token, on every route', async () => {
    await api.restart({ tokens: { client: CLIENT } });
    for (const [method, path] of [
      ['GET', '/kv/a'],
      ['PUT', '/kv/a'],
      ['DELETE', '/kv/a'],
      ['GET', '/status'],
      ['GET', '/metrics'],
      ['GET', '/readyz'],
      ['GET', '/nowhere'],
    ]) {
      const res = await api.req(method, path, method === 'PUT' ? 'v' : undefined);
      expectJsonError(res, 401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="raftkit"');
    }
    expectJsonError(await api.json('POST', '/cluster/join', '{}'), 401);
    expect(api.cluster.applyCalls).toBe(0);
    expect(api.cluster.calls).toEqual([]);
  });

  it('answers 401 (invalid_token) for a wrong token or another scheme', async () => {
    await api.restart({ tokens: { client: CLIENT } });
    for (const header of [`Bearer ${CLIENT}x`, `Basic ${CLIENT}`, 'Bearer ']) {
      const res = await api.req('PUT', '/kv/a', 'v', { Authorization: header });
      expectJsonError(res, 401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="raftkit", error="invalid_token"');
    }
    expect(api.cluster.applyCalls).toBe(0);
  });

  it('serves the holder of the token, cluster routes included when there is no admin token', async () => {
    await api.restart({ tokens: { client: CLIENT } });
    expect((await api.req('PUT', '/kv/a', 'v', bearer(CLIENT))).status).toBe(200);
    expect((await api.req('GET', '/kv/a', undefined, bearer(CLIENT))).text).toBe('v');
    expect((await api.json('POST', '/cluster/transfer', '{}', bearer(CLIENT))).status).toBe(200);
  });

  it('GET /healthz needs no token', async () => {
    await api.restart({ tokens: { client: CLIENT } });
    expect((await api.req('GET', '/healthz')).status).toBe(200);
  });
});

describe('a server with a client and an admin token', () => {
  const join = '{"id":"n4","address":"127.0.0.1:7004","http":"127.0.0.1:8004"}';

  it('answers 403 to the client token on /cluster/* and changes nothing', async () => {
    await api.restart({ tokens: { client: CLIENT, admin: ADMIN }, debugRoutes: true });
    for (const [method, path, body] of [
      ['POST', '/cluster/join', join],
      ['POST', '/cluster/transfer', '{}'],
      ['DELETE', '/cluster/n1', undefined],
      ['POST', '/debug/isolate', '{"heal":true}'],
    ] as const) {
      expectJsonError(await api.json(method, path, body, bearer(CLIENT)), 403);
    }
    expect(api.cluster.calls).toEqual([]);
    expect(api.cluster.applyCalls).toBe(0);
  });

  it('lets the admin token do everything', async () => {
    await api.restart({ tokens: { client: CLIENT, admin: ADMIN } });
    expect((await api.req('PUT', '/kv/a', 'v', bearer(ADMIN))).status).toBe(200);
    expect((await api.json('POST', '/cluster/join', join, bearer(ADMIN))).status).toBe(200);
    expect(api.cluster.calls).toContain('addVoter n4 127.0.0.1:7004');
  });

  it('lets the client token read and write keys', async () => {
    await api.restart({ tokens: { client: CLIENT, admin: ADMIN } });
    expect((await api.req('PUT', '/kv/a', 'v', bearer(CLIENT))).status).toBe(200);
    expect((await api.req('GET', '/status', undefined, bearer(CLIENT))).status).toBe(200);
  });
});

describe('token rotation', () => {
  it('setTokens takes effect for the next request', async () => {
    await api.restart({ tokens: { client: CLIENT } });
    const next = 'next-client-token-0123456789';
    api.server.setTokens({ client: next });
    expectJsonError(await api.req('GET', '/status', undefined, bearer(CLIENT)), 401);
    expect((await api.req('GET', '/status', undefined, bearer(next))).status).toBe(200);
  });
});
