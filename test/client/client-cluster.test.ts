/**
 * raftkit/client against a real three-server cluster (in-process `kv serve` servers: real Raft,
 * WAL, TCP): leader discovery and redirects with a killed leader, writes never repeated when their
 * outcome is unknown, a watch across a leader change and a follower restart compared with the
 * applied history, leases kept alive past several TTLs, lock fencing under a partition, elections,
 * and AbortSignal on every call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KvClient,
  LeaseLostError,
  type Lease,
  OutcomeUnknownError,
  UnavailableError,
  type WatchEvent,
} from '../../src/client/index.js';
import type { KvServer } from '../../src/cli/serve.js';
import { freePorts } from '../kit/helpers.js';
import { InProcessCluster } from '../kv/cluster/in-process-cluster.js';
import { appliedHistory } from '../kv/cluster/watch-client.js';
import { waitFor, waitForAsync } from '../support/wait.js';
import { FaultProxy } from './fault-proxy.js';

let cluster: InProcessCluster;
const clients: KvClient[] = [];
/** A client of every running member (or of `bases`), closed after the tests. */
function clientOf(
  bases?: string[],
  options: Partial<ConstructorParameters<typeof KvClient>[0]> = {},
): KvClient {
  const client = new KvClient({
    endpoints: bases ?? cluster.list.map((s) => s.httpUrl),
    timeout: 20_000,
    ...options,
  });
  clients.push(client);
  return client;
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  cluster = await InProcessCluster.start();
  await cluster.leader();
});
afterAll(async () => {
  for (const client of clients) client.close();
  await cluster?.close();
});

describe('raftkit/client on three servers', () => {
  it('finds the leader through /status and redirects, and keeps writing when the leader is killed', async () => {
    const leader = await cluster.leader();
    const [f1, f2] = cluster.followers(leader);
    const [closedPort] = await freePorts(1);
    // A dead endpoint first: refused before anything was sent, so the client moves on.
    const client = clientOf([`http://127.0.0.1:${closedPort}`, f1.httpUrl, f2.httpUrl, leader.httpUrl]);
    expect(await client.leader()).toBe(leader.httpUrl);
    const first = await client.put('disc/a', 'one');
    expect((await client.get('disc/a'))?.value.toString()).toBe('one');
    await cluster.kill(leader.id);
    const second = await client.put('disc/a', 'two');
    expect(second).toBeGreaterThan(first);
    const next = await cluster.leader(20_000);
    expect(next.id).not.toBe(leader.id);
    expect(next.fsm.get('disc/a')?.toString()).toBe('two');
    expect(await client.leader()).toBe(next.httpUrl);
    await cluster.restart(leader.id);
    await cluster.leader(20_000);
  });

  it('never repeats a write whose outcome is unknown (connection lost after sending, 504)', async () => {
    const leader = await cluster.leader();
    const proxy = await new FaultProxy(() => cluster.servers.get(leader.id)!.httpUrl).start();
    try {
      const client = clientOf([proxy.url]);
      for (const fault of ['drop-after-answer', 'gateway-timeout-after-answer'] as const) {
        const key = `unknown/${fault}`;
        proxy.fault = fault;
        proxy.writesForwarded = 0;
        await expect(client.put(key, 'x')).rejects.toBeInstanceOf(OutcomeUnknownError);
        proxy.fault = 'none';
        expect(proxy.writesForwarded).toBe(1);
        expect(puts(leader, key)).toBe(1);
      }
      // The check can fail: a client that retries such writes applies them twice.
      const unsafe = clientOf([proxy.url], { unsafeRetryUnknownOutcomes: true });
      proxy.fault = 'drop-after-answer';
      const twice = unsafe.put('unknown/unsafe', 'x').catch(() => null);
      await waitFor(() => puts(leader, 'unknown/unsafe') >= 2, 10_000, 'the unsafe client to write twice');
      proxy.fault = 'none';
      await twice;
      // Reads are safe to retry: a GET through a dropping proxy still gets through once it heals.
      expect((await client.get('unknown/drop-after-answer'))?.value.toString()).toBe('x');
    } finally {
      await proxy.close();
    }
  });

  it('a watch sees every revision exactly once across a leader change and a follower restart', async () => {
    const leader = await cluster.leader();
    const watched = cluster.followers(leader)[0];
    const others = cluster.list.filter((server) => server !== watched).map((server) => server.httpUrl);
    // The watched follower first: the watch starts there and must move when it goes down.
    const watcher = clientOf([watched.httpUrl, ...others]);
    const writer = clientOf();
    const start = await writer.range('wc/', { limit: 1 });
    const received: WatchEvent[] = [];
    const stop = new AbortController();
    const watching = (async () => {
      for await (const event of watcher.watch('wc/', { since: start.revision, signal: stop.signal }))
        received.push(event);
    })().catch((error: unknown) => {
      if (!stop.signal.aborted) throw error;
    });
    let written = 0;
    let writing = true;
    const writes = (async () => {
      while (writing) {
        const ok = await writer.put(`wc/${written % 5}`, String(written)).then(
          () => true,
          () => false,
        );
        if (ok) written++;
        if (written % 9 === 0 && ok) await writer.delete(`wc/${written % 5}`).catch(() => null);
      }
    })();
    await waitFor(() => written >= 15, 20_000, 'writes before the transfer');
    await cluster.call(await cluster.leader(), 'POST', '/cluster/transfer', '{}');
    await waitFor(() => written >= 30, 30_000, 'writes after the transfer');
    await cluster.kill(watched.id);
    await waitFor(() => written >= 45, 30_000, 'writes while the watched follower is down');
    const restarted = await cluster.restart(watched.id);
    await waitFor(() => written >= 60, 30_000, 'writes after the restart');
    writing = false;
    await writes;
    const now = await cluster.leader(20_000);
    const expected = appliedHistory(now.fsm, 'wc/', start.revision);
    await waitFor(
      () => received.length >= expected.length,
      30_000,
      `the watch to catch up (${received.length}/${expected.length})`,
    );
    stop.abort();
    await watching;
    const got = received.map((e) => ({
      revision: e.revision,
      op: e.op,
      key: e.key,
      value: e.value?.toString('base64') ?? null,
    }));
    expect(got).toEqual(expected);
    expect(restarted.id).toBe(watched.id);
  });

  it('a lease kept alive outlives several TTLs; once it is no longer kept alive its key goes and its signal says so', async () => {
    const client = clientOf();
    const lease = await client.lease(2);
    await putSurely(client, 'lease/k', 'v', lease);
    await sleep(7000);
    expect(lease.signal.reason).toBeUndefined();
    expect((await client.get('lease/k'))?.value.toString()).toBe('v');
    // Someone else revokes it: the keeper hears 404 and reports the loss.
    const other = clientOf();
    await other.call({ method: 'DELETE', path: `/leases/${lease.id}`, idempotent: true });
    await waitFor(() => lease.signal.aborted, 10_000, 'the loss to be reported');
    expect(lease.signal.reason).toBeInstanceOf(LeaseLostError);
    expect(await client.get('lease/k')).toBeNull();
    // A closed lease stops its keepalives and expires within ttl + 2 s.
    const closing = await client.lease(1);
    await putSurely(client, 'lease/c', 'v', closing);
    closing.close();
    await waitForAsync(
      async () => (await client.get('lease/c')) === null,
      10_000,
      'the key of the closed lease to go',
    );
  });
});

