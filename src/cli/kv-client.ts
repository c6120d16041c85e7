/**
 * The `raftkit kv` client commands — put, get, del, status, range, watch and lock — built on
 * `raftkit/client` (src/client), the project's one client of the KV service.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import {
  KvClient,
  KvClientError,
  KvHttpError,
  PreconditionFailedError,
  UnavailableError,
  type KvClientOptions,
  type Lock,
} from '../client/index.js';
import { CredentialError, readTokenFile } from '../kv/credentials.js';
import { EXIT_FAILED, EXIT_OK, UsageError, integerFlag, type CliIo, type Command } from './command.js';

export const KV_CLIENT_USAGE = `usage: raftkit kv put KEY [VALUE] [--prev VALUE] [--if-revision R] [--lease ID] [options]
                                     (no VALUE: read stdin; --prev '' = must be absent)
       raftkit kv get KEY [--stale] [options]
       raftkit kv del KEY [--if-revision R] [options]
       raftkit kv status [options]
       raftkit kv range PREFIX [--limit N] [--after KEY] [--stale] [options]   one JSON line per key
       raftkit kv watch PREFIX [--since R] [options]      one JSON line per change, until interrupted
       raftkit kv lock NAME [--ttl S] [--wait W] [options] -- CMD [ARGS...]
                                     run CMD holding the lock (token in $RAFTKIT_LOCK_TOKEN); CMD is
                                     stopped if the lock is lost; exits with CMD's status
options:
  --addr URL[,URL...]  members' APIs (default $RAFTKIT_ADDR, else http://127.0.0.1:8001)
  --timeout S          seconds per request, retries included (default 10)
  --token-file FILE    send the token in FILE (default: the token in $RAFTKIT_TOKEN, if set)
  --tls-ca FILE        trust this CA for https:// members (default: the system's CAs)
  --tls-cert FILE --tls-key FILE   client certificate, for members started with --http-tls-ca`;

/** Flags every client command takes, with a value. */
const CONNECTION_FLAGS = ['--addr', '--timeout', '--token-file', '--tls-ca', '--tls-cert', '--tls-key'];

/** Each command's own flags (those with a value, and switches) and its number of arguments. */
const COMMANDS: Record<string, { values: string[]; switches: string[]; arity: [number, number] }> = {
  put: { values: ['--prev', '--if-revision', '--lease'], switches: [], arity: [1, 2] },
  get: { values: [], switches: ['--stale'], arity: [1, 1] },
  del: { values: ['--if-revision'], switches: [], arity: [1, 1] },
  status: { values: [], switches: [], arity: [0, 0] },
  range: { values: ['--limit', '--after'], switches: ['--stale'], arity: [1, 1] },
  watch: { values: ['--since'], switches: [], arity: [1, 1] },
  lock: { values: ['--ttl', '--wait'], switches: [], arity: [1, 1] },
};

interface ClientArgs {
  command: string;
  positional: string[];
  flags: Map<string, string>;
  switches: Set<string>;
  /** What follows `--` (kv lock's command). */
  rest: string[];
}

function parseClientArgs(argv: readonly string[]): ClientArgs {
  const [command = '', ...words] = argv;
  const spec = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (spec === undefined) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  const args: ClientArgs = { command, positional: [], flags: new Map(), switches: new Set(), rest: [] };
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if (word === '--') {
      args.rest = words.slice(i + 1);
      break;
    }
    const eq = word.indexOf('=');
    const flag = word.startsWith('--') && eq > 0 ? word.slice(0, eq) : word;
    if (CONNECTION_FLAGS.includes(flag) || spec.values.includes(flag)) {
      if (eq > 0 && word.startsWith('--')) args.flags.set(flag, word.slice(eq + 1));
      else if (i + 1 < words.length) args.flags.set(flag, words[++i]);
      else throw new UsageError(`${flag} needs a value`);
    } else if (spec.switches.includes(word)) args.switches.add(word);
    else if (word.startsWith('--')) throw new UsageError(`unknown flag ${flag} for ${command}`);
    else args.positional.push(word);
  }
  const [min, max] = spec.arity;
  if (args.positional.length < min || args.positional.length > max)
    throw new UsageError(`wrong number of arguments for ${command}`);
  if (command === 'lock' && args.rest.length === 0) throw new UsageError('lock needs -- CMD [ARGS...]');
  if (command !== 'lock' && args.rest.length > 0) throw new UsageError(`${command} takes no -- CMD`);
  return args;
}

