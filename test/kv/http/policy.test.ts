/**
 * Request policies (src/kv/http/policy.ts) run for every request before any route: a body declared
 * over the limit is refused with 413 whatever the path, method or role of the server.
 */
import { describe, expect, it } from 'vitest';
import { httpAddressKey } from '../../../src/kv/commands.js';
import { expectJsonError, useKvApi } from './api-harness.js';

const api = useKvApi();
const oversized = Buffer.alloc(1001);

describe('the body limit policy', () => {
  it('refuses an oversized body before the route is even looked at', async () => {
    await api.restart({ maxBodyBytes: 1000 });
    for (const [method, path] of [
      ['PUT', '/kv/a'],
      ['POST', '/cluster/join'],
      ['GET', '/nope'],
      ['PATCH', '/kv/a'],
    ]) {
      const res = await api.req(method, path, oversized);
      expectJsonError(res, 413);
      expect(res.headers.connection).toBe('close');
    }
    expect(api.cluster.applyCalls).toBe(0);
  });

  it('refuses it on a follower too, instead of redirecting a body the leader would refuse', async () => {
    await api.restart({ maxBodyBytes: 1000 });
    api.cluster.follow('n2');
    api.cluster.seed(httpAddressKey('n2'), 'http://127.0.0.1:8999');
    expectJsonError(await api.req('DELETE', '/kv/a', oversized), 413);
    expect((await api.req('DELETE', '/kv/a', Buffer.alloc(1000))).status).toBe(307);
  });

  it('counts the refusal under the route it was meant for', async () => {
    await api.restart({ maxBodyBytes: 1000 });
    await api.req('PUT', '/kv/a', oversized);
    const metrics = (await api.req('GET', '/metrics')).text;
    expect(metrics).toMatch(/^kv_http_requests_total\{method="PUT",route="kv",code="413"\} 1$/m);
  });
});
