/** The CLI's KV request helper and `--join` (src/cli/service-client.ts): redirects, retries, deadlines. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { joinCluster, kvRequest } from '../../src/cli/service-client.js';
import { httpAddressKey } from '../../src/kv/commands.js';
import { instantClock, useLeaderAndFollower } from './leader-and-follower.js';

const nodes = useLeaderAndFollower();

describe('kvRequest', () => {
  it('retries 503 until a leader appears', async () => {
    nodes.follower.follow(null);
    let sleeps = 0;
    const clock = instantClock(() => {
      if (++sleeps === 3) nodes.follower.follow('n1', '127.0.0.1:7001');
    });
    const res = await kvRequest(nodes.followerUrl, 'PUT', '/kv/x', { body: 'v', clock });
    expect(res.status).toBe(200);
    expect(sleeps).toBe(3);
  });

  it('gives up on 503 at the deadline', async () => {
    nodes.follower.follow(null);
    const res = await kvRequest(nodes.followerUrl, 'GET', '/kv/x', { clock: instantClock(), timeout: 1000 });
    expect(res.status).toBe(503);
  });

  it('stops following a redirect loop', async () => {
    // Each node names the other as leader.
    nodes.leader.follow('n2', '127.0.0.1:7002');
    nodes.leader.seed(httpAddressKey('n2'), nodes.followerUrl);
    const res = await kvRequest(nodes.followerUrl, 'GET', '/kv/x', { maxRedirects: 3 });
    expect(res.status).toBe(307);
  });
});

describe('joinCluster', () => {
  const request = { id: 'n4', address: '127.0.0.1:7004', http: 'http://127.0.0.1:8004', voter: true };

  it('joins through a follower', async () => {
    await joinCluster(nodes.followerUrl, request, { clock: instantClock() });
    expect(nodes.leader.calls).toEqual(['addNonvoter n4 127.0.0.1:7004', 'addVoter n4 127.0.0.1:7004']);
    expect(nodes.leader.fsm.httpAddress('n4')).toBe('http://127.0.0.1:8004');
  });

  it('fails at once when the request is refused', async () => {
    await expect(
      joinCluster(nodes.leaderUrl, { ...request, id: 'bad id' }, { clock: instantClock() }),
    ).rejects.toThrow(/join refused.*400/);
  });

  it('retries an unreachable member until the deadline', async () => {
    let sleeps = 0;
    const clock = instantClock(() => sleeps++);
    await expect(joinCluster('http://127.0.0.1:1', request, { clock, timeout: 1000 })).rejects.toThrow(
      /cannot reach/,
    );
    expect(sleeps).toBeGreaterThan(2);
  });
});

describe('joinCluster abandoned', () => {
  it('rejects at once when its signal aborts while the answer is still awaited (a stopped server must not linger)', async () => {
    // A member that accepts the join request and never answers (its leader is catching the joiner up).
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    const { port } = silent.address() as AddressInfo;
    const stop = new AbortController();
    try {
      const joining = joinCluster(
        `http://127.0.0.1:${port}`,
        { id: 'n9', address: '127.0.0.1:1', http: 'http://127.0.0.1:2', voter: true },
        { timeout: 120_000, signal: stop.signal },
      );
      const outcome = joining.then(
        () => 'joined',
        (error: Error) => error.name,
      );
      stop.abort();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<string>(
        (resolve) => (timer = setTimeout(() => resolve('still waiting'), 10_000)),
      );
      expect(await Promise.race([outcome, late])).toBe('AbortError');
      clearTimeout(timer);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  }, 30_000);
});
