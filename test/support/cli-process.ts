/**
 * `node dist/cli.js ...` as a child process for tests (`npm test` builds dist first): its output
 * collected, its exit awaited, and every process a test file started killed after each test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { afterEach } from 'vitest';

const CLI = resolve('dist/cli.js');

export interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Returns `cli(args, env?)`, which starts `raftkit <args>`; the file's processes are killed after each test. */
export function useCliProcesses(): (args: string[], env?: NodeJS.ProcessEnv) => Run {
  const running: Run[] = [];
  afterEach(() => {
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
