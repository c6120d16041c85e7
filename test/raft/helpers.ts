/** Real-clock in-memory clusters for runtime tests. */
import { ServerSuffrage, RaftState, type LogEntry } from '../../src/core/types.js';
import { bootstrapCluster } from '../../src/raft/bootstrap.js';
import { defaultConfig, type Config } from '../../src/raft/config.js';
import { Raft } from '../../src/raft/raft.js';
import { InmemStore } from '../../src/storage/inmem.js';
import { InmemSnapshotStore } from '../../src/storage/inmem-snapshot.js';
import type { MetricsSink } from '../../src/raft/metrics.js';
import type { SnapshotStore } from '../../src/storage/types.js';
import { InmemNetwork, InmemTransport } from '../../src/transport/inmem.js';
import { ListFsm } from '../support/list-fsm.js';
import { waitFor } from '../support/wait.js';

export { ListFsm };

export { waitFor };

export function fastConfig(id: string, overrides: Partial<Config> = {}): Config {
  return {
    ...defaultConfig(),
    localId: id,
    // Short, but with room for a loaded 2-core CI machine that delays timers.
    heartbeatTimeout: 150,
    electionTimeout: 150,
    leaderLeaseTimeout: 100,
    commitTimeout: 5,
    ...overrides,
  };
}

export interface TestNode {
  id: string;
  address: string;
  raft: Raft;
  fsm: ListFsm;
  store: InmemStore;
  snapshots: SnapshotStore;
}

export class TestCluster {
  readonly network = new InmemNetwork();
  readonly nodes: TestNode[] = [];

  constructor(
    /** Config fields for every server, or per server ID. */
    private readonly overrides: Partial<Config> | ((id: string) => Partial<Config>) = {},
    /** Each server's metrics sink (none when absent). */
    private readonly metricsFor?: (id: string) => MetricsSink,
  ) {}

  /** Starts voters ids (bootstrapped together). */
  async start(ids: string[]): Promise<this> {
    const servers = ids.map((id) => ({ id, address: `addr-${id}`, suffrage: ServerSuffrage.Voter }));
    for (const id of ids) {
      const store = new InmemStore();
      const snapshots = new InmemSnapshotStore();
      await bootstrapCluster(this.config(id), store, store, snapshots, { servers });
      await this.launch(id, store, snapshots);
    }
    return this;
  }

  /** Starts a server on the given stores (empty stores: a server waiting to be added). */
  async launch(
    id: string,
    store = new InmemStore(),
    snapshots: SnapshotStore = new InmemSnapshotStore(),
  ): Promise<TestNode> {
    const fsm = new ListFsm();
    const address = `addr-${id}`;
    const raft = await Raft.create({
      config: this.config(id),
      fsm,
      logStore: store,
      stableStore: store,
      snapshotStore: snapshots,
      transport: new InmemTransport(this.network, address),
      metrics: this.metricsFor?.(id),
    });
    const node = { id, address, raft, fsm, store, snapshots };
    this.nodes.push(node);
    return node;
  }

  private config(id: string): Config {
    return fastConfig(id, typeof this.overrides === 'function' ? this.overrides(id) : this.overrides);
  }

  leader(): Promise<TestNode> {
    return waitFor(() => this.nodes.find((n) => n.raft.state === RaftState.Leader), 5000, 'a leader');
  }

  async write(count: number, prefix = 'v'): Promise<void> {
    const leader = await this.leader();
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        leader.raft.apply(new TextEncoder().encode(`${prefix}${i}`), { timeout: 3000 }),
      ),
    );
  }

  async stop(node: TestNode): Promise<void> {
    await node.raft.shutdown();
    this.nodes.splice(this.nodes.indexOf(node), 1);
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.raft.shutdown()));
  }
}

/** A log store whose appends, once `hold` is set, land only when released (or never: a crash). */
export class HeldLogStore extends InmemStore {
  hold = false;
  readonly held: { land: () => void; drop: () => void }[] = [];

  override storeLogs(entries: readonly LogEntry[]): Promise<void> {
    if (!this.hold) return super.storeLogs(entries);
    return new Promise((resolve) => {
      this.held.push({
        land: () => void super.storeLogs(entries).then(resolve),
        drop: resolve,
      });
    });
  }
}
