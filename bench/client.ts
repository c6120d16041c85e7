/**
 * raftkit/client, measured against one `kv serve` child process:
 *  - overhead: latency and this process's CPU per request of `client.get` and `client.put` beside
 *    the same requests through Node's built-in fetch (keep-alive, no retries, no checks), at
 *    concurrency 1 and 16;
 *  - watch fan-out: W watchers (default 1,000) in this one process, each a `client.watch()` async
 *    iterator, while 16 writers put keys under the watched prefix: events/s handed to the
 *    iterators' consumers, and this process's CPU.
 *
 *   npm run bench:client [-- overhead|watch ...] [--requests N] [--seconds N] [--watchers N]
 *
 * The server shares the machine's cores with this process: read the numbers as orders of magnitude.
 */
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { KvClient } from '../src/client/index.js';
import { fmt, percentile, startSingleServer } from './kv-server.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const TIMING = ['--heartbeat-timeout', '500', '--election-timeout', '500', '--leader-lease-timeout', '250'];

interface Options {
  sections: string[];
  requests: number;
  seconds: number;
  watchers: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { sections: [], requests: 5000, seconds: 10, watchers: 1000 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--requests') options.requests = Number(argv[++i]);
    else if (arg === '--seconds') options.seconds = Number(argv[++i]);
    else if (arg === '--watchers') options.watchers = Number(argv[++i]);
    else options.sections.push(arg);
  }
  if (options.sections.length === 0) options.sections = ['overhead', 'watch'];
  return options;
}

/** Runs `requests` calls of `one` over `concurrency` workers: latencies (ms), wall and CPU time. */
async function measure(requests: number, concurrency: number, one: (i: number) => Promise<void>) {
  const latencies: number[] = [];
  let next = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        const i = next++;
        const t0 = performance.now();
        await one(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  return {
    perSecond: requests / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuUsPerRequest: (used.user + used.system) / requests,
  };
}

async function benchOverhead(requests: number): Promise<void> {
  const server = await startSingleServer(CLI, TIMING);
  const client = new KvClient({ endpoints: [server.httpUrl] });
  try {
    await client.put('bench/k', 'v'.repeat(64));
    const value = 'v'.repeat(64);
    const cases: [string, (i: number) => Promise<void>][] = [
      [
        'GET  raw fetch     ',
        async () => void (await (await fetch(`${server.httpUrl}/kv/bench%2Fk`)).arrayBuffer()),
      ],
      ['GET  client.get    ', async () => void (await client.get('bench/k'))],
      [
        'GET  fetch ?stale  ',
        async () => void (await (await fetch(`${server.httpUrl}/kv/bench%2Fk?stale`)).arrayBuffer()),
      ],
      ['GET  client stale  ', async () => void (await client.get('bench/k', { stale: true }))],
      [
        'PUT  raw fetch     ',
        async (i) =>
          void (await (
            await fetch(`${server.httpUrl}/kv/bench%2Fp${i % 100}`, { method: 'PUT', body: value })
          ).arrayBuffer()),
      ],
      ['PUT  client.put    ', async (i) => void (await client.put(`bench/p${i % 100}`, value))],
    ];
    console.log(`client overhead: ${fmt(requests)} requests per case against one kv serve process`);
    console.log('  case                 conc   req/s      p50 ms   p99 ms   client CPU µs/req');
    for (const concurrency of [1, 16]) {
      for (const [name, one] of cases) {
        await measure(Math.min(200, requests), concurrency, one); // warm-up
        const r = await measure(requests, concurrency, one);
        console.log(
          `  ${name}  ${String(concurrency).padStart(4)}   ${fmt(r.perSecond).padStart(7)}   ${fmt(r.p50, 2).padStart(6)}   ${fmt(r.p99, 2).padStart(6)}   ${fmt(r.cpuUsPerRequest).padStart(6)}`,
        );
      }
    }
  } finally {
    client.close();
    await server.stop();
  }
}

async function benchWatch(watchers: number, seconds: number): Promise<void> {
  const server = await startSingleServer(CLI, [...TIMING, '--max-watches', String(watchers + 10)]);
  const client = new KvClient({ endpoints: [server.httpUrl] });
  const stop = new AbortController();
  // Every watcher listens on the one stop signal.
  setMaxListeners(watchers + 10, stop.signal);
  try {
    const start = await client.range('fan/', { limit: 1 });
    let delivered = 0;
    const iterators = Array.from({ length: watchers }, async () => {
      for await (const _event of client.watch('fan/', { since: start.revision, signal: stop.signal }))
        delivered++;
    });
    for (const iterator of iterators) iterator.catch(() => undefined);
    // Wait until every watch stream is open on the server.
    for (;;) {
      const status = await client.status();
      if (status.watchers >= watchers) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const writer = new KvClient({ endpoints: [server.httpUrl] });
    const value = 'x'.repeat(64);
    let writes = 0;
    let writing = true;
    const cpu = process.cpuUsage();
    const started = performance.now();
    const writers = Array.from({ length: 16 }, async (_, w) => {
      for (let i = 0; writing; i++) {
        await writer.put(`fan/${w}-${i % 50}`, value);
        writes++;
      }
    });
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    writing = false;
    await Promise.all(writers);
    writer.close();
    const writeSeconds = (performance.now() - started) / 1000;
    const expected = writes * watchers;
    const drainDeadline = performance.now() + 120_000;
    while (delivered < expected && performance.now() < drainDeadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    const totalSeconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    console.log(
      `watch fan-out through raftkit/client: ${fmt(watchers)} client.watch() iterators in one process, 16 writers`,
    );
    console.log(`  writes acknowledged    ${fmt(writes)} (${fmt(writes / writeSeconds)}/s)`);
    console.log(
      `  events delivered       ${fmt(delivered)} of ${fmt(expected)} in ${fmt(totalSeconds, 1)} s = ${fmt(delivered / totalSeconds)} events/s`,
    );
    console.log(
      `  client CPU             ${fmt(((used.user + used.system) / 1e6 / totalSeconds) * 100)}% of one core, ${fmt((used.user + used.system) / Math.max(1, delivered), 2)} µs/event`,
    );
  } finally {
    stop.abort();
    client.close();
    await server.stop();
  }
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  for (const section of options.sections) {
    if (section === 'overhead') await benchOverhead(options.requests);
    else if (section === 'watch') await benchWatch(options.watchers, options.seconds);
    else throw new Error(`unknown section ${section} (overhead, watch)`);
  }
}

await main();
