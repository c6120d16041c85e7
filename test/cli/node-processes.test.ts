/** The local cluster's node processes (src/cli/node-processes.ts): their command lines and the child-process launcher. */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { childProcessLauncher, demoNodeSpecs, type DemoNodeSpec } from '../../src/cli/node-processes.js';
import type { Clock } from '../../src/core/clock.js';

describe('demo node specs', () => {
  it('start each node with the contract command line', () => {
    const [n1] = demoNodeSpecs();
    const dataDir = join('data', 'n1');
    const peers = 'n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003';
    expect(n1.serveArgs.join(' ')).toBe(
      `--id n1 --raft-addr 127.0.0.1:7001 --http-addr 127.0.0.1:8001 --data-dir ${dataDir} --peers ${peers} --debug-routes`,
    );
    expect(n1.httpUrl).toBe('http://127.0.0.1:8001');
  });
});

describe('childProcessLauncher', () => {
  const spec = (dir: string): DemoNodeSpec => ({
    id: 'n1',
    raftAddr: '127.0.0.1:7001',
    httpUrl: 'http://127.0.0.1:8001',
    dataDir: join(dir, 'n1'),
    serveArgs: [],
  });
  /** A clock whose timers fire after a short real delay, so the SIGKILL fallback does not take 3 s. */
  const quickClock: Clock = {
    now: () => performance.now(),
    wallTime: () => 0,
    setTimer(_delay, fn) {
      const handle = setTimeout(fn, 100);
      return { cancel: () => clearTimeout(handle) };
    },
  };

  it('starts the CLI as a child and stops it with SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'raftkit-demo-'));
    const cli = join(dir, 'cli.mjs');
    writeFileSync(
      cli,
      "console.log('started', process.argv.slice(2).join(' ')); setInterval(() => {}, 1000);",
    );
    const child = childProcessLauncher(cli)(spec(dir));
    child.start();
    expect(child.running).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await child.stop();
    expect(child.running).toBe(false);
    expect(child.lastExit).toBe('killed by SIGTERM');
  });

  it('kills a child that ignores SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'raftkit-demo-'));
    const cli = join(dir, 'cli.mjs');
    writeFileSync(cli, "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000);");
    const child = childProcessLauncher(cli, quickClock)(spec(dir));
    child.start();
    // Only once the handler is installed does SIGTERM go unheeded.
    const log = `${spec(dir).dataDir}.log`;
    for (let i = 0; i < 250 && !(existsSync(log) && readFileSync(log, 'utf8').includes('ready')); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await child.stop();
    expect(child.lastExit).toBe('killed by SIGKILL');
  });

  it('reports a child that exits by itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'raftkit-demo-'));
    const cli = join(dir, 'cli.mjs');
    writeFileSync(cli, 'process.exit(3);');
    const child = childProcessLauncher(cli)(spec(dir));
    child.start();
    for (let i = 0; i < 100 && child.running; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(child.running).toBe(false);
    expect(child.lastExit).toBe('exit code 3');
  });
});
