/**
 * The KV service's client side: one request helper that follows the service's 307 redirects and
 * rides out short leaderless spells (503), the `raftkit kv put|get|del|status` commands built on
 * it, and `joinCluster` for `kv serve --join`.
 */
import type { Clock } from '../core/clock.js';
import { sleep, systemClock } from '../platform/clock.js';

export interface KvRequestOptions {
  body?: Uint8Array | string;
  /** Give up retrying 503s after this many ms (default 5000). */
  timeout?: number;
  /** Redirects followed per attempt (default 5): a leader change mid-request can take two hops. */
  maxRedirects?: number;
  clock?: Clock;
}

export interface KvResponse {
  status: number;
  body: Buffer;
  contentType: string;
}

const RETRY_DELAY_MS = 200;

/** Sends one request to the service, following redirects and retrying while no leader is known. */
export async function kvRequest(
  base: string,
  method: string,
  path: string,
  options: KvRequestOptions = {},
): Promise<KvResponse> {
  const clock = options.clock ?? systemClock;
  const deadline = clock.now() + (options.timeout ?? 5000);
  for (;;) {
    const response = await followRedirects(base + path, method, options.body, options.maxRedirects ?? 5);
    if (response.status !== 503 || clock.now() + RETRY_DELAY_MS > deadline) return response;
    await sleep(clock, RETRY_DELAY_MS);
  }
}

async function followRedirects(
  url: string,
  method: string,
  body: KvRequestOptions['body'],
  maxRedirects: number,
): Promise<KvResponse> {
  for (let hop = 0; ; hop++) {
    const response = await fetch(url, { method, body, redirect: 'manual' });
    const location = response.headers.get('location');
    if ((response.status === 307 || response.status === 308) && location !== null && hop < maxRedirects) {
      await response.arrayBuffer();
      url = new URL(location, url).toString();
      continue;
    }
    return {
      status: response.status,
      body: Buffer.from(await response.arrayBuffer()),
      contentType: response.headers.get('content-type') ?? '',
    };
  }
}

/** The path of a key: every byte escaped that could change its meaning, '/' included. */
export function keyPath(key: string): string {
  return `/kv/${encodeURIComponent(key)}`;
}

/** Percent-encodes raw bytes for a query value (the server decodes escapes to bytes). */
export function queryValue(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9._~-]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function errorText(response: KvResponse): string {
  if (response.contentType.startsWith('application/json')) {
    try {
      const parsed = JSON.parse(response.body.toString('utf8')) as { error?: unknown };
      if (typeof parsed.error === 'string') return parsed.error;
    } catch {
      // Fall through to the raw body.
    }
  }
  return response.body.toString('utf8') || `HTTP ${response.status}`;
}

export interface JoinRequest {
  id: string;
  address: string;
  http: string;
  voter: boolean;
}

/** Asks a running member to add this server; retries while the cluster has no leader or the member is down. */
export async function joinCluster(
  joinUrl: string,
  request: JoinRequest,
  options: { clock?: Clock; timeout?: number } = {},
): Promise<void> {
  const clock = options.clock ?? systemClock;
  const deadline = clock.now() + (options.timeout ?? 30_000);
  for (;;) {
    let failure: string;
    try {
      const response = await kvRequest(joinUrl, 'POST', '/cluster/join', {
        body: JSON.stringify(request),
        clock,
        timeout: Math.max(0, deadline - clock.now()),
      });
      if (response.status === 200) return;
      failure = `join refused by ${joinUrl}: ${response.status} ${errorText(response)}`;
      if (response.status < 500) throw new Error(failure);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      failure = `cannot reach ${joinUrl}: ${(error.cause as Error | undefined)?.message ?? error.message}`;
    }
    if (clock.now() + RETRY_DELAY_MS > deadline) throw new Error(failure);
    await sleep(clock, RETRY_DELAY_MS);
  }
}

// ---------------------------------------------------------------------------------------------
// The `raftkit kv` client commands.

export interface CliIo {
  stdout: { write(chunk: string | Uint8Array): unknown };
  stderr: { write(chunk: string | Uint8Array): unknown };
  /** Read when `put` is given no value. */
  stdin?: AsyncIterable<Uint8Array | string>;
  /** Where --addr defaults from (RAFTKIT_ADDR). */
  env?: Record<string, string | undefined>;
  clock?: Clock;
}

