/**
 * `raftkit/testing`: the public test kit. Run real `Raft` runtimes (with your own FSM if you like)
 * under virtual time with a simulated network and disk, and check Raft's safety properties; check
 * any key-value history for linearizability (`checkKvLinearizability`).
 */
export {
  runSimulation,
  type LeaderKind,
  type SimulationOptions,
  type SimulationResult,
} from './simulation.js';
export type { CoreFaults } from '../core/raft.js';
export {
  runSeeds,
  replayCommand,
  type SeedRunOptions,
  type SeedRunSummary,
  type SeedRunner,
} from './run-seeds.js';
export { SeededRandom } from './prng.js';
export { Scheduler } from './scheduler.js';
export { SimNetwork, calmNetwork, type NetworkFaults } from './sim-network.js';
export { SimDisk, SimMedium, type SimDiskOptions } from './sim-disk.js';
export { SimFsm, chainHash, encodeCommand, type FsmObserver, type SimCommand } from './sim-fsm.js';
export { SafetyChecker, type CheckedNode } from './checker.js';
export {
  SkewedClock,
  SKEW_JUMP_MAX_MS,
  SKEW_RATE_MAX,
  SKEW_RATE_MIN,
  type ClockSkew,
} from './skewed-clock.js';
export {
  checkKvLinearizability,
  InvalidHistoryError,
  parseKvHistory,
  type CheckOptions,
  type ComponentResult,
  type KeyResult,
  type KvCas,
  type KvCompare,
  type KvOperation,
  type KvRange,
  type KvRangeItem,
  type KvRead,
  type KvTimed,
  type KvTxn,
  type KvTxnOp,
  type KvWrite,
  type LinearizabilityReport,
} from './linearizability.js';
export {
  STORE_CONFORMANCE_CASES,
  runConformanceCase,
  runStoreConformance,
  type Closable,
  type ConformanceCase,
  type ConformanceContext,
  type ConformanceFailure,
  type ConformanceReport,
  type DurableStore,
  type StoreHarness,
  type WriteHold,
} from './store-conformance.js';
export {
  FAULT_KINDS,
  FaultyFileSystem,
  SimulatedCrash,
  faultyFileSystem,
  parseFaultSpec,
  type FaultKind,
  type FaultRule,
  type FaultSpec,
  type FaultyFileSystemOptions,
} from './fault-files.js';
