/**
 * `node dist/cli.js ...` as a child process for tests (`npm test` builds dist first): its output
 * collected, its exit awaited, and every process a test file started killed after each test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, afterEach } from 'vitest';
import { freePorts } from '../../src/cli/free-ports.js';

const CLI = resolve('dist/cli.js');

export interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/**
 * Returns `cli(args, env?)`, which starts `raftkit <args>`; the processes it started are killed
 * after each test, or after the whole file with `{ keep: 'file' }` (processes a beforeAll starts).
 */
export function useCliProcesses(
  options: { keep: 'test' | 'file' } = { keep: 'test' },
): (args: string[], env?: NodeJS.ProcessEnv) => Run {
  const running: Run[] = [];
  (options.keep === 'file' ? afterAll : afterEach)(() => {
    for (const run of running.splice(0)) if (run.child.exitCode === null) run.child.kill('SIGKILL');
  });
  return (args, env) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: env === undefined ? process.env : { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.once('close', (code) => done(code)));
    const run = { child, stdout: () => stdout, stderr: () => stderr, exited };
    running.push(run);
    return run;
  };
}

/** Resolves once a `kv serve` process logged that it serves HTTP (the client does not retry refused connections). */
export async function serving(run: Run): Promise<void> {
  for (let waited = 0; !run.stdout().includes('"msg":"kv: serving"'); waited += 20) {
    if (waited > 15_000 || run.child.exitCode !== null)
      throw new Error(`server did not start:\n${run.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** `count` consecutive free loopback ports clear of `avoid` (the demo numbers its nodes from a base port). */
export async function consecutiveFreePorts(count: number, avoid: readonly number[] = []): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const [base] = await freePorts(1);
    const range = Array.from({ length: count }, (_, i) => base + i);
    if (range.at(-1)! > 65535 || range.some((port) => avoid.includes(port))) continue;
    if ((await Promise.all(range.map(isFree))).every(Boolean)) return base;
  }
  throw new Error(`no ${count} consecutive free ports`);
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
