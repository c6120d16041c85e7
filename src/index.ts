/**
 * raftkit: Raft consensus for Node.js with hashicorp/raft's API and wire protocol.
 * The public surface; the test kit is `raftkit/testing`.
 */

// Core vocabulary.
export {
  LogType,
  RaftState,
  RAFT_STATE_NAMES,
  ServerSuffrage,
  type Configuration,
  type LogEntry,
  type Peer,
  type Server,
  type ServerAddress,
  type ServerId,
  type SnapshotMeta,
  // The RPC messages, for Transport implementations and observers.
  type AppendEntriesRequest,
  type AppendEntriesResponse,
  type InstallSnapshotRequest,
  type InstallSnapshotResponse,
  type RaftRequest,
  type RaftResponse,
  type ResponseMap,
  type ReadIndexRequest,
  type ReadIndexResponse,
  type RequestPreVoteRequest,
  type RequestPreVoteResponse,
  type RequestVoteRequest,
  type RequestVoteResponse,
  type TimeoutNowRequest,
  type TimeoutNowResponse,
} from './core/types.js';
export * from './core/errors.js';
export type { Clock, Random, Timer } from './core/clock.js';
export { sleep, systemClock, systemRandom } from './platform/clock.js';

// The runtime.
export { Raft } from './raft/raft.js';
// Every option and result type of Raft's methods.
export type * from './raft/options.js';
export { defaultConfig, validateConfig, type Config, type ReloadableConfig } from './raft/config.js';
export type { BatchingFSM, ConfigurationStore, FSM, FSMSnapshot } from './raft/fsm.js';
export { silentLogger, type Logger } from './raft/logger.js';
export {
  discardMetrics,
  RAFT_METRICS,
  type MetricKind,
  type MetricsSink,
  type RaftMetricName,
} from './raft/metrics.js';
export { prometheusMetrics, prometheusName } from './raft/prometheus.js';
export { CountedHistogram, type HistogramMetric, type HistogramValue } from './raft/histogram.js';
export type { Observation, Observer, ObserverOptions } from './raft/observer.js';
export {
  DEFAULT_NOTIFY_CAPACITY,
  MAX_NOTIFY_CAPACITY,
  NotifyChannel,
  type NotifyChannelOptions,
} from './raft/notify-channel.js';
export { bootstrapCluster, hasExistingState } from './raft/bootstrap.js';
export { encodeConfiguration, decodeConfiguration } from './wire/configuration.js';

// Stores.
export {
  StableKeys,
  type EntryTerms,
  type LogStore,
  type OpenedSnapshot,
  type SnapshotSink,
  type SnapshotStore,
  type StableStore,
  type StoreLogger,
} from './storage/types.js';
export { readEntryTerms } from './storage/entry-terms.js';
export {
  nodeFileSystem,
  type DirectoryEntry,
  type FileInfo,
  type FileSystem,
  type PathInfo,
  type ReadResult,
  type StoreFile,
  type WriteResult,
} from './storage/file-system.js';
export { InmemStore } from './storage/inmem.js';
export { ErrLmdbNotInstalled, LmdbStore, type LmdbStoreOptions } from './storage/lmdb.js';
export { WalStore, type WalStoreOptions } from './storage/wal.js';
export {
  FileSnapshotStore,
  type FileSnapshotStoreOptions,
  type SnapshotStoreLogger,
} from './storage/file-snapshot.js';
export { InmemSnapshotStore } from './storage/inmem-snapshot.js';
export { DiscardSnapshotStore } from './storage/discard-snapshot.js';

// Transports.
export * from './transport/index.js';

// The raftKit convenience layer and the Go kit's factory names.
export * from './kit/index.js';