export const KV_CLIENT_USAGE = `usage: raftkit kv put KEY [VALUE] [--prev VALUE] [--addr URL]   (no VALUE: read stdin; --prev '' = must be absent)
       raftkit kv get KEY [--stale] [--addr URL]
       raftkit kv del KEY [--addr URL]
       raftkit kv status [--addr URL]
--addr defaults to $RAFTKIT_ADDR, else http://127.0.0.1:8001`;

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

class UsageError extends Error {}

interface ClientArgs {
  command: string;
  positional: string[];
  addr: string;
  prev: string | undefined;
  stale: boolean;
}

function parseClientArgs(argv: readonly string[], env: Record<string, string | undefined>): ClientArgs {
  const [command, ...rest] = argv;
  const args: ClientArgs = {
    command: command ?? '',
    positional: [],
    addr: env.RAFTKIT_ADDR ?? 'http://127.0.0.1:8001',
    prev: undefined,
    stale: false,
  };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const takeValue = () => {
      if (eq > 0 && arg.startsWith('--')) return arg.slice(eq + 1);
      if (i + 1 >= rest.length) throw new UsageError(`${flag} needs a value`);
      return rest[++i];
    };
    if (flag === '--addr') args.addr = takeValue();
    else if (flag === '--prev' && args.command === 'put') args.prev = takeValue();
    else if (flag === '--stale' && args.command === 'get') args.stale = true;
    else if (arg === '--') args.positional.push(...rest.splice(i + 1));
    else if (arg.startsWith('--')) throw new UsageError(`unknown flag ${flag} for ${args.command || 'kv'}`);
    else args.positional.push(arg);
  }
  const arity: Record<string, [number, number]> = { put: [1, 2], get: [1, 1], del: [1, 1], status: [0, 0] };
  const range = arity[args.command];
  if (range === undefined) throw new UsageError(`unknown command ${JSON.stringify(args.command)}`);
  if (args.positional.length < range[0] || args.positional.length > range[1]) {
    throw new UsageError(`wrong number of arguments for ${args.command}`);
  }
  if (!/^https?:\/\//.test(args.addr)) throw new UsageError(`--addr ${args.addr} is not an http(s):// URL`);
  args.addr = args.addr.replace(/\/+$/, '');
  return args;
}

async function readAll(stream: AsyncIterable<Uint8Array | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** Runs `raftkit kv <argv...>` (client commands); resolves with the exit code. */
export async function runKvClient(argv: readonly string[], io: CliIo): Promise<number> {
  let args: ClientArgs;
  try {
    args = parseClientArgs(argv, io.env ?? {});
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`raftkit kv: ${error.message}\n${KV_CLIENT_USAGE}\n`);
    return EXIT_USAGE;
  }
  const [key, valueArg] = args.positional;
  const send = (method: string, path: string, body?: Uint8Array) =>
    kvRequest(args.addr, method, path, { body, clock: io.clock });
  let response: KvResponse;
  try {
    switch (args.command) {
      case 'put': {
        if (valueArg === undefined && io.stdin === undefined) throw new UsageError('put needs a VALUE');
        const value = valueArg !== undefined ? Buffer.from(valueArg) : await readAll(io.stdin!);
        const query = args.prev === undefined ? '' : `?prev=${queryValue(Buffer.from(args.prev))}`;
        response = await send('PUT', keyPath(key) + query, value);
        break;
      }
      case 'get':
        response = await send('GET', keyPath(key) + (args.stale ? '?stale' : ''));
        break;
      case 'del':
        response = await send('DELETE', keyPath(key));
        break;
      default:
        response = await send('GET', '/status');
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`raftkit kv: ${error.message}\n${KV_CLIENT_USAGE}\n`);
      return EXIT_USAGE;
    }
    const cause = (error as Error).cause as Error | undefined;
    io.stderr.write(`raftkit kv: cannot reach ${args.addr}: ${cause?.message ?? (error as Error).message}\n`);
    return EXIT_FAILED;
  }
  if (response.status !== 200) {
    io.stderr.write(`raftkit kv: ${response.status === 404 ? 'not found' : errorText(response)}\n`);
    return EXIT_FAILED;
  }
  if (args.command === 'get') io.stdout.write(response.body);
  else if (args.command === 'status') {
    io.stdout.write(`${JSON.stringify(JSON.parse(response.body.toString('utf8')), null, 2)}\n`);
  } else io.stdout.write(`${response.body.toString('utf8')}\n`);
  return EXIT_OK;
}
