export * from './types.js';
export * from './errors.js';
export * from './clock.js';
export * from './configuration.js';
export { RaftCore, samePeer } from './raft.js';
export type {
  CoreFaults,
  CoreOptions,
  CoreStartState,
  ConfigurationCodec,
  FailureReason,
  PeerReplication,
  Proposal,
  IncomingRequest,
} from './raft.js';
export type {
  CoreEvent,
  HardState,
  OutboundRequest,
  OutboundResponse,
  Ready,
  SnapshotInstall,
  Write,
} from './ready.js';