/** The client's options from the connection flags and the environment (files read and checked). */
export function clientOptions(
  flags: ReadonlyMap<string, string>,
  env: Record<string, string | undefined>,
): KvClientOptions {
  const read = (flag: string): Buffer | undefined => {
    const file = flags.get(flag);
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new UsageError(`cannot read ${file}: ${(error as Error).message}`, flag);
    }
  };
  const endpoints = (flags.get('--addr') ?? env.RAFTKIT_ADDR ?? 'http://127.0.0.1:8001')
    .split(',')
    .map((addr) => addr.trim().replace(/\/+$/, ''));
  for (const addr of endpoints)
    if (!/^https?:\/\/[^/]+$/.test(addr))
      throw new UsageError(`--addr ${addr} is not an http(s)://host:port URL`);
  const timeout =
    integerFlag(flags.get('--timeout'), '--timeout', { fallback: 10, min: 1, max: 3600 }) * 1000;
  let token = env.RAFTKIT_TOKEN?.trim() || undefined;
  const tokenFile = flags.get('--token-file');
  if (tokenFile !== undefined) {
    try {
      token = readTokenFile(tokenFile, '--token-file').token;
    } catch (error) {
      if (error instanceof CredentialError) throw new UsageError(error.message);
      throw error;
    }
  }
  const cert = read('--tls-cert');
  const key = read('--tls-key');
  if ((cert === undefined) !== (key === undefined))
    throw new UsageError('--tls-cert and --tls-key go together');
  return { endpoints, timeout, token, tls: { ca: read('--tls-ca'), cert, key } };
}

async function readAll(stream: AsyncIterable<Uint8Array | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** A value as a JSON line shows it: text when it is UTF-8, else base64 under `valueBase64`. */
function shownValue(value: Buffer | null): { value: string | null } | { valueBase64: string } {
  if (value === null) return { value: null };
  const text = value.toString('utf8');
  return Buffer.from(text, 'utf8').equals(value)
    ? { value: text }
    : { valueBase64: value.toString('base64') };
}

/**
 * An AbortSignal for the long-running commands: the caller's (tests), else one that SIGINT,
 * SIGTERM and SIGHUP abort while the command runs.
 */
function commandSignal(io: CliIo): { signal: AbortSignal; done: () => void } {
  if (io.signal !== undefined) return { signal: io.signal, done: () => {} };
  const controller = new AbortController();
  const stop = (name: NodeJS.Signals) => controller.abort(new Error(`interrupted by ${name}`));
  const names: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const name of names) process.on(name, stop);
  return { signal: controller.signal, done: () => names.forEach((name) => process.off(name, stop)) };
}

/** Runs `raftkit kv <argv...>` (client commands); resolves with the exit code. */
export async function runKvClient(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseClientArgs(argv);
  const options = clientOptions(args.flags, io.env ?? {});
  const [first, second] = args.positional;
  if (args.command === 'put' && second === undefined && io.stdin === undefined)
    throw new UsageError('put needs a VALUE');
  const revision = (flag: string) =>
    args.flags.has(flag)
      ? integerFlag(args.flags.get(flag), flag, { fallback: 0, min: 0, max: Number.MAX_SAFE_INTEGER })
      : undefined;
  const client = new KvClient({ ...options, clock: io.clock });
  const print = (line: unknown) => io.stdout.write(`${JSON.stringify(line)}\n`);
  try {
    switch (args.command) {
      case 'put': {
        const value = second !== undefined ? Buffer.from(second) : await readAll(io.stdin!);
        const prev = args.flags.get('--prev');
        const written = await client.put(first, value, {
          prev: prev === undefined ? undefined : prev === '' ? null : prev,
          ifRevision: revision('--if-revision'),
          lease: args.flags.get('--lease'),
        });
        print({ index: written, revision: written });
        return EXIT_OK;
      }
      case 'get': {
        const found = await client.get(first, { stale: args.switches.has('--stale') });
        if (found === null) {
          io.stderr.write('raftkit kv: not found\n');
          return EXIT_FAILED;
        }
        io.stdout.write(found.value);
        return EXIT_OK;
      }
      case 'del': {
        const deleted = await client.delete(first, { ifRevision: revision('--if-revision') });
        print({ index: deleted, revision: deleted });
        return EXIT_OK;
      }
      case 'status':
        io.stdout.write(`${JSON.stringify(await client.status(options.endpoints[0]), null, 2)}\n`);
        return EXIT_OK;
      case 'range': {
        const limit = integerFlag(args.flags.get('--limit'), '--limit', {
          fallback: 100,
          min: 1,
          max: 10_000,
        });
        const page = await client.range(first, {
          limit,
          after: args.flags.get('--after'),
          stale: args.switches.has('--stale'),
        });
        for (const item of page.items)
          print({ key: item.key, revision: item.revision, ...shownValue(item.value) });
        const last = page.items.at(-1)?.key;
        io.stderr.write(
          `revision ${page.revision}${page.more && last !== undefined ? `; more after ${JSON.stringify(last)} (--after)` : ''}\n`,
        );
        return EXIT_OK;
      }
      case 'watch':
        return await watchCommand(client, first, revision('--since'), io, print);
      default:
        return await lockCommand(client, first, args, io);
    }
  } catch (error) {
    return failure(error, options.endpoints.join(','), io);
  } finally {
    client.close();
  }
}

