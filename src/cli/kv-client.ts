/** The `raftkit kv put|get|del|status` client commands. */
import { EXIT_FAILED, EXIT_OK, UsageError, type CliIo, type Command } from './command.js';
import { errorText, keyPath, kvRequest, queryValue, type KvResponse } from './service-client.js';

export const KV_CLIENT_USAGE = `usage: raftkit kv put KEY [VALUE] [--prev VALUE] [--addr URL]   (no VALUE: read stdin; --prev '' = must be absent)
       raftkit kv get KEY [--stale] [--addr URL]
       raftkit kv del KEY [--addr URL]
       raftkit kv status [--addr URL]
--addr defaults to $RAFTKIT_ADDR, else http://127.0.0.1:8001`;

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
  const args = parseClientArgs(argv, io.env ?? {});
  const [key, valueArg] = args.positional;
  if (args.command === 'put' && valueArg === undefined && io.stdin === undefined) {
    throw new UsageError('put needs a VALUE');
  }
  const send = (method: string, path: string, body?: Uint8Array) =>
    kvRequest(args.addr, method, path, { body, clock: io.clock });
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

export const kvClient: Command = { name: 'kv', usage: KV_CLIENT_USAGE, run: runKvClient };
