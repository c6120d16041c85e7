/**
 * The KV HTTP layer alone: a KvHttpServer over test/kv/fake-cluster.ts (the real state machine
 * behind a cluster double that commits every apply at once: no Raft, no disk, no peers) in this
 * process, loaded with puts by bench/bin/loadgen from another. Prints this process's CPU-s per 1k
 * answered puts: what src/kv/http and node:http cost per write, without the noise of the rest of
 * a node (batching, fsync, peers), which dominates a 3-node run on a busy machine.
 *
 *   npm run bench:http [-- --rounds N --seconds N --concurrency N --server <dist>/kv/http/server.js]
 *
 * `--server` loads KvHttpServer from another build (e.g. main's dist copied aside), for A/B runs
 * in one process: `--server a.js,b.js` alternates the builds round by round (a, b, b, a, ...).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { KvHttpServer } from '../src/kv/http/server.js';
import { FakeSingleNodeCluster } from '../test/kv/fake-cluster.js';
import { runLoad } from './loadgen.js';
import { buildLoadgen } from './tools.js';

interface Options {
  rounds: number;
  seconds: number;
  concurrency: number;
  servers: string[];
}

function parseArgs(argv: string[]): Options {
  const options: Options = { rounds: 4, seconds: 5, concurrency: 64, servers: [] };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--server') options.servers = value.split(',').map((path) => resolve(path));
    else if (flag === '--rounds' || flag === '--seconds' || flag === '--concurrency') {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new Error(`${flag} must be an integer >= 1`);
      options[flag.slice(2) as 'rounds' | 'seconds' | 'concurrency'] = n;
    } else throw new Error(`unknown flag ${flag}`);
  }
  return options;
}

type ServerClass = new (options: ConstructorParameters<typeof KvHttpServer>[0]) => KvHttpServer;

async function loadServer(path: string | undefined): Promise<ServerClass> {
  if (path === undefined) return (await import('../src/kv/http/server.js')).KvHttpServer;
  return ((await import(pathToFileURL(path).href)) as { KvHttpServer: ServerClass }).KvHttpServer;
}

/** One round: a fresh server, a warm-up and a measured window; CPU-s per 1k answered puts. */
async function round(Server: ServerClass, options: Options): Promise<{ rate: number; cpuPer1k: number }> {
  const cluster = new FakeSingleNodeCluster();
  const server = new Server({ cluster, fsm: cluster.fsm });
  const url = await server.listen(0);
  try {
    const result = await runLoad({
      api: 'kv',
      urls: [url],
      op: 'put',
      concurrency: options.concurrency,
      warmupS: 1,
      durationS: options.seconds,
      keys: 100_000,
      valueSize: 100,
      pids: [process.pid],
    });
    if (result.ok === 0) throw new Error(`no put answered: ${JSON.stringify(result.status)}`);
    return { rate: result.rate, cpuPer1k: (1000 * result.server_cpu_s[0]) / result.ok };
  } finally {
    await server.close();
  }
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  buildLoadgen();
  const builds = options.servers.length === 0 ? [undefined] : options.servers;
  const classes = await Promise.all(builds.map(loadServer));
  const seen = builds.map(() => [] as number[]);
  for (let r = 0; r < options.rounds; r++) {
    // a, b, b, a, a, b, ...: neither build always runs first.
    const order = r % 2 === 0 ? classes.keys() : [...classes.keys()].reverse();
    for (const which of order) {
      const { rate, cpuPer1k } = await round(classes[which], options);
      seen[which].push(cpuPer1k);
      console.log(
        `round ${r + 1} ${builds[which] ?? 'this build'}: ${rate.toFixed(0)} puts/s, ${cpuPer1k.toFixed(4)} CPU-s per 1k`,
      );
    }
  }
  builds.forEach((build, which) => {
    const sorted = [...seen[which]].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    console.log(
      `${build ?? 'this build'}: median ${median.toFixed(4)} CPU-s per 1k puts (${sorted.length} rounds)`,
    );
  });
}

await main();
