/** The router of the KV API (src/kv/http/router.ts): path patterns, 404, 405 with Allow, precedence. */
import { describe, expect, it } from 'vitest';
import type { RouteLabel } from '../../../src/kv/metrics.js';
import { Router, type Route } from '../../../src/kv/http/router.js';

const route = (method: string, path: string, label: RouteLabel = 'kv'): Route => ({
  method,
  path,
  label,
  handle: async () => {},
});

describe('Router', () => {
  const get = route('GET', '/kv/*key');
  const put = route('PUT', '/kv/*key');
  const keepalive = route('POST', '/leases/:id/keepalive', 'unknown');
  const status = route('GET', '/status', 'status');
  const join = route('POST', '/cluster/join', 'cluster_join');
  const remove = route('DELETE', '/cluster/*id', 'cluster_remove');
  const router = new Router().add([get, put, keepalive, status]).add([join, remove]);

  it('matches literal paths exactly', () => {
    expect(router.match('GET', '/status')).toEqual({ kind: 'found', route: status, params: {} });
    expect(router.match('GET', '/status/')).toEqual({ kind: 'not-found' });
    expect(router.match('GET', '/statusx')).toEqual({ kind: 'not-found' });
  });

  it('gives a final *name the rest of the path, raw, possibly empty, but not a missing separator', () => {
    expect(router.match('GET', '/kv/a%2Fb/c')).toEqual({
      kind: 'found',
      route: get,
      params: { key: 'a%2Fb/c' },
    });
    expect(router.match('PUT', '/kv/')).toEqual({ kind: 'found', route: put, params: { key: '' } });
    expect(router.match('GET', '/kv')).toEqual({ kind: 'not-found' });
  });

  it('gives a :name one non-empty segment', () => {
    expect(router.match('POST', '/leases/7/keepalive')).toMatchObject({ params: { id: '7' } });
    expect(router.match('POST', '/leases//keepalive')).toEqual({ kind: 'not-found' });
    expect(router.match('POST', '/leases/7/8/keepalive')).toEqual({ kind: 'not-found' });
  });

  it('answers a known path with another method with the methods it has, in the order added', () => {
    expect(router.match('PATCH', '/kv/a')).toEqual({
      kind: 'method-not-allowed',
      label: 'kv',
      allow: ['GET', 'PUT'],
    });
    // /cluster/join is also a server ID to DELETE /cluster/{id}, as the contract's routes overlap.
    expect(router.match('GET', '/cluster/join')).toEqual({
      kind: 'method-not-allowed',
      label: 'cluster_join',
      allow: ['POST', 'DELETE'],
    });
  });

  it('lets the first route added win when several match', () => {
    expect(router.match('POST', '/cluster/join')).toMatchObject({ route: join });
    expect(router.match('DELETE', '/cluster/join')).toMatchObject({ route: remove, params: { id: 'join' } });
  });

  it('keeps the order routes were added in when routes on one path are split by another path', () => {
    const first = route('GET', '/x/*rest');
    const literal = route('PUT', '/x/y', 'status');
    const later = route('PUT', '/x/*rest', 'txn');
    const twice = route('GET', '/x/*rest', 'range');
    const split = new Router().add([first, literal, later, twice]);
    expect(split.match('PUT', '/x/y')).toMatchObject({ route: literal });
    expect(split.match('PUT', '/x/z')).toMatchObject({ route: later, params: { rest: 'z' } });
    expect(split.match('GET', '/x/y')).toMatchObject({ route: first });
    expect(split.match('POST', '/x/y')).toEqual({
      kind: 'method-not-allowed',
      label: 'kv',
      allow: ['GET', 'PUT'],
    });
  });

  it('takes regular-expression characters in literal segments literally', () => {
    const dotted = new Router().add([route('GET', '/a.b')]);
    expect(dotted.match('GET', '/a.b').kind).toBe('found');
    expect(dotted.match('GET', '/axb').kind).toBe('not-found');
  });

  it('refuses a pattern with *name before the end', () => {
    expect(() => new Router().add([route('GET', '/kv/*key/x')])).toThrow(/last segment/);
  });
});
