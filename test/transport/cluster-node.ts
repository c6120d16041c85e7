/**
 * Real raftkit nodes for the transport's cluster and fuzz tests: Raft + a WalStore or LmdbStore
 * (noSync: these tests are about the wire, not the disk) + FileSnapshotStore + NetworkTransport
 * over loopback TCP, with short timeouts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RaftState, ServerSuffrage, type Server } from '../../src/core/types.js';
import { systemClock } from '../../src/platform/clock.js';
import { bootstrapCluster } from '../../src/raft/bootstrap.js';
import { defaultConfig, type Config } from '../../src/raft/config.js';
import { Raft } from '../../src/raft/raft.js';
import { newFileSnapshotStore } from '../../src/storage/file-snapshot.js';
import { LmdbStore } from '../../src/storage/lmdb.js';
import { WalStore } from '../../src/storage/wal.js';
import type { NetworkTransport } from '../../src/transport/net.js';
import type { TransportLogger } from '../../src/transport/server-conn.js';
import { newTcpTransport, type TransportFactoryOptions } from '../../src/transport/tcp.js';
import { ListFsm } from '../support/list-fsm.js';

export { ListFsm };

export type StoreKind = 'wal' | 'lmdb';

function openStore(node: ClusterNode): Promise<WalStore | LmdbStore> {
  return node.storeKind === 'wal'
    ? WalStore.open(join(node.dir, 'wal'), { noSync: true })
    : LmdbStore.open(join(node.dir, 'raft'), { noSync: true });
}

export interface ClusterNode {
  id: string;
  address: string;
  dir: string;
  raft: Raft | null;
  fsm: ListFsm;
  transport: NetworkTransport | null;
  storeKind: StoreKind;
  store: WalStore | LmdbStore | null;
  /** RPCs this node received since it last started, by kind. */
  received: Map<string, number>;
  /** Options its transport is made with (again on restart). */
  transportOptions: TransportFactoryOptions;
}

function nodeConfig(id: string): Config {
  return {
    ...defaultConfig(),
    localId: id,
    heartbeatTimeout: 200,
    electionTimeout: 200,
    leaderLeaseTimeout: 100,
    snapshotInterval: 200,
    snapshotThreshold: 32,
    trailingLogs: 8,
  };
}

/** Opens the stores and the transport of a node and starts Raft; bootstraps when servers are given. */
async function start(node: ClusterNode, servers: Server[] | null, logger?: TransportLogger): Promise<void> {
  const transport =
    node.transport ??
    (await newTcpTransport(node.address, null, 3, 1000, { ...node.transportOptions, logger }));
  transport.setLocalId(node.id);
  node.received = new Map();
  const setHandler = transport.setHandler.bind(transport);
  transport.setHandler = (handler) =>
    setHandler((rpc) => {
      node.received.set(rpc.request.kind, (node.received.get(rpc.request.kind) ?? 0) + 1);
      handler(rpc);
    });
  const store = await openStore(node);
  const snapshots = await newFileSnapshotStore(node.dir, 2, { clock: systemClock });
  const config = nodeConfig(node.id);
  if (servers) await bootstrapCluster(config, store, store, snapshots, { servers });
  node.fsm = new ListFsm();
  node.raft = await Raft.create({
    config,
    fsm: node.fsm,
    logStore: store,
    stableStore: store,
    snapshotStore: snapshots,
    transport,
  });
  node.transport = transport;
  node.store = store;
}

/**
 * Starts n bootstrapped nodes on free loopback ports. `loggers[i]` logs node i's transport, and
 * every transport is made with `transportOptions` (limits, say).
 */
export async function startCluster(
  n: number,
  loggers: TransportLogger[] = [],
  storeKind: StoreKind = 'lmdb',
  transportOptions: TransportFactoryOptions = {},
): Promise<ClusterNode[]> {
  const nodes: ClusterNode[] = [];
  for (let i = 0; i < n; i++) {
    const transport = await newTcpTransport('127.0.0.1:0', null, 3, 1000, {
      ...transportOptions,
      logger: loggers[i],
    });
    nodes.push({
      id: `n${i + 1}`,
      address: transport.localAddr(),
      dir: mkdtempSync(join(tmpdir(), `raftkit-net-n${i + 1}-`)),
      raft: null,
      fsm: new ListFsm(),
      transport,
      storeKind,
      store: null,
      received: new Map(),
      transportOptions,
    });
  }
  const servers = nodes.map((node) => ({
    id: node.id,
    address: node.address,
    suffrage: ServerSuffrage.Voter,
  }));
  await Promise.all(nodes.map((node) => start(node, servers)));
  return nodes;
}

/** Simulates a crash: Raft stops (closing its transport) and the store is closed. */
export async function kill(node: ClusterNode): Promise<void> {
  await node.raft?.shutdown();
  await node.transport?.close();
  await node.store?.close();
  node.raft = null;
  node.transport = null;
  node.store = null;
}

/** Restarts a killed node from its data directory on its old address. */
export function restart(node: ClusterNode, logger?: TransportLogger): Promise<void> {
  return start(node, null, logger);
}

export async function stopCluster(nodes: ClusterNode[]): Promise<void> {
  await Promise.all(nodes.map(kill));
  for (const node of nodes) rmSync(node.dir, { recursive: true, force: true });
}

export function leaderOf(nodes: ClusterNode[]): ClusterNode | undefined {
  return nodes.find((node) => node.raft?.state === RaftState.Leader);
}

/** Applies a command on whichever node leads, retrying through elections; resolves with its index. */
export async function write(nodes: ClusterNode[], command: string, deadlineMs = 10_000): Promise<number> {
  const start = Date.now();
  let lastError: unknown = new Error('no leader');
  while (Date.now() - start < deadlineMs) {
    const leader = leaderOf(nodes);
    if (leader?.raft) {
      try {
        return (await leader.raft.apply(new TextEncoder().encode(command), { timeout: 1000 })).index;
      } catch (error) {
        lastError = error;
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw lastError;
}
