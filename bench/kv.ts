/**
 * The KV service's v2 features, measured:
 *  - range: the cost of `GET /kv?prefix=&limit=100&after=` in the state machine as the key count
 *    grows (the ordered index makes it O(log n + limit)), beside sorting every key per request;
 *  - watch: events/s delivered to W watchers (default 1,000) of one `kv serve` process while a
 *    writer puts keys under the watched prefix, with that server's CPU and RSS;
 *  - locks: acquire and release latency (p50/p99) on a 3-server cluster of `kv serve` processes,
 *    at concurrency 1 and 16 (one lock name per worker), and hand-overs/s of one contended lock.
 *
 *   npm run bench:kv [-- range|watch|locks ...] [--seconds N] [--watchers N] [--keys N,N,...]
 *
 * The servers are child processes (dist-bench/src/cli.js); the clients run in this process, which
 * shares the machine's cores with them: read the numbers as orders of magnitude.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../src/cli/free-ports.js';
import {
  childProcessLauncher,
  demoNodeSpecs,
  type ChildNodeProcess,
  type DemoNodeSpec,
} from '../src/cli/node-processes.js';
import { LogType } from '../src/core/types.js';
import { encodeCommand } from '../src/kv/commands.js';
import { KvFsm } from '../src/kv/fsm.js';
import { compareKeys } from '../src/kv/state/sorted-keys.js';
import { fmt, percentile, procStats, startSingleServer } from './kv-server.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const TIMING = ['--heartbeat-timeout', '500', '--election-timeout', '500', '--leader-lease-timeout', '250'];

interface Options {
  sections: string[];
  seconds: number;
  watchers: number;
  keys: number[];
}

function parseArgs(argv: string[]): Options {
  const options: Options = { sections: [], seconds: 10, watchers: 1000, keys: [10_000, 100_000, 1_000_000] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--seconds') options.seconds = Number(argv[++i]);
    else if (arg === '--watchers') options.watchers = Number(argv[++i]);
    else if (arg === '--keys') options.keys = argv[++i].split(',').map(Number);
    else options.sections.push(arg);
  }
  if (options.sections.length === 0) options.sections = ['range', 'watch', 'locks'];
  return options;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function call(
  base: string,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; text: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        agent,
        headers: body === undefined ? {} : { 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// ---------------------------------------------------------------------------------------- range

function benchRange(keyCounts: number[]): void {
  console.log('range: GET /kv?prefix=user/&limit=100&after=<random key> in the state machine');
  console.log('  keys        index µs/range   sort-all-keys µs/range');
  for (const count of keyCounts) {
    const fsm = new KvFsm({ watchHistory: 100 });
    const value = Buffer.alloc(16, 1);
    // Random insertion order, so the index is built the hard way.
    const order = Array.from({ length: count }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = (i * 2_654_435_761) % (i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    let index = 1;
    for (const i of order) {
      fsm.apply({
        index: index++,
        term: 1,
        type: LogType.Command,
        data: encodeCommand({ op: 'put', key: `user/${String(i).padStart(8, '0')}`, value }),
        extensions: new Uint8Array(),
        appendedAt: 0,
      });
    }
    const ranges = 2000;
    const started = performance.now();
    let items = 0;
    for (let r = 0; r < ranges; r++) {
      const after = `user/${String((r * 7919) % count).padStart(8, '0')}`;
      items += fsm.range({ prefix: 'user/', after, limit: 100, maxValueBytes: 4 << 20 }).items.length;
    }
    const indexUs = ((performance.now() - started) * 1000) / ranges;
    // The alternative: collect and sort every key per request (a few requests are enough to see it).
    let sortUs = NaN;
    if (count <= 100_000) {
      const keys = fsm
        .range({ prefix: 'user/', limit: count, maxValueBytes: Infinity })
        .items.map(([key]) => key);
      const sortStarted = performance.now();
      for (let r = 0; r < 5; r++) [...keys].sort(compareKeys).slice(0, 100);
      sortUs = ((performance.now() - sortStarted) * 1000) / 5;
    }
    if (items === 0) throw new Error('ranges returned nothing');
    console.log(
      `  ${fmt(count).padStart(9)}   ${fmt(indexUs, 1).padStart(14)}   ${Number.isNaN(sortUs) ? '(skipped)'.padStart(22) : fmt(sortUs, 0).padStart(22)}`,
    );
  }
}

// ---------------------------------------------------------------------------------------- processes

async function startCluster(
  count: number,
  extra: string[],
): Promise<{ specs: DemoNodeSpec[]; nodes: ChildNodeProcess[]; root: string }> {
  const ports = await freePorts(2 * count);
  const root = mkdtempSync(join(tmpdir(), 'raftkit-bench-kv-'));
  const specs = demoNodeSpecs({
    nodes: count,
    raftPorts: ports.slice(0, count),
    httpPorts: ports.slice(count),
    dataRoot: root,
    extraServeArgs: [...TIMING, ...extra],
  });
  const launch = childProcessLauncher(CLI);
  const nodes = specs.map(launch);
  for (const node of nodes) node.start();
  return { specs, nodes, root };
}

async function leaderOf(specs: DemoNodeSpec[]): Promise<DemoNodeSpec> {
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    for (const spec of specs) {
      try {
        const status = JSON.parse((await call(spec.httpUrl, 'GET', '/status')).text) as {
          state: string;
          leader: { http: string };
        };
        if (status.state === 'Leader' && status.leader.http !== '') return spec;
      } catch {
        // not up yet
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('no leader');
}

// ---------------------------------------------------------------------------------------- watch

async function benchWatch(watchers: number, seconds: number): Promise<void> {
  // One server as a child process of its own, to read its CPU time and RSS from /proc.
  const single = await startSingleServer(CLI, [...TIMING, '--max-watches', String(watchers + 10)]);
  const { child } = single;
  try {
    const server = single;
    const pid = child.pid!;
    const url = new URL(server.httpUrl);
    let delivered = 0;
    let open = 0;
    const sockets: { destroy(): void }[] = [];
    await Promise.all(
      Array.from(
        { length: watchers },
        () =>
          new Promise<void>((resolve, reject) => {
            const req = request(
              { host: url.hostname, port: url.port, path: '/watch?prefix=fan/', agent: false },
              (res) => {
                if (res.statusCode !== 200) return reject(new Error(`watch answered ${res.statusCode}`));
                open++;
                res.on('data', (chunk: Buffer) => {
                  for (let at = chunk.indexOf('data: '); at >= 0; at = chunk.indexOf('data: ', at + 6))
                    delivered++;
                });
                resolve();
              },
            );
            req.on('error', reject);
            sockets.push(req);
            req.end();
          }),
      ),
    );
    const before = procStats(pid);
    const value = 'x'.repeat(64);
    let writes = 0;
    let writing = true;
    const started = performance.now();
    const writers = Array.from({ length: 16 }, async (_, w) => {
      for (let i = 0; writing; i++) {
        const res = await call(server.httpUrl, 'PUT', `/kv/fan/${w}-${i % 50}`, value);
        if (res.status === 200) writes++;
      }
    });
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    writing = false;
    await Promise.all(writers);
    const writeSeconds = (performance.now() - started) / 1000;
    const expected = writes * watchers;
    const drainDeadline = performance.now() + 60_000;
    while (delivered < expected && performance.now() < drainDeadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    const totalSeconds = (performance.now() - started) / 1000;
    const after = procStats(pid);
    const status = JSON.parse((await call(server.httpUrl, 'GET', '/status')).text) as { watchers: number };
    console.log(
      `watch fan-out: ${open} watchers on one server, 16 writers of 64-byte values for ${seconds} s`,
    );
    console.log(`  writes acknowledged          ${fmt(writes)} (${fmt(writes / writeSeconds)}/s)`);
    console.log(
      `  events delivered             ${fmt(delivered)} of ${fmt(expected)} in ${fmt(totalSeconds, 1)} s = ${fmt(delivered / totalSeconds)} events/s`,
    );
    console.log(
      `  server CPU                   ${fmt(((after.cpuSeconds - before.cpuSeconds) / totalSeconds) * 100)}% of one core`,
    );
    console.log(
      `  server RSS                   ${fmt(before.rssMiB, 1)} MiB with idle watchers, ${fmt(after.rssMiB, 1)} MiB after`,
    );
    console.log(`  watchers still open          ${status.watchers}`);
    for (const socket of sockets) socket.destroy();
  } finally {
    await single.stop();
  }
}

// ---------------------------------------------------------------------------------------- locks

async function benchLocks(seconds: number): Promise<void> {
  const { specs, nodes, root } = await startCluster(3, []);
  try {
    const leader = await leaderOf(specs);
    console.log(
      `locks: acquire (POST /locks/{name}) and release (DELETE) on the leader of 3 kv serve processes, ${seconds} s each`,
    );
    console.log('  workers   acquire p50/p99 ms   release p50/p99 ms   acquisitions/s');
    for (const workers of [1, 16]) {
      const acquire: number[] = [];
      const release: number[] = [];
      let running = true;
      const loops = Array.from({ length: workers }, async (_, w) => {
        while (running) {
          let t = performance.now();
          const got = await call(leader.httpUrl, 'POST', `/locks/bench-${w}`, '{"ttl":10}');
          if (got.status !== 200) throw new Error(`acquire answered ${got.status} ${got.text}`);
          acquire.push(performance.now() - t);
          const { token } = JSON.parse(got.text) as { token: number };
          t = performance.now();
          const freed = await call(leader.httpUrl, 'DELETE', `/locks/bench-${w}`, JSON.stringify({ token }));
          if (freed.status !== 200) throw new Error(`release answered ${freed.status} ${freed.text}`);
          release.push(performance.now() - t);
        }
      });
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      running = false;
      await Promise.all(loops);
      acquire.sort((a, b) => a - b);
      release.sort((a, b) => a - b);
      console.log(
        `  ${String(workers).padStart(7)}   ${fmt(percentile(acquire, 50), 2).padStart(8)} / ${fmt(percentile(acquire, 99), 2).padEnd(8)}   ${fmt(percentile(release, 50), 2).padStart(8)} / ${fmt(percentile(release, 99), 2).padEnd(8)}   ${fmt(acquire.length / seconds).padStart(14)}`,
      );
    }
    // One lock, 16 clients queued on it: each release hands it to the next waiter through the log.
    let handovers = 0;
    let running = true;
    const started = performance.now();
    const contenders = Array.from({ length: 16 }, async () => {
      while (running) {
        const got = await call(leader.httpUrl, 'POST', '/locks/contended', '{"ttl":10,"wait":60}');
        if (got.status !== 200) continue;
        handovers++;
        const { token } = JSON.parse(got.text) as { token: number };
        await call(leader.httpUrl, 'DELETE', '/locks/contended', JSON.stringify({ token }));
      }
    });
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    running = false;
    await Promise.all(contenders);
    console.log(
      `  one lock, 16 queued clients: ${fmt(handovers / ((performance.now() - started) / 1000))} hand-overs/s`,
    );
  } finally {
    await Promise.all(nodes.map((node) => node.stop()));
    rmSync(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  for (const section of options.sections) {
    if (section === 'range') benchRange(options.keys);
    else if (section === 'watch') await benchWatch(options.watchers, options.seconds);
    else if (section === 'locks') await benchLocks(options.seconds);
    else throw new Error(`unknown section ${section} (range, watch, locks)`);
  }
  agent.destroy();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
