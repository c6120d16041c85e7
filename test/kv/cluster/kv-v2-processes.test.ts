/**
 * KV v2 with real `raftkit kv serve` processes and SIGKILL (needs `npm run build`): a watch that
 * resumes with Last-Event-ID across a killed and restarted follower (restored from a snapshot, so
 * the history travels in snapshots) and across a killed leader, compared with the applied history;
 * and a lease that outlives its leader by at least its TTL and is gone soon after.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../../../src/cli/free-ports.js';
import {
  childProcessLauncher,
  demoNodeSpecs,
  type ChildNodeProcess,
  type DemoNodeSpec,
} from '../../../src/cli/node-processes.js';
import { kvRequest, type KvResponse } from '../../../src/cli/service-client.js';
import type { RangeBody, StatusBody } from '../../../src/kv/contract.js';
import { waitFor, waitForAsync } from '../../support/wait.js';
import { ResumingWatch, streamProblems, type Change } from './watch-client.js';

const TIMING = ['--heartbeat-timeout', '300', '--election-timeout', '300', '--leader-lease-timeout', '150'];
/** Snapshots every 40 entries, keeping 10: a restarted follower restores the history from a snapshot. */
const SNAPSHOTS = ['--snapshot-threshold', '40', '--trailing-logs', '10', '--snapshot-interval', '200'];

let specs: DemoNodeSpec[];
let nodes: ChildNodeProcess[];

const json = <T>(res: KvResponse) => JSON.parse(res.body.toString()) as T;

async function status(spec: DemoNodeSpec): Promise<StatusBody | null> {
  try {
    const res = await fetch(`${spec.httpUrl}/status`, { signal: AbortSignal.timeout(1000) });
    return (await res.json()) as StatusBody;
  } catch {
    return null;
  }
}

/** The leader every running node agrees on, once it published its HTTP address. */
async function leader(ms = 20_000): Promise<DemoNodeSpec> {
  const id = await waitForAsync(
    async () => {
      const all = await Promise.all(specs.filter((_, i) => nodes[i].running).map(status));
      const leaders = all.filter((s) => s?.state === 'Leader' && s.leader.http !== '');
      return leaders.length === 1 && all.every((s) => s?.leader.id === leaders[0]!.id)
        ? leaders[0]!.id
        : null;
    },
    ms,
    'one leader known to all',
  );
  return specs.find((spec) => spec.id === id)!;
}

const running = () => specs.filter((_, i) => nodes[i].running).map((spec) => spec.httpUrl);
const request = (method: string, path: string, body?: string) =>
  kvRequest(running()[0], method, path, { body, timeout: 15_000 });
const nodeOf = (spec: DemoNodeSpec) => nodes[specs.indexOf(spec)];

async function kill(spec: DemoNodeSpec): Promise<void> {
  nodeOf(spec).signal('SIGKILL');
  await nodeOf(spec).exited();
}

/** The whole history under `prefix` after `since`, read from a fresh watch on `base`. */
async function historyFrom(base: string, prefix: string, since: number, upTo: number): Promise<Change[]> {
  const watch = new ResumingWatch(() => [base], prefix, since);
  await waitFor(() => watch.lastRevision >= upTo, 20_000, `the history up to ${upTo}`);
  await watch.stop();
  return watch.changes.filter((change) => change.revision <= upTo);
}

/** Writes keys under `prefix` until stopped; resolves with the revisions acknowledged. */
function writer(prefix: string) {
  const acked: number[] = [];
  let stop = false;
  const done = (async () => {
    for (let i = 0; !stop; i++) {
      const res = await request('PUT', `/kv/${prefix}${i % 5}`, String(i)).catch(() => null);
      if (res?.status === 200) acked.push(json<{ revision: number }>(res).revision);
    }
  })();
  return {
    acked,
    async stop() {
      stop = true;
      await done;
    },
  };
}

