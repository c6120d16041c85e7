/**
 * Typed errors. Where hashicorp/raft has the same error, the message is hashicorp's text exactly:
 * error strings travel over the wire and users grep for them.
 */

export class RaftError extends Error {
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

export const ErrLeader = define('ErrLeader', 'node is the leader');
export const ErrNotLeader = define('ErrNotLeader', 'node is not the leader');
export const ErrNotVoter = define('ErrNotVoter', 'node is not a voter');
export const ErrLeadershipLost = define('ErrLeadershipLost', 'leadership lost while committing log');
export const ErrAbortedByRestore = define('ErrAbortedByRestore', 'snapshot restored while committing log');
export const ErrRaftShutdown = define('ErrRaftShutdown', 'raft is already shutdown');
export const ErrEnqueueTimeout = define('ErrEnqueueTimeout', 'timed out enqueuing operation');
export const ErrNothingNewToSnapshot = define('ErrNothingNewToSnapshot', 'nothing new to snapshot');
export const ErrUnsupportedProtocol = define(
  'ErrUnsupportedProtocol',
  'operation not supported with current protocol version',
);
export const ErrCantBootstrap = define('ErrCantBootstrap', 'bootstrap only works on new clusters');
export const ErrLeadershipTransferInProgress = define(
  'ErrLeadershipTransferInProgress',
  'leadership transfer in progress',
);
export const ErrLogNotFound = define('ErrLogNotFound', 'log not found');
export const ErrNotFound = define('ErrNotFound', 'not found');
export const ErrPipelineReplicationNotSupported = define(
  'ErrPipelineReplicationNotSupported',
  'pipeline replication not supported',
);
export const ErrTransportShutdown = define('ErrTransportShutdown', 'transport shutdown');
export const ErrPipelineShutdown = define('ErrPipelineShutdown', 'append pipeline closed');
export const ErrUnexpectedCommand = define('ErrUnexpectedCommand', 'unexpected command');

// raftkit's own errors (no hashicorp counterpart).
/** The deadline passed after the entry was appended: it may or may not commit. */
export const ErrApplyTimeout = define('ErrApplyTimeout', 'timed out waiting for the operation to commit');
export const ErrAborted = define('ErrAborted', 'operation aborted by the caller');
export const ErrConfigChangeInProgress = define(
  'ErrConfigChangeInProgress',
  'configuration change still pending',
);
export const ErrConfigurationChanged = define(
  'ErrConfigurationChanged',
  'configuration changed since prevIndex',
);
export const ErrInvalidConfig = define('ErrInvalidConfig', 'invalid config');
export const ErrInvalidConfiguration = define('ErrInvalidConfiguration', 'invalid configuration');
export const ErrSnapshotCorrupt = define('ErrSnapshotCorrupt', 'snapshot is corrupt');
export const ErrSnapshotNotFound = define('ErrSnapshotNotFound', 'snapshot not found');
export const ErrUnsupportedSnapshotVersion = define(
  'ErrUnsupportedSnapshotVersion',
  'unsupported snapshot version',
);
/** The snapshot directory is unusable, a sink's I/O failed, or a sink was used after close/cancel. */
export const ErrSnapshotStore = define('ErrSnapshotStore', 'snapshot store failure');
export const ErrNoSnapshotOpens = define('ErrNoSnapshotOpens', 'failed to load any existing snapshots');
export const ErrReadIndexNotSupported = define(
  'ErrReadIndexNotSupported',
  'leader does not support read index',
);
/**
 * The peer closed the connection on an RPC type it does not know (hashicorp peers older than 1.7
 * do that on RequestPreVote); the runtime counts such a pre-vote as granted.
 */
export const ErrUnsupportedRpc = define('ErrUnsupportedRpc', 'peer does not support this rpc');
export const ErrDecode = define('ErrDecode', 'malformed message');
export const ErrTooLarge = define('ErrTooLarge', 'value exceeds configured maximum');
/** A stored log entry or stable value failed its structural checks (a damaged or foreign file). */
export const ErrStoreCorrupt = define('ErrStoreCorrupt', 'stored value is corrupt');
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
