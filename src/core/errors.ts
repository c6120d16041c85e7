/**
 * Typed errors. Where hashicorp/raft has the same error, the message is hashicorp's text exactly:
 * error strings travel over the wire and users grep for them.
 */

/** The base class of every raftkit error: `instanceof RaftError` catches them all. */
export class RaftError extends Error {
  /** The error's class name (`'RaftError'`, `'ErrNotLeader'`, ...): stable, unlike the message. */
  override name = 'RaftError';
}

function define<const Name extends string>(name: Name, message: string) {
  const cls = class extends RaftError {
    override name: string = name;
    constructor(detail?: string) {
      super(detail === undefined ? message : `${message}: ${detail}`);
    }
    /** hashicorp's text of this error. */
    static readonly text = message;
  };
  Object.defineProperty(cls, 'name', { value: name });
  return cls;
}

/** The operation needs a follower and this node is the leader. */
export const ErrLeader = define('ErrLeader', 'node is the leader');
/** The operation needs the leader (apply, barrier, membership, transfer, verifyLeader); ask `raft.leader()` who it is. */
export const ErrNotLeader = define('ErrNotLeader', 'node is not the leader');
/** The operation needs a voter and this node is a non-voter. */
export const ErrNotVoter = define('ErrNotVoter', 'node is not a voter');
/** Leadership ended before the entry committed: the outcome is unknown (the entry may still commit under the next leader). */
export const ErrLeadershipLost = define('ErrLeadershipLost', 'leadership lost while committing log');
/** A user snapshot was restored (`raft.restore`) while the entry waited: it will not be applied. */
export const ErrAbortedByRestore = define('ErrAbortedByRestore', 'snapshot restored while committing log');
/** The node is shut down (or stopped itself after a failed disk write or FSM apply). */
export const ErrRaftShutdown = define('ErrRaftShutdown', 'raft is already shutdown');
/** A membership change's timeout passed (hashicorp's name for it); a change still queued or catching up is dropped. */
export const ErrEnqueueTimeout = define('ErrEnqueueTimeout', 'timed out enqueuing operation');
/** `raft.snapshot()` found nothing applied since the last snapshot. */
export const ErrNothingNewToSnapshot = define('ErrNothingNewToSnapshot', 'nothing new to snapshot');
/** A peer's RPC header named a protocol version raftkit does not speak (it speaks 2 and 3). */
export const ErrUnsupportedProtocol = define(
  'ErrUnsupportedProtocol',
  'operation not supported with current protocol version',
);
/** `bootstrapCluster` found existing state: bootstrap only works on new clusters. */
export const ErrCantBootstrap = define('ErrCantBootstrap', 'bootstrap only works on new clusters');
/** A leadership transfer is running: writes and membership changes wait until it ends. */
export const ErrLeadershipTransferInProgress = define(
  'ErrLeadershipTransferInProgress',
  'leadership transfer in progress',
);
/** A log store has no entry at the index asked for. */
export const ErrLogNotFound = define('ErrLogNotFound', 'log not found');
/** A stable store has no value under the key asked for. */
export const ErrNotFound = define('ErrNotFound', 'not found');
/** The transport cannot pipeline AppendEntries (hashicorp's text; raftkit's transports all can). */
export const ErrPipelineReplicationNotSupported = define(
  'ErrPipelineReplicationNotSupported',
  'pipeline replication not supported',
);
/** The transport was closed. */
export const ErrTransportShutdown = define('ErrTransportShutdown', 'transport shutdown');
/** The AppendEntries pipeline to a peer was closed. */
export const ErrPipelineShutdown = define('ErrPipelineShutdown', 'append pipeline closed');
/** A peer sent an RPC type the transport does not know. */
export const ErrUnexpectedCommand = define('ErrUnexpectedCommand', 'unexpected command');

// raftkit's own errors (no hashicorp counterpart).
/** The deadline passed after the entry was appended: it may or may not commit. */
export const ErrApplyTimeout = define('ErrApplyTimeout', 'timed out waiting for the operation to commit');
/** The caller's AbortSignal fired (or had fired before the call). */
export const ErrAborted = define('ErrAborted', 'operation aborted by the caller');
/** A membership change could not start: another is pending and the queue is full (MAX_QUEUED_MEMBERSHIP_CHANGES), or an earlier configuration is not committed yet. */
export const ErrConfigChangeInProgress = define(
  'ErrConfigChangeInProgress',
  'configuration change still pending',
);
/**
 * addVoter's new server did not catch up as a non-voter within Config.catchUpTimeout (it does not
 * run, cannot be reached, or is too slow); the non-voter added for the catch-up is removed again.
 */