beforeAll(async () => {
  const ports = await freePorts(6);
  specs = demoNodeSpecs({
    raftPorts: ports.slice(0, 3),
    httpPorts: ports.slice(3),
    dataRoot: mkdtempSync(join(tmpdir(), 'raftkit-kv-v2-procs-')),
    extraServeArgs: [...TIMING, ...SNAPSHOTS],
  });
  const launch = childProcessLauncher(resolve('dist/cli.js'));
  nodes = specs.map(launch);
  for (const node of nodes) node.start();
  await leader(30_000);
});

afterAll(async () => {
  await Promise.all((nodes ?? []).map((node) => node.stop()));
});

describe('KV v2 with real processes and SIGKILL', () => {
  it('a watch resumes with Last-Event-ID across a killed follower and a killed leader: no gaps, no duplicates', async () => {
    const first = await leader();
    const follower = specs.find((spec) => spec !== first)!;
    const since = (await status(follower))!.revision;
    // Watch the follower first; after it dies, whichever member answers.
    const watch = new ResumingWatch(() => [follower.httpUrl, ...running()], 'w/', since);
    const writes = writer('w/');
    await waitFor(() => writes.acked.length >= 30, 30_000, 'writes');
    await kill(follower);
    await waitFor(() => writes.acked.length >= 90, 30_000, 'writes while the follower is down');
    nodeOf(follower).start();
    // Back, it catches up from the leader's snapshot (the log it missed is compacted).
    await waitFor(
      async () => ((await status(follower))?.lastSnapshotIndex ?? 0) > since,
      30_000,
      'a snapshot',
    );
    const current = await leader();
    await kill(current);
    await waitFor(() => writes.acked.length >= 150, 30_000, 'writes after the leader was killed');
    nodeOf(current).start();
    await writes.stop();
    const last = Math.max(...writes.acked);
    await waitFor(() => watch.lastRevision >= last, 30_000, 'the watch to catch up');
    await watch.stop();
    expect(watch.reconnects).toBeGreaterThanOrEqual(1);
    expect(streamProblems(watch)).toEqual([]);
    // Compared with the history as the restarted follower holds it (restored from a snapshot).
    await waitFor(
      async () => ((await status(follower))?.revision ?? 0) >= last,
      30_000,
      'the follower to catch up',
    );
    const applied = await historyFrom(follower.httpUrl, 'w/', since, last);
    const received = watch.changes.filter((change) => change.revision <= last);
    expect(received).toEqual(applied);
    for (const revision of writes.acked)
      expect(received.some((change) => change.revision === revision)).toBe(true);
  });

  it('a lease outlives a killed leader by at least its TTL and is gone within TTL + election + 2 s', async () => {
    const ttl = 3;
    const before = await leader();
    const lease = json<{ id: string }>(await request('POST', '/leases', JSON.stringify({ ttl })));
    expect((await request('PUT', `/kv/session?lease=${lease.id}`, 'alive')).status).toBe(200);
    const keepaliveSent = Date.now();
    expect((await request('POST', `/leases/${lease.id}/keepalive`)).status).toBe(200);
    const keepaliveAnswered = Date.now();
    await kill(before);
    const killed = Date.now();
    const after = await leader();
    const elected = Date.now();
    // Poll a survivor's local state until the key is gone.
    const survivor = after;
    let goneAt = 0;
    await waitForAsync(
      async () => {
        const res = await fetch(`${survivor.httpUrl}/kv/session?stale`).catch(() => null);
        if (res?.status === 404) goneAt = Date.now();
        await res?.arrayBuffer();
        return goneAt > 0;
      },
      (ttl + 15) * 1000,
      'the leased key to go',
    );
    const election = elected - killed;
    console.log(
      `lease ttl ${ttl}s: new leader after ${election} ms; key gone ${goneAt - keepaliveAnswered} ms after the last keepalive`,
    );
    // Never before the TTL since the last keepalive was sent (the new leader counts from its election).
    expect(goneAt - keepaliveSent).toBeGreaterThanOrEqual(ttl * 1000);
    expect(goneAt - keepaliveAnswered).toBeLessThanOrEqual(ttl * 1000 + (elected - keepaliveAnswered) + 2000);
    const range = json<RangeBody>(await request('GET', '/kv?prefix=session'));
    expect(range.items).toEqual([]);
    nodeOf(before).start();
  });
});