function failure(error: unknown, addr: string, io: CliIo): number {
  if (error instanceof UnavailableError)
    io.stderr.write(`raftkit kv: cannot reach ${addr}: ${error.message}\n`);
  else if (error instanceof PreconditionFailedError)
    io.stderr.write(`raftkit kv: ${error.message.replace(/^[^:]*: 412 /, '')}\n`);
  else if (error instanceof KvHttpError) {
    const hint = error.status === 401 ? ' (give --token-file FILE or set RAFTKIT_TOKEN)' : '';
    io.stderr.write(`raftkit kv: ${error.body.error ?? error.message}${hint}\n`);
  } else if (error instanceof KvClientError) io.stderr.write(`raftkit kv: ${error.message}\n`);
  else throw error;
  return EXIT_FAILED;
}

async function watchCommand(
  client: KvClient,
  prefix: string,
  since: number | undefined,
  io: CliIo,
  print: (line: unknown) => void,
): Promise<number> {
  const { signal, done } = commandSignal(io);
  try {
    for await (const event of client.watch(prefix, { since, signal }))
      print({ revision: event.revision, op: event.op, key: event.key, ...shownValue(event.value) });
  } catch (error) {
    if (!signal.aborted) throw error;
  } finally {
    done();
  }
  return EXIT_OK;
}

/** Grace between SIGTERM and SIGKILL for a command whose lock was lost. */
const KILL_GRACE_MS = 5000;

async function lockCommand(client: KvClient, name: string, args: ClientArgs, io: CliIo): Promise<number> {
  const ttl = integerFlag(args.flags.get('--ttl'), '--ttl', { fallback: 10, min: 1, max: 86_400 });
  const wait = integerFlag(args.flags.get('--wait'), '--wait', { fallback: 0, min: 0, max: 300 });
  const { signal, done } = commandSignal(io);
  let lock: Lock;
  try {
    lock = await client.lock(name, { ttl, wait, signal });
  } catch (error) {
    done();
    throw error;
  }
  try {
    const [command, ...commandArgs] = args.rest;
    const child = spawn(command, commandArgs, {
      stdio: 'inherit',
      env: { ...process.env, ...io.env, RAFTKIT_LOCK_NAME: name, RAFTKIT_LOCK_TOKEN: String(lock.token) },
    });
    let lost = false;
    const stopChild = () => {
      child.kill('SIGTERM');
      const timer = client.settings.clock.setTimer(KILL_GRACE_MS, () => child.kill('SIGKILL'));
      child.once('exit', () => timer.cancel());
    };
    const onLost = () => {
      lost = true;
      io.stderr.write(
        `raftkit kv lock: lost lock ${name} (${(lock.signal.reason as Error).message}); stopping ${command}\n`,
      );
      stopChild();
    };
    lock.signal.addEventListener('abort', onLost, { once: true });
    signal.addEventListener('abort', stopChild, { once: true });
    const status = await new Promise<number>((resolve) => {
      child.once('error', (error) => {
        io.stderr.write(`raftkit kv lock: cannot run ${command}: ${error.message}\n`);
        resolve(127);
      });
      child.once('exit', (code, killedBy) =>
        resolve(code ?? 128 + (killedBy === null ? 0 : (constants.signals[killedBy] ?? 0))),
      );
    });
    lock.signal.removeEventListener('abort', onLost);
    signal.removeEventListener('abort', stopChild);
    return lost && status === 0 ? EXIT_FAILED : status;
  } finally {
    done();
    await lock
      .release()
      .catch((error: unknown) =>
        io.stderr.write(`raftkit kv lock: could not release ${name}: ${(error as Error).message}\n`),
      );
  }
}

const KV_HELP = `${KV_CLIENT_USAGE}
       raftkit kv serve ...   run one member of the service (raftkit kv serve --help)

Talk to the replicated KV service (docs/kv-contract.md) through raftkit/client: writes and
linearizable reads go to the leader (found through /status and redirects); reads are retried,
a write whose outcome is unknown is reported, never repeated.
command flags:
  --prev VALUE         put only if the current value is VALUE; '' = only if the key is absent
                       (default: unconditional)
  --if-revision R      put/del only if the key's revision is R (If-Match; default: unconditional)
  --lease ID           put the key attached to lease ID (default: none)
  --stale              get/range from the member's local state, without a read-index round
                       (default: linearizable)
  --limit N --after K  range: at most N keys per page (default 100), starting after key K
  --since R            watch: changes after revision R (default: from now)
  --ttl S --wait W     lock: the lock's lease TTL (default 10 s), how long to wait (default 0)
  --help, -h           print this help`;

export const kvClient: Command = {
  name: 'kv',
  usage: KV_CLIENT_USAGE,
  help: () => KV_HELP,
  run: runKvClient,
};
