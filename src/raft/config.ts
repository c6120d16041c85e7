/**
 * Config: hashicorp/raft's fields (camelCase, durations in milliseconds) with the same defaults
 * and the same validation rules, plus raftkit's additions (marked).
 */
import type { Random } from '../core/clock.js';
import { ErrInvalidConfig } from '../core/errors.js';
import type { CoreFaults, CoreOptions } from '../core/inputs.js';
import { decodeConfiguration, encodeConfiguration } from '../wire/configuration.js';
import type { Logger } from './logger.js';
import { NotifyChannel } from './notify-channel.js';

/**
 * The configuration of one server (hashicorp's Config): camelCase names, durations in
 * milliseconds, the same defaults (`defaultConfig()`), validated at `Raft.create` and on reload.
 */
export interface Config {
  /**
   * Must be 3 (the default): raftkit runs hashicorp's protocol version 3 only (server IDs distinct
   * from addresses) and refuses 0..2 at start-up rather than ignore them. On the wire it sends
   * version 3 and accepts peers that send 2 or 3 (hashicorp 1.x sends 3).
   */
  protocolVersion: number;
  /** Follower timeout: a follower with no contact for a random time in [T, 2T) campaigns. */
  heartbeatTimeout: number;
  /** Candidate timeout: random in [T, 2T). */
  electionTimeout: number;
  /** Idle replication tick: how long a follower may wait to learn a new commit index. */
  commitTimeout: number;
  /** Most entries per AppendEntries and per group-commit batch (1..1024). */
  maxAppendEntries: number;
  /** hashicorp compatibility; raftkit batches applies anyway and keeps the timeout guarantee. */
  batchApplyCh: boolean;
  /**
   * A server shuts its Raft down once it learns that a committed configuration removed it (default
   * true, as hashicorp/raft): the leader that removed itself, or a follower, which the leader keeps
   * sending entries until it has acknowledged a commit index covering its removal (or for at most
   * ten election timeouts). With false it keeps running outside the configuration (`Raft.removed`
   * is true; it never campaigns) and can be added back.
   */
  shutdownOnRemove: boolean;
  /** Log entries kept after a snapshot. */
  trailingLogs: number;
  /** How often to check whether a snapshot is due (random in [T, 2T)). */
  snapshotInterval: number;
  /**
   * Take a snapshot when this many entries were applied since the last one, checked every
   * snapshotInterval (hashicorp's rule).
   */
  snapshotThreshold: number;
  /**
   * raftkit: take a snapshot as entries are applied, without waiting for the snapshotInterval
   * check, once this many (but at least snapshotThreshold) plus a per-node random 0-100% more were
   * applied since the last one. It bounds the log kept on disk and the entries replayed at a
   * restart under a steady write load, which the timer alone lets grow with the write rate (etcd
   * 3.4's snapshot count is 100,000); the random part keeps replicas from all snapshotting at the
   * same index. 0 turns it off: the timer check only, as hashicorp/raft.
   */
  snapshotLogLimit: number;
  /**
   * A leader that has not heard from a quorum within this steps down. Counted on the leader's awake
   * time: a stall of its own process (GC, a starved CPU) counts at most a quarter of it (or its
   * longest timer interval, if longer), so answers still unread when it wakes do not end its
   * leadership.
   */
  leaderLeaseTimeout: number;
  /** This server's ID. Required. */
  localId: string;
  /** Start with the snapshot metadata only; do not restore the FSM from it. */
  noSnapshotRestoreOnStart: boolean;
  /** Campaign without a pre-vote round (hashicorp 1.7's PreVoteDisabled; pre-vote is on by default). */
  preVoteDisabled: boolean;
  /** raftkit: AppendEntries in flight per follower (hashicorp's MaxRPCsInFlight, default 2). */
  maxInflightAppends: number;
  /**
   * raftkit, lease reads only: how much faster than the leader's clock any server's clock may run
   * (0.1 = 10%). The lease is electionTimeout * (1 - maxClockDrift) from a confirmed heartbeat.
   */
  maxClockDrift: number;
  /**
   * raftkit: how long (ms) addVoter waits for a new server to catch up as a non-voter before it
   * fails with ErrCatchUpTimeout and removes the non-voter again (etcd bounds a learner's catch-up
   * the same way). Counted from the moment the change starts, whatever the caller's timeout. Raise
   * it when new servers must receive very large snapshots.
   */
  catchUpTimeout: number;
  /** raftkit: structured logger (pino-compatible). Silent when absent. */
  logger?: Logger;
  /**
   * hashicorp's NotifyCh: receives `true` when this server becomes leader and `false` when it
   * stops, from its start; one channel per server. A bounded buffer stands in for hashicorp's
   * blocking send (see NotifyChannel for what a slow consumer loses).
   */
  notifyCh?: NotifyChannel;
}

/** The fields a running server can change (hashicorp's ReloadableConfig); see `raft.reloadConfig`. */
export type ReloadableConfig = Pick<
  Config,
  | 'trailingLogs'
  | 'snapshotInterval'
  | 'snapshotThreshold'
  | 'snapshotLogLimit'
  | 'heartbeatTimeout'
  | 'electionTimeout'
>;

const RELOADABLE = [
  'trailingLogs',
  'snapshotInterval',
  'snapshotThreshold',
  'snapshotLogLimit',
  'heartbeatTimeout',
  'electionTimeout',
] as const satisfies readonly (keyof ReloadableConfig)[];

/** The reloadable fields of a config, copied. */
export function reloadableOf(config: ReloadableConfig): ReloadableConfig {
  const out = {} as ReloadableConfig;
  for (const field of RELOADABLE) out[field] = config[field];
  return out;
}

