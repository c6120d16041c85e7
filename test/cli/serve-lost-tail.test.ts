/**
 * Issue 11 item 4 on real processes: a `kv serve` follower whose write-ahead log lost its newest
 * entries while it was down (a cut WAL: a restored backup, a lost disk cache) restarts, says so in
 * its log, rejoins, and is repaired by the leader; nothing acknowledged is lost.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyPath, kvRequest } from '../../src/cli/service-client.js';
import type { StatusBody } from '../../src/kv/contract.js';
import { WalStore } from '../../src/storage/wal.js';
import { freePorts } from '../kit/helpers.js';
import { serving, useCliProcesses, type Run } from '../support/cli-process.js';

const cli = useCliProcesses();
const KEYS = 30;
/** Entries cut from the follower's log: more than the last few writes, fewer than all of them. */
const CUT = 10;

async function until<T>(probe: () => Promise<T | undefined>, what: string, ms = 30_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('raftkit kv serve: a follower whose WAL lost its tail', () => {
  it('rejoins, warns, converges, and keeps every acknowledged write', async () => {
    const root = mkdtempSync(join(tmpdir(), 'raftkit-cli-lost-tail-'));
    const ports = await freePorts(6);
    const nodes = ['n1', 'n2', 'n3'].map((id, i) => ({
      id,
      raft: `127.0.0.1:${ports[i]}`,
      http: `http://127.0.0.1:${ports[i + 3]}`,
      dir: join(root, id),
    }));
    const peers = nodes.map((node) => `${node.id}=${node.raft}`).join(',');
    const start = (i: number): Run =>
      cli([
        ...['kv', 'serve', '--id', nodes[i].id, '--raft-addr', nodes[i].raft],
        ...['--http-addr', nodes[i].http.slice('http://'.length), '--data-dir', nodes[i].dir],
        ...['--peers', peers],
      ]);
    const servers = [0, 1, 2].map(start);
    await Promise.all(servers.map(serving));
    const put = (key: string, value: string) =>
      until(async () => {
        const response = await kvRequest(nodes[0].http, 'PUT', keyPath(key), { body: value });
        return response.status === 200 ? true : undefined;
      }, `PUT ${key}`);
    for (let i = 0; i < KEYS; i++) await put(`k${i}`, `v${i}`);
    const staleGet = async (i: number, key: string) => {
      const response = await kvRequest(nodes[i].http, 'GET', `${keyPath(key)}?stale`);
      return response.status === 200 ? response.body.toString() : undefined;
    };
    const status = (await (await fetch(`${nodes[0].http}/status`)).json()) as StatusBody;
    const leader = nodes.findIndex((node) => node.id === status.leader.id);
    const victim = leader === 2 ? 1 : 2;
    await until(() => staleGet(victim, `k${KEYS - 1}`), 'the follower applies every write');

    servers[victim].child.kill('SIGTERM');
    expect(await servers[victim].exited).toBe(0);
    const wal = await WalStore.open(join(nodes[victim].dir, 'wal'));
    const last = await wal.lastIndex();
    await wal.deleteRange(last - CUT + 1, last);
    await wal.close();

    servers[victim] = start(victim);
    await serving(servers[victim]);
    expect(servers[victim].stdout()).toContain(`log ends at ${last - CUT}, below the commit index`);
    // Repaired by the leader: every acknowledged value is back on it, and it follows new writes.
    for (let i = 0; i < KEYS; i++)
      expect(await until(() => staleGet(victim, `k${i}`), `k${i}`)).toBe(`v${i}`);
    await put('after', 'repair');
    expect(await until(() => staleGet(victim, 'after'), 'a new write')).toBe('repair');
    const warning = `replica ${nodes[victim].id} lost log entries it had acknowledged`;
    expect(servers.some((server) => server.stdout().includes(warning))).toBe(true);
  }, 120_000);
});