export const ErrCatchUpTimeout = define(
  'ErrCatchUpTimeout',
  'new server did not catch up within catchUpTimeout',
);
/** A membership change's `prevIndex` is not the latest configuration's index. */
export const ErrConfigurationChanged = define(
  'ErrConfigurationChanged',
  'configuration changed since prevIndex',
);
/** A Config (or a reload) broke a rule of hashicorp's ValidateConfig or one of raftkit's; the message names it. */
export const ErrInvalidConfig = define('ErrInvalidConfig', 'invalid config');
/** A configuration (the membership) is invalid: duplicate IDs or addresses, no voter, an empty ID. */
export const ErrInvalidConfiguration = define('ErrInvalidConfiguration', 'invalid configuration');
/** A snapshot's data failed its checksum or its metadata its checks. */
export const ErrSnapshotCorrupt = define('ErrSnapshotCorrupt', 'snapshot is corrupt');
/** No snapshot with that ID exists in the store. */
export const ErrSnapshotNotFound = define('ErrSnapshotNotFound', 'snapshot not found');
/** A snapshot's format version is not 0 or 1. */
export const ErrUnsupportedSnapshotVersion = define(
  'ErrUnsupportedSnapshotVersion',
  'unsupported snapshot version',
);
/** The snapshot directory is unusable, a sink's I/O failed, or a sink was used after close/cancel. */
export const ErrSnapshotStore = define('ErrSnapshotStore', 'snapshot store failure');
/** Snapshots exist but none of them opens (start-up refuses rather than lose state). */
export const ErrNoSnapshotOpens = define('ErrNoSnapshotOpens', 'failed to load any existing snapshots');
/** The leader cannot answer a follower's read-index request (a Go hashicorp/raft leader); read on the leader instead. */
export const ErrReadIndexNotSupported = define(
  'ErrReadIndexNotSupported',
  'leader does not support read index',
);
/**
 * The peer closed the connection on an RPC type it does not know (hashicorp peers older than 1.7
 * do that on RequestPreVote); the runtime counts such a pre-vote as granted.
 */
export const ErrUnsupportedRpc = define('ErrUnsupportedRpc', 'peer does not support this rpc');
/** A frame, entry or file did not decode: malformed input from a peer or a disk. */
export const ErrDecode = define('ErrDecode', 'malformed message');
/** A value is larger than its configured maximum (a frame, a batch, a snapshot chunk); refused before allocating. */
export const ErrTooLarge = define('ErrTooLarge', 'value exceeds configured maximum');
/** A stored log entry or stable value failed its structural checks (a damaged or foreign file). */
export const ErrStoreCorrupt = define('ErrStoreCorrupt', 'stored value is corrupt');
/** The store was used after close(). */
export const ErrStoreClosed = define('ErrStoreClosed', 'store is closed');
/** A store that allows one writer is already open on the same files in this process. */
export const ErrStoreInUse = define('ErrStoreInUse', 'store is already open');
/**
 * A write or fsync failed. After a failed fsync the kernel may have dropped the dirty pages, so the
 * store cannot tell what reached the disk: it refuses further writes until it is reopened (and
 * recovery reads back what is really there).
 */
export const ErrStoreFailed = define('ErrStoreFailed', 'store failed a write and must be reopened');
/**
 * A read from the disk failed (EIO, ...). Nothing in the store changed: the read may be retried,
 * and a damaged record is ErrStoreCorrupt instead.
 */
export const ErrStoreRead = define('ErrStoreRead', 'store read failed');
/**
 * The process (EMFILE) or the system (ENFILE) ran out of file descriptors: transient. A snapshot
 * store operation that needed one changed nothing (a snapshot that cannot be taken now is taken
 * later); a dial fails at once, and further dials until a back-off passes (5 ms, doubling to 1 s).
 * The WAL never reports it: it keeps the descriptors it needs open.
 */
export const ErrOutOfDescriptors = define('ErrOutOfDescriptors', 'out of file descriptors');
