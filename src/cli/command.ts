/**
 * What every `raftkit` command shares: its shape, its I/O, the one usage-error type (main.ts
 * reports it as `raftkit <command>: <problem>` plus the command's usage, exit code 2) and the
 * checks of flag values.
 */
import { parseArgs } from 'node:util';
import type { Clock } from '../index.js';

export const EXIT_OK = 0;
/** The command ran and failed (a refused request, a violation found, a server that stopped). */
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export interface CliIo {
  stdout: { write(chunk: string | Uint8Array): unknown };
  stderr: { write(chunk: string | Uint8Array): unknown };
  /** Read by `kv put` when it is given no value. */
  stdin?: AsyncIterable<Uint8Array | string>;
  /** Environment defaults (RAFTKIT_ADDR). */
  env?: Record<string, string | undefined>;
  /** Stops the long-running commands (`kv watch`, `kv lock`); without it they stop on SIGINT, SIGTERM or SIGHUP. */
  signal?: AbortSignal;
  clock?: Clock;
}

export interface Command {
  /** As typed after `raftkit`, e.g. "kv serve". */
  readonly name: string;
  readonly usage: string;
  /** The full `--help` text (every flag with its default); the usage when absent. */
  readonly help?: () => string;
  /** Resolves with the exit code; rejects with UsageError when the command line is wrong. */
  run(argv: string[], io: CliIo): Promise<number>;
}

/** A command line the command cannot run. */
export class UsageError extends Error {
  override name = 'UsageError';
  /** The flag at fault (e.g. "--peers") when there is one; the message then starts with it. */
  readonly flag: string | undefined;

  constructor(message: string, flag?: string) {
    super(flag === undefined ? message : `${flag}: ${message}`);
    this.flag = flag;
  }
}

/** node:util's parseArgs, strict, with its errors as UsageErrors: `--name value` flags and `--name` switches. */
export function parseFlags<const Value extends string, const Switch extends string = never>(
  argv: string[],
  flags: { values: readonly Value[]; switches?: readonly Switch[] },
): { [Flag in Value]?: string } & { [Flag in Switch]?: boolean } {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const name of flags.values) options[name] = { type: 'string' };
  for (const name of flags.switches ?? []) options[name] = { type: 'boolean' };
  try {
    return parseArgs({ args: argv, options, strict: true }).values as { [Flag in Value]?: string } & {
      [Flag in Switch]?: boolean;
    };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export interface IntegerFlag {
  fallback: number;
  min: number;
  max: number;
  /** How the refusal names the allowed values (default "an integer from min to max"). */
  what?: string;
}

/** The integer value of `flag`, or `fallback` when it was not given. */
export function integerFlag(text: string | undefined, flag: string, limits: IntegerFlag): number {
  if (text === undefined) return limits.fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < limits.min || value > limits.max) {
    const what = limits.what ?? `an integer from ${limits.min} to ${limits.max}`;
    throw new UsageError(`${flag} must be ${what}, got "${text}"`);
  }
  return value;
}
