/**
 * `raftkit kv range`, `kv watch` and `kv lock -- CMD` on a real three-server cluster (in-process
 * `kv serve` servers): the lock command passes the token to CMD, exits with CMD's status, releases
 * the lock, and stops CMD when the lock is lost.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/command.js';
import type { LockInfoBody } from '../../src/kv/contract.js';
import { InProcessCluster } from '../kv/cluster/in-process-cluster.js';
import { waitFor, waitForAsync } from '../support/wait.js';
import { runCaptured } from './cli-io.js';

let cluster: InProcessCluster;
let addr: string;
beforeAll(async () => {
  cluster = await InProcessCluster.start();
  await cluster.leader();
  addr = cluster.list.map((server) => server.httpUrl).join(',');
});
afterAll(async () => {
  await cluster?.close();
});

function cli(argv: string[], extra: Partial<CliIo> = {}) {
  return runCaptured(['kv', argv[0], '--addr', addr, ...argv.slice(1)], extra);
}

const lines = (text: string) =>
  text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

async function lockState(name: string): Promise<LockInfoBody> {
  return JSON.parse((await cluster.request('GET', `/locks/${name}`)).body.toString()) as LockInfoBody;
}

describe('raftkit kv range, watch and lock', () => {
  it('range prints one JSON line per key and says where the next page starts', async () => {
    for (const key of ['r/a', 'r/b', 'r/c'])
      expect((await cli(['put', key, `value of ${key}`])).code).toBe(0);
    const page = await cli(['range', 'r/', '--limit', '2']);
    expect(page.code).toBe(0);
    expect(lines(page.stdout.toString()).map((line) => [line.key, line.value])).toEqual([
      ['r/a', 'value of r/a'],
      ['r/b', 'value of r/b'],
    ]);
    expect(page.stderr).toMatch(/^revision \d+; more after "r\/b"/);
    const rest = await cli(['range', 'r/', '--after', 'r/b']);
    expect(lines(rest.stdout.toString()).map((line) => line.key)).toEqual(['r/c']);
    expect((await cli(['range', 'r/', '--limit', '0'])).code).toBe(2);
  });

  it('watch prints every change after --since until interrupted', async () => {
    const since = JSON.parse((await cli(['put', 'cw/0', '0'])).stdout.toString()) as { revision: number };
    const stop = new AbortController();
    const watching = cli(['watch', 'cw/', '--since', String(since.revision)], { signal: stop.signal });
    await cli(['put', 'cw/1', 'one']);
    await cli(['del', 'cw/1']);
    await cli(['put', 'cw/2', Buffer.from([0xff, 0x00]).toString('latin1')]);
    await waitFor(() => lines(watching.stdout()).length >= 3, 10_000, 'three changes');
    stop.abort();
    const result = await watching;
    expect(result.code).toBe(0);
    expect(lines(result.stdout.toString()).map((line) => [line.op, line.key, line.value ?? null])).toEqual([
      ['put', 'cw/1', 'one'],
      ['delete', 'cw/1', null],
      ['put', 'cw/2', Buffer.from([0xff, 0x00]).toString('latin1')],
    ]);
  });

  it('lock -- CMD runs CMD with the token, exits with its status and releases the lock', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'raftkit-lock-')), 'token');
    const script =
      "require('fs').writeFileSync(process.argv[1], process.env.RAFTKIT_LOCK_TOKEN); process.exit(7)";
    const result = await cli(['lock', 'job', '--ttl', '5', '--', process.execPath, '-e', script, file]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(7);
    const token = Number(readFileSync(file, 'utf8'));
    expect(token).toBeGreaterThan(0);
    expect((await lockState('job')).token).toBeNull();
    // A second run gets a greater token.
    const again = await cli(['lock', 'job', '--', process.execPath, '-e', script, file]);
    expect(again.code).toBe(7);
    expect(Number(readFileSync(file, 'utf8'))).toBeGreaterThan(token);
    // A command that cannot start: 127, and the lock is released.
    expect((await cli(['lock', 'job', '--', '/nonexistent/command'])).code).toBe(127);
    expect((await lockState('job')).token).toBeNull();
  });

  it('lock -- CMD stops CMD when the lock is lost, and a held lock makes a second lock without --wait fail', async () => {
    const running = cli([
      'lock',
      'lost',
      '--ttl',
      '1',
      '--',
      process.execPath,
      '-e',
      'setInterval(() => {}, 1000)',
    ]);
    const held = await waitForAsync(
      async () => {
        const state = await lockState('lost');
        return state.lease !== null ? state : null;
      },
      10_000,
      'the lock to be taken',
    );
    const busy = await cli(['lock', 'lost', '--', process.execPath, '-e', 'process.exit(0)']);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/not acquired/);
    // Someone revokes the holder's lease: the lock is lost, CMD is stopped (SIGTERM: 128 + 15).
    expect((await cluster.request('DELETE', `/leases/${held.lease}`)).status).toBe(200);
    const result = await running;
    expect(result.code).toBe(143);
    expect(result.stderr).toMatch(/lost lock lost/);
  });
});
