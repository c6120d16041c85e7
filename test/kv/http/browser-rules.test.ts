/**
 * The browser rules (src/kv/http/browser-rules.ts and their policies in policy.ts): a Host that
 * is not the server's (DNS rebinding) is refused, a write from a page of another origin is
 * refused, and the cluster routes take only JSON, so no cross-site form reaches them.
 */
import { describe, expect, it } from 'vitest';
import {
  AllowedHosts,
  crossOriginProblem,
  MAX_REMEMBERED_HOSTS,
} from '../../../src/kv/http/browser-rules.js';
import { isLoopbackHost } from '../../../src/kv/validate.js';
import { expectJsonError, useKvApi } from './api-harness.js';

const api = useKvApi();
const join = '{"id":"n4","address":"127.0.0.1:7004","http":"127.0.0.1:8004"}';

describe('AllowedHosts', () => {
  const hosts = new AllowedHosts(['kv1.example.com', '10.0.0.1', '::1', 'fd00::5']);

  it('allows loopback names and the configured names, with or without a port', () => {
    for (const host of [
      'localhost',
      'localhost:8001',
      'LOCALHOST:8001',
      'app.localhost:80',
      '127.0.0.1:8001',
      '127.9.9.9',
      '[::1]:8001',
      'kv1.example.com:443',
      'KV1.Example.Com.',
      '10.0.0.1:8000',
      '[fd00::5]:8000',
      '[fd00:0::5]:8000',
    ]) {
      expect(hosts.problem(host), host).toBeNull();
    }
  });

  it('refuses other names, and malformed Host headers', () => {
    for (const host of [
      'evil.example:8001',
      'kv1.example.com.evil.example',
      '10.0.0.2:8000',
      'localhost.evil.example',
      '[fd00::6]:8000',
      'user@localhost',
      'localhost/x',
      '',
    ]) {
      expect(hosts.problem(host), host).not.toBeNull();
    }
  });

  it('remembers verdicts in a bounded memo that a new name empties', () => {
    const memo = new AllowedHosts([]);
    // The same header twice gets the same verdict (the second from the memo).
    expect(memo.problem('kv9.example:8001')).not.toBeNull();
    expect(memo.problem('kv9.example:8001')).not.toBeNull();
    // A name added later is allowed at once: a remembered refusal must not outlive it.
    memo.add('kv9.example');
    expect(memo.problem('kv9.example:8001')).toBeNull();
    // A client cycling through Host headers cannot grow the memo.
    for (let i = 0; i < MAX_REMEMBERED_HOSTS * 3; i++) {
      expect(memo.problem(`h${i}.evil.example`)).not.toBeNull();
      expect(memo.remembered).toBeLessThanOrEqual(MAX_REMEMBERED_HOSTS);
    }
    expect(memo.problem('127.0.0.1:8001')).toBeNull();
  });

  it('allows the addresses of every interface for a wildcard bind', () => {
    const wildcard = new AllowedHosts(['0.0.0.0']);
    expect(wildcard.problem('127.0.0.1')).toBeNull();
    expect(wildcard.problem('evil.example')).not.toBeNull();
  });

  it('knows loopback hosts', () => {
    for (const host of [
      'localhost',
      '127.0.0.1',
      '127.1.2.3',
      '::1',
      '[::1]',
      '::ffff:127.0.0.1',
      '0:0::1',
    ]) {
      expect(isLoopbackHost(host), host).toBe(true);
    }
    for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.com', 'localhost.example.com', '::2']) {
      expect(isLoopbackHost(host), host).toBe(false);
    }
  });
});

describe('crossOriginProblem', () => {
  it('refuses a write whose Origin is another origin, null, or malformed', () => {
    for (const origin of [
      'http://evil.example',
      'null',
      'http://127.0.0.1:8002',
      'https://127.0.0.1:8001',
      '%',
    ]) {
      expect(crossOriginProblem('POST', origin, 'http', '127.0.0.1:8001'), origin).not.toBeNull();
    }
  });

  it('allows the same origin, reads, and requests without an Origin', () => {
    expect(crossOriginProblem('PUT', 'http://127.0.0.1:8001', 'http', '127.0.0.1:8001')).toBeNull();
    expect(crossOriginProblem('PUT', 'https://kv.example', 'https', 'kv.example:443')).toBeNull();
    expect(crossOriginProblem('GET', 'http://evil.example', 'http', '127.0.0.1:8001')).toBeNull();
    expect(crossOriginProblem('DELETE', undefined, 'http', '127.0.0.1:8001')).toBeNull();
  });
});

describe('the server', () => {
  it('refuses a Host that is not its own (403), for reads too, and serves its own', async () => {
    const port = new URL(api.base).port;
    await api.req('PUT', '/kv/secret', 's');
    for (const [method, path] of [
      ['GET', '/kv/secret'],
      ['GET', '/status'],
      ['PUT', '/kv/a'],
    ]) {
      const res = await api.req(method, path, method === 'PUT' ? 'v' : undefined, {
        Host: `rebind.example:${port}`,
      });
      expectJsonError(res, 403);
      expect(res.text).not.toContain('s"');
    }
    expect((await api.req('GET', '/kv/secret', undefined, { Host: `localhost:${port}` })).text).toBe('s');
    expect(api.cluster.fsm.get('a')).toBeUndefined();
  });

  it('serves the names it is told it has (its published URL)', async () => {
    await api.restart({ allowedHosts: ['kv.example'] });
    expect((await api.req('GET', '/status', undefined, { Host: 'kv.example:8001' })).status).toBe(200);
  });

  it('refuses PUT, POST and DELETE from a page of another origin (403) and applies nothing', async () => {
    const evil = { Origin: 'http://evil.example' };
    expectJsonError(await api.req('PUT', '/kv/a', 'v', evil), 403);
    expectJsonError(await api.req('DELETE', '/kv/a', undefined, evil), 403);
    expectJsonError(await api.json('POST', '/cluster/join', join, evil), 403);
    expectJsonError(await api.json('POST', '/cluster/transfer', '{}', evil), 403);
    expect(api.cluster.applyCalls).toBe(0);
    expect(api.cluster.calls).toEqual([]);
  });

  it('serves writes from its own origin', async () => {
    expect((await api.req('PUT', '/kv/a', 'v', { Origin: api.base })).status).toBe(200);
  });

  it('takes only application/json on the cluster POSTs (415), as a cross-site form cannot send it', async () => {
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      expectJsonError(await api.req('POST', '/cluster/join', join, { 'Content-Type': type }), 415);
      expectJsonError(await api.req('POST', '/cluster/transfer', '{}', { 'Content-Type': type }), 415);
    }
    expectJsonError(await api.req('POST', '/cluster/join', join), 415);
    expect(api.cluster.calls).toEqual([]);
    const res = await api.req('POST', '/cluster/join', join, {
      'Content-Type': 'Application/JSON; charset=utf-8',
    });
    expect(res.status).toBe(200);
  });
});
