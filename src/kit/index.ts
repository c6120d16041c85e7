/**
 * The raftKit convenience layer: RaftNode, plus the factory names users of the Go kit look for,
 * each a thin alias of the library's own constructor.
 */
import type { Clock } from '../core/clock.js';
import { systemClock } from '../platform/clock.js';
import type { RaftOptions } from '../raft/options.js';
import { Raft } from '../raft/raft.js';
import { DiscardSnapshotStore } from '../storage/discard-snapshot.js';
import {
  newFileSnapshotStore as openFileSnapshotStore,
  type FileSnapshotStore,
} from '../storage/file-snapshot.js';
import { InmemStore } from '../storage/inmem.js';
import { InmemSnapshotStore } from '../storage/inmem-snapshot.js';
import { InmemTransport, type InmemNetworkLike } from '../transport/inmem.js';

export { DEFAULT_APPLY_TIMEOUT, RaftNode, type RaftNodeOptions } from './raft-node.js';
export { ErrDataDir, openNodeStorage, type LogStoreKind, type NodeStorage } from './storage.js';
export { bootstrapCluster, hasExistingState } from '../raft/bootstrap.js';
export { getConfiguration, parsePeersJson, readPeersJson, recoverCluster } from '../raft/recovery.js';
export { defaultConfig, validateConfig } from '../raft/config.js';
export { newLmdbStore } from '../storage/lmdb.js';
export { newWalStore } from '../storage/wal.js';
export { newNetworkTransport, newTcpTransport, newTlsTransport } from '../transport/tcp.js';

/** hashicorp's NewRaft. */
export function newRaft(options: RaftOptions): Promise<Raft> {
  return Raft.create(options);
}

/** hashicorp's NewInmemStore: a log and stable store in memory. */
export function newInmemStore(): InmemStore {
  return new InmemStore();
}

/** hashicorp's NewFileSnapshotStore: snapshots in `<baseDir>/snapshots`, the newest `retain` kept. */
export function newFileSnapshotStore(
  baseDir: string,
  retain: number,
  options: {
    clock?: Clock;
    logger?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  } = {},
): Promise<FileSnapshotStore> {
  return openFileSnapshotStore(baseDir, retain, {
    clock: options.clock ?? systemClock,
    logger: options.logger,
  });
}

/** hashicorp's NewInmemSnapshotStore: the latest snapshot, in memory. */
export function newInmemSnapshotStore(): InmemSnapshotStore {
  return new InmemSnapshotStore();
}

/** hashicorp's NewDiscardSnapshotStore: snapshots are taken and dropped. */
export function newDiscardSnapshotStore(): DiscardSnapshotStore {
  return new DiscardSnapshotStore();
}

/** hashicorp's NewInmemTransport, on an explicit network (Go connects transports pairwise instead). */
export function newInmemTransport(
  network: InmemNetworkLike,
  address: string,
  options?: { clock?: Clock; timeout?: number },
): InmemTransport {
  return new InmemTransport(network, address, options);
}
export { PEERS_JSON, recoverFromPeersJson } from './peers-json.js';
