/** The shapes of the runtime's public API: what Raft.create takes, what waits take and return. */
import type { Clock, Random } from '../core/clock.js';
import type { CoreFaults } from '../core/inputs.js';
import type { ServerAddress, ServerId } from '../core/types.js';
import type { LogStore, SnapshotStore, StableStore } from '../storage/types.js';
import type { Transport } from '../transport/types.js';
import type { Config } from './config.js';
import type { FSM } from './fsm.js';

export interface RaftOptions {
  config: Config;
  fsm: FSM;
  logStore: LogStore;
  stableStore: StableStore;
  snapshotStore: SnapshotStore;
  transport: Transport;
  clock?: Clock;
  random?: Random;
  /** Test-only deliberate bugs (see CoreFaults). */
  faults?: CoreFaults;
}

export interface ApplyOptions {
  /** Milliseconds to wait for the entry to be committed and applied (0 = no limit). */
  timeout?: number;
  signal?: AbortSignal;
}

export interface ReadOptions extends ApplyOptions {
  /**
   * Serve from the leader's lease when it holds one (no heartbeat round). Linearizable only under
   * the clock assumption stated at Config.maxClockDrift; followers still ask the leader.
   */
  lease?: boolean;
}

export interface ApplyResult {
  index: number;
  /** What the FSM's apply returned for this entry. */
  response: unknown;
}

export interface LeaderInfo {
  id: ServerId;
  address: ServerAddress;
}
