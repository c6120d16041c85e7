/** The `raftkit kv put|get|del|status` client commands. */
import { readFileSync } from 'node:fs';
import { CredentialError, readTokenFile } from '../kv/credentials.js';
import { EXIT_FAILED, EXIT_OK, UsageError, type CliIo, type Command } from './command.js';
import {
  errorText,
  keyPath,
  kvRequest,
  queryValue,
  ServiceUnreachable,
  type ClientCredentials,
  type KvResponse,
} from './service-client.js';

export const KV_CLIENT_USAGE = `usage: raftkit kv put KEY [VALUE] [--prev VALUE] [options]   (no VALUE: read stdin; --prev '' = must be absent)
       raftkit kv get KEY [--stale] [options]
       raftkit kv del KEY [options]
       raftkit kv status [options]
options:
  --addr URL         a member's API (default $RAFTKIT_ADDR, else http://127.0.0.1:8001)
  --token-file FILE  send the token in FILE (default: the token in $RAFTKIT_TOKEN, if set)
  --tls-ca FILE      trust this CA for https:// members (default: the system's CAs)
  --tls-cert FILE --tls-key FILE   client certificate, for members started with --http-tls-ca`;

/** Flags every client command takes, with a value. */
const CONNECTION_FLAGS = ['--addr', '--token-file', '--tls-ca', '--tls-cert', '--tls-key'] as const;
type ConnectionFlag = (typeof CONNECTION_FLAGS)[number];

interface ClientArgs {
  command: string;
  positional: string[];
  connection: Map<ConnectionFlag, string>;
  addr: string;
  prev: string | undefined;
  stale: boolean;
}

function parseClientArgs(argv: readonly string[], env: Record<string, string | undefined>): ClientArgs {
  const [command, ...rest] = argv;
  const args: ClientArgs = {
    command: command ?? '',
    positional: [],
    connection: new Map(),
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
    if ((CONNECTION_FLAGS as readonly string[]).includes(flag)) {
      args.connection.set(flag as ConnectionFlag, takeValue());
    } else if (flag === '--prev' && args.command === 'put') args.prev = takeValue();
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
  args.addr = args.connection.get('--addr') ?? args.addr;
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

/**
 * The token and TLS files of the connection flags, read and checked (a problem is a UsageError
 * naming the flag). The token comes from --token-file, else from RAFTKIT_TOKEN.
 */
export function clientCredentials(
  flags: ReadonlyMap<ConnectionFlag, string>,
  env: Record<string, string | undefined>,
): ClientCredentials {
  const read = (flag: ConnectionFlag): Buffer | null => {
    const file = flags.get(flag);
    if (file === undefined) return null;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new UsageError(`cannot read ${file}: ${(error as Error).message}`, flag);
    }
  };
  let token: string | null = env.RAFTKIT_TOKEN?.trim() || null;
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
  if ((cert === null) !== (key === null)) throw new UsageError('--tls-cert and --tls-key go together');
  return { token, ca: read('--tls-ca'), cert, key };
}

/** Runs `raftkit kv <argv...>` (client commands); resolves with the exit code. */
export async function runKvClient(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseClientArgs(argv, io.env ?? {});
  const credentials = clientCredentials(args.connection, io.env ?? {});
  const [key, valueArg] = args.positional;
  if (args.command === 'put' && valueArg === undefined && io.stdin === undefined) {
    throw new UsageError('put needs a VALUE');
  }
  const send = (method: string, path: string, body?: Uint8Array) =>
    kvRequest(args.addr, method, path, { body, clock: io.clock, credentials });
  let response: KvResponse;
  try {
    switch (args.command) {
      case 'put': {
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
    if (!(error instanceof ServiceUnreachable)) throw error;
    io.stderr.write(`raftkit kv: cannot reach ${args.addr}: ${error.message}\n`);
    return EXIT_FAILED;
  }
  if (response.status !== 200) {
    const hint = response.status === 401 ? ' (give --token-file FILE or set RAFTKIT_TOKEN)' : '';
    io.stderr.write(`raftkit kv: ${response.status === 404 ? 'not found' : errorText(response)}${hint}\n`);
    return EXIT_FAILED;
  }
  if (args.command === 'get') io.stdout.write(response.body);
  else if (args.command === 'status') {
    io.stdout.write(`${JSON.stringify(JSON.parse(response.body.toString('utf8')), null, 2)}\n`);
  } else io.stdout.write(`${response.body.toString('utf8')}\n`);
  return EXIT_OK;
}

export const kvClient: Command = { name: 'kv', usage: KV_CLIENT_USAGE, run: runKvClient };
