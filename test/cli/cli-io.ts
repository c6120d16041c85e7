/** Runs `raftkit` in this process with captured output, as the CLI tests need it. */
import type { CliIo } from '../../src/cli/command.js';
import { runCli } from '../../src/cli/main.js';

export interface CliRun extends Promise<{ code: number; stdout: Buffer; stderr: string }> {
  /** Standard output so far (for commands that keep running). */
  stdout(): string;
}

export function runCaptured(argv: string[], extra: Partial<CliIo> = {}): CliRun {
  const out: Buffer[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: { write: (chunk) => out.push(Buffer.from(chunk)) },
    stderr: { write: (chunk) => err.push(String(chunk)) },
    env: {},
    ...extra,
  };
  const done = runCli(argv, io).then((code) => ({ code, stdout: Buffer.concat(out), stderr: err.join('') }));
  return Object.assign(done, { stdout: () => Buffer.concat(out).toString() });
}

/** Runs a command to its end; its output as text. */
export async function runToText(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await runCaptured(argv);
  return { code, stdout: stdout.toString(), stderr };
}