/** A put retried after an unknown outcome (an election under load): the same value twice is harmless here. */
async function putSurely(client: KvClient, key: string, value: string, lease: Lease): Promise<void> {
  for (;;) {
    try {
      await client.put(key, value, { lease });
      return;
    } catch (error) {
      if (!(error instanceof OutcomeUnknownError)) throw error;
    }
  }
}

/** How many times `key` was put, by the leader's recorded history. */
function puts(server: KvServer, key: string): number {
  return appliedHistory(server.fsm, key, 0).filter((change) => change.key === key && change.op === 'put')
    .length;
}

describe('locks and elections through raftkit/client', () => {
  it('a holder cut off past its lease loses the lock (its signal aborts) to a greater token; the fencing resource refuses it', async () => {
    const first = await cluster.leader();
    // A talks only to the leader it will be cut off with; B to the others.
    const a = clientOf([first.httpUrl], { timeout: 3000 });
    const b = clientOf(cluster.followers(first).map((server) => server.httpUrl));
    const fence = new FencedResource();
    const lockA = await a.lock('printer', { ttl: 2 });
    expect(fence.write(lockA.token, 'a1')).toBe(true);
    await cluster.isolate(first.id);
    await cluster.leader(20_000, cluster.followers(first));
    const lockB = await b.lock('printer', { ttl: 10, wait: 30 });
    expect(lockB.token).toBeGreaterThan(lockA.token);
    expect(fence.write(lockB.token, 'b1')).toBe(true);
    // A could not keep its lease alive: its handle says so within the TTL (plus a keepalive's time).
    await waitFor(() => lockA.signal.aborted, 10_000, "A's lock to be reported lost");
    expect(lockA.signal.reason).toBeInstanceOf(LeaseLostError);
    // A paused holder that wakes up and writes anyway is refused by the resource.
    expect(fence.write(lockA.token, 'a2')).toBe(false);
    expect(fence.log).toEqual(['a1', 'b1']);
    await cluster.heal();
    await cluster.leader(20_000);
    await lockA.release();
    expect(
      (await b.call({ method: 'GET', path: '/locks/printer', idempotent: true })).body.toString(),
    ).toContain(`"token":${lockB.token}`);
    await lockB.release();
    await expect(b.lock('printer', { ttl: 5 })).resolves.toMatchObject({ name: 'printer' });
  });

  it('mutual exclusion: contending holders never overlap and tokens only grow', async () => {
    await cluster.leader();
    const client = clientOf();
    let holders = 0;
    let overlaps = 0;
    const tokens: number[] = [];
    const worker = async () => {
      for (let held = 0; held < 4;) {
        // An election may leave a lock request's outcome unknown: its lease (not kept alive) expires
        // within its TTL, and the worker asks again.
        const lock = await client.lock('mutex', { ttl: 3, wait: 30 }).catch((error: unknown) => {
          if (error instanceof OutcomeUnknownError || error instanceof UnavailableError) return null;
          throw error;
        });
        if (lock === null) continue;
        holders++;
        if (holders > 1) overlaps++;
        tokens.push(lock.token);
        await sleep(20);
        holders--;
        held++;
        await lock.release().catch(() => undefined);
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    expect(overlaps).toBe(0);
    expect(tokens).toHaveLength(12);
    expect([...tokens].sort((x, y) => x - y)).toEqual(tokens);
    expect(new Set(tokens).size).toBe(12);
  });

  it('election: exactly one leader at a time is observed, and resigning hands over', async () => {
    await cluster.leader();
    const observerClient = clientOf();
    const election = observerClient.election('scheduler');
    const seen: (string | null)[] = [];
    const stop = new AbortController();
    const observing = (async () => {
      for await (const leader of election.observe({ signal: stop.signal }))
        seen.push(leader?.value.toString() ?? null);
    })().catch((error: unknown) => {
      if (!stop.signal.aborted) throw error;
    });
    const one = await clientOf().election('scheduler').campaign('one', { ttl: 5 });
    let secondLeads = false;
    const two = clientOf()
      .election('scheduler')
      .campaign('two', { ttl: 5 })
      .then((leadership) => ((secondLeads = true), leadership));
    await waitFor(() => seen.includes('one'), 10_000, 'the observer to see the first leader');
    await sleep(500);
    expect(secondLeads).toBe(false);
    expect((await election.leader())?.value.toString()).toBe('one');
    await one.resign();
    const leadership = await two;
    expect(leadership.token).toBeGreaterThan(one.token);
    await waitFor(() => seen.includes('two'), 10_000, 'the observer to see the second leader');
    expect((await election.leader())?.value.toString()).toBe('two');
    await leadership.resign();
    await waitFor(() => seen.at(-1) === null, 10_000, 'the observer to see no leader');
    stop.abort();
    await observing;
    // Never two leaders: between 'one' and 'two' the observer saw one, then (maybe) none, then the other.
    const leaders = seen.filter((value) => value !== null);
    expect(leaders).toEqual(['one', 'two']);
  });

  it('AbortSignal cancels every call promptly: a get, a lock wait, a lease grant, a watch', async () => {
    await cluster.leader();
    const client = clientOf();
    const aborted = AbortSignal.abort(new Error('stop'));
    await expect(client.get('x', { signal: aborted })).rejects.toThrow('stop');
    await expect(client.put('x', 'v', { signal: aborted })).rejects.toThrow('stop');
    await expect(client.lease(5, { signal: aborted })).rejects.toThrow('stop');
    const held = await client.lock('abort-me', { ttl: 10 });
    const controller = new AbortController();
    const started = performance.now();
    const waiting = client.lock('abort-me', { ttl: 10, wait: 60, signal: controller.signal });
    await sleep(200);
    controller.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');
    // Well before the 60 s wait: the call itself stopped.
    expect(performance.now() - started).toBeLessThan(30_000);
    const watchStop = new AbortController();
    const iterator = client.watch('abort/', { signal: watchStop.signal });
    const next = iterator.next();
    await sleep(200);
    watchStop.abort(new Error('watch stopped'));
    await expect(next).rejects.toThrow('watch stopped');
    await held.release();
    // The abandoned wait left nothing behind: no holder, no waiter.
    await waitForAsync(
      async () => {
        const state = JSON.parse((await cluster.request('GET', '/locks/abort-me')).body.toString()) as {
          token: number | null;
          waiters: number;
        };
        return state.token === null && state.waiters === 0;
      },
      10_000,
      'the lock to be free with no waiter',
    );
  });
});

/** A resource that remembers the highest fencing token it has seen and refuses writes with smaller ones. */
class FencedResource {
  readonly log: string[] = [];
  private highest = 0;
  write(token: number, entry: string): boolean {
    if (token < this.highest) return false;
    this.highest = token;
    this.log.push(entry);
    return true;
  }
}
