/**
 * The three systems `npm run bench` compares, each a 3-node cluster of local processes on free
 * loopback ports, built on the interop suite's process harness (test/interop/harness.ts):
 * raftkit's `kv serve` (default WAL store), the Go hashicorp/raft 1.1.2 KV node (BoltDB, fsync on)
 * and etcd 3.4. raftkit and the Go node get hashicorp's DefaultConfig timings (the Go node's own
 * flag defaults are the interop suite's short ones); etcd keeps its own defaults.
 */
import { join } from 'node:path';
import {
  createNode,
  GoNode,
  ServerNode,
  waitFor,
  waitForLeader,
  type GoNodeTuning,
  type ServerNodeOptions,
} from '../test/interop/harness.js';
import { TsNode } from '../test/interop/ts-node.js';
import type { ApiKind } from './loadgen.js';
import { ETCD_BIN } from './tools.js';

export type SystemName = 'raftkit' | 'hashicorp' | 'etcd';

/** hashicorp/raft's DefaultConfig timings (ms), given to raftkit and to the Go node alike. */
export const HASHICORP_DEFAULT_TUNING: GoNodeTuning = {
  heartbeatTimeoutMs: 1000,
  electionTimeoutMs: 1000,
  leaderLeaseTimeoutMs: 500,
  commitTimeoutMs: 50,
};

export interface SystemSpec {
  name: SystemName;
  api: ApiKind;
  /** What a follower waits without a leader before it campaigns (the failover yardstick), ms. */
  electionTimeoutMs: number;
  create(options: ServerNodeOptions): Promise<ServerNode>;
  /** The one leader the running nodes agree on. */
  leader(nodes: ServerNode[]): Promise<ServerNode>;
}

/**
 * raftkit runs with binary log commands (`--command-format binary`, src/kv/command-formats.ts):
 * every member is a raftkit that reads them. `BENCH_KV_COMMAND_FORMAT=json` measures the default
 * instead, and `=omit` passes no flag (an A/B against a build from before the flag existed).
 */
export function raftkitCommandFormat(): string {
  return process.env.BENCH_KV_COMMAND_FORMAT ?? 'binary';
}

function commandFormatFlag(): string[] {
  const format = raftkitCommandFormat();
  return format === 'omit' ? [] : ['--command-format', format];
}

/**
 * raftkit's `kv serve`. With `cpuProfileDir`, each node runs under `node --cpu-prof` and writes
 * its profile into `<cpuProfileDir>/<id>/` when it stops gracefully.
 */
export function raftkitSystem(cpuProfileDir?: string): SystemSpec {
  class BenchTsNode extends TsNode {
    protected override command(): { file: string; args: string[] } {
      const command = super.command();
      // The snapshot-install newcomer catches up a 256 MiB state inside its join, which on a
      // loaded machine can outlast the default 60 s join timeout (the join is then rolled back).
      const args = [...command.args, '--join-timeout', '600000', ...commandFormatFlag()];
      if (cpuProfileDir === undefined) return { file: command.file, args };
      const profileFlags = ['--cpu-prof', '--cpu-prof-dir', join(cpuProfileDir, this.id)];
      return { file: command.file, args: [...profileFlags, ...args] };
    }
  }
  return {
    name: 'raftkit',
    api: 'kv',
    electionTimeoutMs: HASHICORP_DEFAULT_TUNING.electionTimeoutMs!,
    create: (options) =>
      createNode(
        { ...HASHICORP_DEFAULT_TUNING, ...options },
        'bench-raftkit',
        (...args) => new BenchTsNode(...args),
      ),
    leader: (nodes) => waitForLeader(nodes, { timeoutMs: 30_000 }),
  };
}

export const hashicorpSystem: SystemSpec = {
  name: 'hashicorp',
  api: 'kv',
  electionTimeoutMs: HASHICORP_DEFAULT_TUNING.electionTimeoutMs!,
  create: (options) =>
    createNode({ ...HASHICORP_DEFAULT_TUNING, ...options }, 'bench-gonode', (...args) => new GoNode(...args)),
  leader: (nodes) => waitForLeader(nodes, { timeoutMs: 30_000 }),
};

/** One etcd member: `raftAddress` serves its peer URL, `httpAddress` its client URL. */
export class EtcdNode extends ServerNode {
  protected command(): { file: string; args: string[] } {
    const peers = this.options.peers ?? [];
    const peerUrl = `http://${this.raftAddress}`;
    const clientUrl = `http://${this.httpAddress}`;
    const args = ['--name', this.id, '--data-dir', join(this.dataDir, 'etcd')];
    args.push('--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl);
    args.push('--listen-client-urls', clientUrl, '--advertise-client-urls', clientUrl);
    args.push('--initial-cluster', peers.map((peer) => `${peer.id}=http://${peer.address}`).join(','));
    // A token per cluster (its members' addresses) keeps members of an earlier run on a reused
    // port from joining this one.
    const token = `bench-${peers.map((peer) => peer.address).join(',')}`;
    args.push('--initial-cluster-state', 'new', '--initial-cluster-token', token);
    return { file: ETCD_BIN, args };
  }

  /** Serving clients; /health would block until the cluster has formed, so leader() waits for that. */
  protected override async isReady(): Promise<boolean> {
    return (await this.client.request('GET', '/version')).status === 200;
  }

  /** This member's ID and the leader's, from the maintenance API (uint64s travel as strings). */
  async memberStatus(): Promise<{ memberId: string; leader: string }> {
    const status = await this.client.requestJson<{ header: { member_id: string }; leader: string }>(
      'POST',
      '/v3/maintenance/status',
      {},
    );
    return { memberId: status.header.member_id, leader: status.leader };
  }
}

export const etcdSystem: SystemSpec = {
  name: 'etcd',
  api: 'etcd',
  electionTimeoutMs: 1000, // etcd's --election-timeout default
  create: (options) => createNode(options, 'bench-etcd', (...args) => new EtcdNode(...args)),
  leader: (nodes) =>
    waitFor(
      async () => {
        const running = nodes.filter((node) => node.running) as EtcdNode[];
        const statuses = await Promise.all(running.map((node) => node.memberStatus()));
        const leaders = new Set(statuses.map((status) => status.leader));
        if (leaders.size !== 1) return undefined;
        const index = statuses.findIndex((status) => status.memberId === statuses[0].leader);
        return index < 0 ? undefined : running[index];
      },
      { timeoutMs: 30_000, what: 'one agreed etcd leader' },
    ),
};

/** Starts `size` fresh voters n1..n<size> that form one cluster. */
export async function startCluster(system: SystemSpec, size = 3): Promise<ServerNode[]> {
  const ids = Array.from({ length: size }, (_, i) => `n${i + 1}`);
  const nodes = await Promise.all(ids.map((id) => system.create({ id })));
  const peers = nodes.map((node) => ({ id: node.id, address: node.raftAddress }));
  for (const node of nodes) node.options.peers = peers;
  await Promise.all(nodes.map((node) => node.start()));
  return nodes;
}
