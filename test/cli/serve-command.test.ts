/**
 * `raftkit kv serve` and the `raftkit kv` client as processes (dist/cli.js; `npm test` builds it
 * first): exit codes, JSON logs, graceful shutdown on SIGTERM, and a restart from the data dirs.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyPath, kvRequest } from '../../src/cli/service-client.js';
import type { StatusBody } from '../../src/kv/contract.js';
import { freePorts } from '../kit/helpers.js';
import { serving, useCliProcesses } from '../support/cli-process.js';

const cli = useCliProcesses();

describe('raftkit kv serve: refusing to start', () => {
  it('exits 2 naming the flag when flags are wrong', async () => {
    const run = cli(['kv', 'serve', '--id', 'n1', '--raft-addr', '127.0.0.1:1']);
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toContain('--http-addr: is required');
    expect(run.stderr()).toContain('usage: raftkit kv serve');
  });

  it('exits 1 with a clear message when the data directory is unusable', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'raftkit-cli-')), 'not-a-dir');
    writeFileSync(file, 'x');
    const [raftPort, httpPort] = await freePorts(2);
    const run = cli([
      ...['kv', 'serve', '--id', 'n1', '--raft-addr', `127.0.0.1:${raftPort}`],
      ...['--http-addr', `127.0.0.1:${httpPort}`, '--data-dir', file],
    ]);
    expect(await run.exited).toBe(1);
    expect(run.stderr()).toContain(`unusable data directory: ${file} exists and is not a directory`);
  });
});

describe('raftkit kv serve: refusing to start leaves nothing behind (issue 11.6)', () => {
  it("exits 1 at once for a data directory under /proc (Node's recursive mkdir spun there forever)", async () => {
    const [raftPort, httpPort] = await freePorts(2);
    const run = cli([
      ...['kv', 'serve', '--id', 'n1', '--raft-addr', `127.0.0.1:${raftPort}`],
      ...['--http-addr', `127.0.0.1:${httpPort}`, '--data-dir', '/proc/raftkit-no-such-dir/data'],
    ]);
    expect(await run.exited).toBe(1);
    expect(run.stderr()).toContain('unusable data directory: cannot create /proc/raftkit-no-such-dir');
  }, 30_000);

  it('does not bootstrap a new data directory when its HTTP port is taken, so a later start is a new cluster', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'raftkit-cli-')), 'n1');
    const [raftPort, httpPort, otherHttpPort] = await freePorts(3);
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(httpPort, '127.0.0.1', () => resolve()));
    try {
      const first = cli([
        ...['kv', 'serve', '--id', 'n1', '--raft-addr', `127.0.0.1:${raftPort}`],
        ...['--http-addr', `127.0.0.1:${httpPort}`, '--data-dir', dir, '--peers', `n1=127.0.0.1:${raftPort}`],
      ]);
      expect(await first.exited).toBe(1);
      expect(first.stderr()).toMatch(/EADDRINUSE/);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
    // Started again on a free port: it bootstraps now (the failed start wrote no cluster state).
    const second = cli([
      ...['kv', 'serve', '--id', 'n1', '--raft-addr', `127.0.0.1:${raftPort}`],
      ...['--http-addr', `127.0.0.1:${otherHttpPort}`, '--data-dir', dir],
      ...['--peers', `n1=127.0.0.1:${raftPort}`],
    ]);
    await serving(second);
    expect(second.stdout()).toContain('"msg":"kv: bootstrapped a new cluster"');
    const status = await kvRequest(`http://127.0.0.1:${otherHttpPort}`, 'GET', '/status?stale');
    expect(status.status).toBe(200);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 60_000);
});

describe('raftkit kv serve: a 3-process cluster', () => {
  it('serves the client commands, stops on SIGTERM with exit 0, and restarts with its state', async () => {
    const root = mkdtempSync(join(tmpdir(), 'raftkit-cli-'));
    const ports = await freePorts(6);
    const nodes = ['n1', 'n2', 'n3'].map((id, i) => ({
      id,
      raft: `127.0.0.1:${ports[i]}`,
      http: `127.0.0.1:${ports[i + 3]}`,
    }));
    const peers = nodes.map((node) => `${node.id}=${node.raft}`).join(',');
    const startAll = () =>
      nodes.map((node) =>
        cli([
          ...['kv', 'serve', '--id', node.id, '--raft-addr', node.raft, '--http-addr', node.http],
          ...['--data-dir', join(root, node.id), '--peers', peers],
        ]),
      );
    const client = async (...args: string[]) => {
      const run = cli(['kv', ...args, '--addr', `http://${nodes[2].http}`]);
      return { code: await run.exited, stdout: run.stdout(), stderr: run.stderr() };
    };

    let servers = startAll();
    await Promise.all(servers.map(serving));
    // The client retries while no leader is known and follows redirects to the leader.
    expect(await client('put', 'planet', 'earth')).toMatchObject({ code: 0 });
    expect(await client('get', 'planet')).toEqual({ code: 0, stdout: 'earth', stderr: '' });
    const status = await client('status');
    expect(JSON.parse(status.stdout)).toMatchObject({ id: 'n3', configuration: expect.any(Array) });
    expect(await client('get', 'moon')).toMatchObject({ code: 1, stderr: 'raftkit kv: not found\n' });

    for (const server of servers) server.child.kill('SIGTERM');
    expect(await Promise.all(servers.map((server) => server.exited))).toEqual([0, 0, 0]);
    // JSON log lines, each tagged with its server.
    const lines = servers[0]
      .stdout()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.every((line) => line.node === 'n1')).toBe(true);
    expect(lines.map((line) => line.msg)).toEqual(expect.arrayContaining(['kv: serving', 'kv: stopped']));

    servers = startAll();
    await Promise.all(servers.map(serving));
    expect(await client('get', 'planet')).toEqual({ code: 0, stdout: 'earth', stderr: '' });
    for (const server of servers) server.child.kill('SIGTERM');
    expect(await Promise.all(servers.map((server) => server.exited))).toEqual([0, 0, 0]);
  });
});

describe('raftkit kv serve: SIGKILL under load', () => {
  it('keeps every acknowledged write when the leader, then every server, is killed mid-write', async () => {
    const root = mkdtempSync(join(tmpdir(), 'raftkit-cli-kill-'));
    const ports = await freePorts(6);
    const nodes = ['n1', 'n2', 'n3'].map((id, i) => ({
      id,
      raft: `127.0.0.1:${ports[i]}`,
      http: `http://127.0.0.1:${ports[i + 3]}`,
    }));
    const peers = nodes.map((node) => `${node.id}=${node.raft}`).join(',');
    const start = (i: number) =>
      cli([
        ...['kv', 'serve', '--id', nodes[i].id, '--raft-addr', nodes[i].raft],
        ...['--http-addr', nodes[i].http.slice('http://'.length), '--data-dir', join(root, nodes[i].id)],
        ...['--peers', peers, '--trailing-logs', '16'],
        // Snapshots every 64-128 entries as they apply (the interval's check is minutes away).
        ...['--snapshot-threshold', '64', '--snapshot-log-limit', '64'],
      ]);
    const servers = [0, 1, 2].map(start);
    await Promise.all(servers.map(serving));

    const acked = new Map<string, string>();
    let attempts = 0;
    let acks = 0;
    let stop = false;
    /** One client: PUTs unique values through any server (followers redirect), until stopped. */
    const writer = async (w: number) => {
      for (let n = 0; !stop; n++) {
        const key = `w${w}-${n % 20}`;
        const value = `${w}.${n}`;
        attempts++;
        try {
          const response = await fetch(`${nodes[n % 3].http}/kv/${key}`, {
            method: 'PUT',
            body: value,
            signal: AbortSignal.timeout(2000),
          });
          if (response.status === 200) {
            acked.set(key, value);
            acks++;
          } else await new Promise((resolve) => setTimeout(resolve, 20));
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 20)); // killed server, no leader yet
        }
      }
    };
    const leaderIndex = async () => {
      for (;;) {
        for (const node of nodes) {
          const status = await fetch(`${node.http}/status`).then(
            (r) => r.json() as Promise<StatusBody>,
            () => null,
          );
          // An unknown leader is reported as id ''.
          const index = nodes.findIndex((n) => n.id === status?.leader.id);
          if (index >= 0) return index;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const writers = [0, 1, 2, 3].map(writer);

    /** Waits until `count` more keys were acknowledged (writes are flowing again). */
    const progress = async (count: number) => {
      const target = acks + count;
      for (let waited = 0; acks < target; waited += 50) {
        if (waited > 20_000) throw new Error(`only ${acks} of ${target} writes acknowledged`);
        await pause(50);
      }
    };

    await progress(40);
    const leader = await leaderIndex();
    servers[leader].child.kill('SIGKILL');
    await servers[leader].exited;
    const ackedBeforeRestart = acks;
    await progress(20); // the other two elect a leader and go on
    servers[leader] = start(leader);
    await serving(servers[leader]);
    await progress(40);
    for (const server of servers) server.child.kill('SIGKILL');
    await Promise.all(servers.map((server) => server.exited));
    stop = true;
    await Promise.all(writers);

    for (let i = 0; i < 3; i++) servers[i] = start(i);
    await Promise.all(servers.map(serving));
    await leaderIndex();
    const lost: string[] = [];
    for (const [key, value] of acked) {
      // Linearizable reads (followers redirect to the leader); the last acknowledged value of
      // each key must be there, or a later write to it that was in flight when the servers died.
      // kvRequest follows redirects and retries 503: right after a full restart a follower may
      // not know the leader, or the leader's HTTP address, yet.
      const response = await kvRequest(nodes[0].http, 'GET', keyPath(key), { timeout: 15_000 });
      const got = response.status === 200 ? response.body.toString() : `status ${response.status}`;
      const [w, n] = value.split('.').map(Number);
      const [gw, gn] = got.split('.').map(Number);
      if (!(gw === w && gn >= n)) lost.push(`${key}: acknowledged ${value}, read ${got}`);
    }
    expect(lost).toEqual([]);
    expect(acks).toBeGreaterThanOrEqual(ackedBeforeRestart + 60);
    console.log(
      `kill test: ${attempts} writes tried, ${acks} acknowledged (${acked.size} keys), all present after SIGKILL`,
    );
    for (const server of servers) server.child.kill('SIGTERM');
    await Promise.all(servers.map((server) => server.exited));
  }, 60_000);
});