/**
 * `current` with the fields `reload` sets; fields absent or undefined keep their value (JavaScript
 * callers pass partial objects), and fields that are not reloadable are refused.
 */
export function mergeReloadable(
  current: ReloadableConfig,
  reload: Partial<ReloadableConfig>,
): ReloadableConfig {
  const next = { ...current };
  for (const [field, value] of Object.entries(reload)) {
    if (!(RELOADABLE as readonly string[]).includes(field)) {
      throw new ErrInvalidConfig(`${field} cannot be reloaded (reloadable: ${RELOADABLE.join(', ')})`);
    }
    if (value !== undefined) next[field as keyof ReloadableConfig] = value as number;
  }
  return next;
}

/**
 * hashicorp's ReloadConfig on `config`: the fields `reload` sets are merged in, and the result is
 * validated like a whole config (ErrInvalidConfig, and nothing changes) before it is written.
 */
export function reloadInto(config: Config, reload: Partial<ReloadableConfig>): ReloadableConfig {
  if (typeof reload !== 'object' || reload === null) throw new TypeError('reloadConfig takes an object');
  const next = { ...config, ...mergeReloadable(reloadableOf(config), reload) };
  validateConfig(next);
  return Object.assign(config, reloadableOf(next));
}

/** hashicorp's DefaultConfig() values (plus raftkit's fields); set `localId` before use. */
export function defaultConfig(): Config {
  return {
    protocolVersion: 3,
    heartbeatTimeout: 1000,
    electionTimeout: 1000,
    commitTimeout: 50,
    maxAppendEntries: 64,
    batchApplyCh: false,
    shutdownOnRemove: true,
    trailingLogs: 10240,
    snapshotInterval: 120_000,
    snapshotThreshold: 8192,
    snapshotLogLimit: 65_536,
    leaderLeaseTimeout: 500,
    localId: '',
    noSnapshotRestoreOnStart: false,
    preVoteDisabled: false,
    maxInflightAppends: 2,
    maxClockDrift: 0.1,
    catchUpTimeout: 60_000,
  };
}

function check(ok: boolean, detail: string): void {
  if (!ok) throw new ErrInvalidConfig(detail);
}

function isInt(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n);
}

/** hashicorp's ValidateConfig rules, with the same wording where it has them. */
export function validateConfig(config: Config): void {
  check(isInt(config.protocolVersion), 'protocolVersion must be an integer');
  check(
    config.protocolVersion === 3,
    `ProtocolVersion ${config.protocolVersion} is not supported: raftkit runs protocol version 3 only`,
  );
  check(typeof config.localId === 'string' && config.localId.length > 0, 'LocalID cannot be empty');
  for (const field of [
    'heartbeatTimeout',
    'electionTimeout',
    'commitTimeout',
    'maxAppendEntries',
    'trailingLogs',
    'snapshotInterval',
    'snapshotThreshold',
    'snapshotLogLimit',
    'leaderLeaseTimeout',
    'maxInflightAppends',
    'catchUpTimeout',
  ] as const) {
    check(
      isInt(config[field]) && config[field] >= 0,
      `${field} must be a non-negative integer, got ${config[field]}`,
    );
  }
  check(config.heartbeatTimeout >= 5, 'HeartbeatTimeout is too low');
  check(config.electionTimeout >= 5, 'ElectionTimeout is too low');
  check(config.commitTimeout >= 1, 'CommitTimeout is too low');
  check(config.maxAppendEntries > 0, 'MaxAppendEntries must be positive');
  check(config.maxAppendEntries <= 1024, 'MaxAppendEntries is too large');
  check(config.snapshotInterval >= 5, 'SnapshotInterval is too low');
  check(config.leaderLeaseTimeout >= 5, 'LeaderLeaseTimeout is too low');
  check(
    config.leaderLeaseTimeout <= config.heartbeatTimeout,
    'LeaderLeaseTimeout cannot be larger than heartbeat timeout',
  );
  check(
    config.electionTimeout >= config.heartbeatTimeout,
    'ElectionTimeout must be equal or greater than Heartbeat Timeout',
  );
  check(
    config.catchUpTimeout >= config.electionTimeout,
    'catchUpTimeout cannot be lower than ElectionTimeout',
  );
  check(config.maxInflightAppends >= 1, 'maxInflightAppends must be at least 1');
  check(
    typeof config.maxClockDrift === 'number' && config.maxClockDrift >= 0 && config.maxClockDrift < 1,
    'maxClockDrift must be in [0, 1)',
  );
  check(
    config.notifyCh === undefined || config.notifyCh instanceof NotifyChannel,
    'notifyCh must be a NotifyChannel',
  );
}

/** The core's options from a validated config (the core speaks the wire's configuration codec). */
export function coreOptionsOf(
  config: Config,
  address: string,
  random: Random,
  faults?: CoreFaults,
): CoreOptions {
  return {
    id: config.localId,
    address,
    heartbeatTimeout: config.heartbeatTimeout,
    electionTimeout: config.electionTimeout,
    commitTimeout: config.commitTimeout,
    leaderLeaseTimeout: config.leaderLeaseTimeout,
    maxAppendEntries: config.maxAppendEntries,
    maxInflightAppends: config.maxInflightAppends,
    preVote: !config.preVoteDisabled,
    maxClockDrift: config.maxClockDrift,
    catchUpTimeout: config.catchUpTimeout,
    random,
    codec: { encode: encodeConfiguration, decode: decodeConfiguration },
    faults,
  };
}
