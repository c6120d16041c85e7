/**
 * `raftkit kv serve` and the `raftkit kv` client as processes (dist/cli.js; `npm test` builds it
 * first): exit codes, JSON logs, graceful shutdown on SIGTERM, and a restart from the data dirs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePorts } from '../kit/helpers.js';

const CLI = resolve('dist/cli.js');

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

const running: Run[] = [];

function cli(args: string[]): Run {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('close', (code) => done(code)));
  const run = { child, stdout: () => stdout, stderr: () => stderr, exited };
  running.push(run);
  return run;
}

/** Resolves once the server logged that it serves HTTP (the client does not retry refused connections). */
async function serving(run: Run): Promise<void> {
  for (let waited = 0; !run.stdout().includes('"msg":"kv: serving"'); waited += 20) {
    if (waited > 15_000 || run.child.exitCode !== null)
      throw new Error(`server did not start:\n${run.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

afterEach(() => {
  for (const run of running.splice(0)) if (run.child.exitCode === null) run.child.kill('SIGKILL');
});

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
