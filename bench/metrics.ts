/**
 * The apply path with and without library metrics: a single in-memory server (InmemStore,
 * InmemTransport: no disk, no sockets, so the runtime's own per-entry cost shows) applies commands,
 * 32 in flight, first with no sink, then with the prom-client sink, alternating; prints commands/s.
 * (One server: an in-process 3-server cluster under this sustained load loses its leader on a
 * loaded machine, with or without metrics; replication metrics cost per RPC, not per entry.)
 *
 *   node <compiled>/bench/metrics.js [commands=20000] [rounds=3] [in flight=32]
 */
import { performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { RaftState, ServerSuffrage, type LogEntry } from '../src/core/types.js';
import { bootstrapCluster } from '../src/raft/bootstrap.js';
import { defaultConfig } from '../src/raft/config.js';
import type { FSMSnapshot } from '../src/raft/fsm.js';
import type { MetricsSink } from '../src/raft/metrics.js';
import { prometheusMetrics } from '../src/raft/prometheus.js';
import { Raft } from '../src/raft/raft.js';
import { InmemStore } from '../src/storage/inmem.js';
import { InmemSnapshotStore } from '../src/storage/inmem-snapshot.js';
import { InmemNetwork, InmemTransport } from '../src/transport/inmem.js';

const commands = Number(process.argv[2] ?? 20_000);
const rounds = Number(process.argv[3] ?? 3);
const IN_FLIGHT = Number(process.argv[4] ?? 32);

const countingFsm = () => ({
  count: 0,
  apply(_log: LogEntry) {
    return ++this.count;
  },
  snapshot: (): FSMSnapshot => ({ persist: async (sink) => void (await sink.close()), release: () => {} }),
  restore: async () => {},
});

async function cluster(metrics: () => MetricsSink | undefined): Promise<Raft[]> {
  const network = new InmemNetwork();
  const ids = ['a'];
  const servers = ids.map((id) => ({ id, address: id, suffrage: ServerSuffrage.Voter }));
  return Promise.all(
    ids.map(async (id) => {
      const store = new InmemStore();
      const snapshots = new InmemSnapshotStore();
      const config = {
        ...defaultConfig(),
        localId: id,
        heartbeatTimeout: 300,
        electionTimeout: 300,
        leaderLeaseTimeout: 150,
      };
      await bootstrapCluster(config, store, store, snapshots, { servers });
      return Raft.create({
        config,
        fsm: countingFsm(),
        logStore: store,
        stableStore: store,
        snapshotStore: snapshots,
        transport: new InmemTransport(network, id),
        metrics: metrics(),
      });
    }),
  );
}

async function run(label: string, metrics: () => MetricsSink | undefined): Promise<number> {
  const nodes = await cluster(metrics);
  // A settled leader: elected, and a barrier of its term committed.
  let leader: Raft | undefined;
  for (;;) {
    leader = nodes.find((n) => n.state === RaftState.Leader);
    if (
      leader &&
      (await leader.barrier({ timeout: 5000 }).then(
        () => true,
        () => false,
      ))
    )
      break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const settled = leader;
  const payload = new Uint8Array(64);
  let next = 0;
  const start = performance.now();
  const worker = async (): Promise<void> => {
    while (next < commands) {
      next++;
      await settled.apply(payload, { timeout: 10_000 });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const perSecond = commands / ((performance.now() - start) / 1000);
  console.log(`${label.padEnd(20)} ${perSecond.toFixed(0).padStart(8)} commands/s`);
  await Promise.all(nodes.map((n) => n.shutdown()));
  return perSecond;
}

async function main(): Promise<void> {
  console.log(
    `metrics bench: ${commands} commands of 64 B, ${IN_FLIGHT} in flight, 1 in-memory server, node ${process.version}`,
  );
  const none: number[] = [];
  const prom: number[] = [];
  for (let round = 0; round < rounds; round++) {
    none.push(await run('no metrics sink', () => undefined));
    prom.push(await run('prometheusMetrics', () => prometheusMetrics(new Registry())));
  }
  const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];
  console.log(`median: no sink ${median(none).toFixed(0)}/s, prometheusMetrics ${median(prom).toFixed(0)}/s`);
}

void main();
