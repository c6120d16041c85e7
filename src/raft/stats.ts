/** hashicorp's Stats() (the same keys, the same string values) and replication, from the core's queries. */
import { isVoter } from '../core/configuration.js';
import type { CoreView } from '../core/raft.js';
import { RAFT_STATE_NAMES, RaftState, ServerSuffrage } from '../core/types.js';
import type { ReplicationState } from './options.js';

export interface StatsInputs {
  core: CoreView;
  /** The runtime's state (Shutdown once stopped). */
  state: RaftState;
  applied: number;
  protocolVersion: number;
  /** How long ago (ms) a leader was last heard from; null if never. */
  sinceLastContact: number | null;
}

export function raftStats(inputs: StatsInputs): Record<string, string> {
  const { core } = inputs;
  const { latest, latestIndex } = core.configurations();
  const selfVoter = isVoter(latest, core.id);
  return {
    state: RAFT_STATE_NAMES[inputs.state],
    term: String(core.term),
    last_log_index: String(core.lastIndex()),
    last_log_term: String(core.lastTerm()),
    commit_index: String(core.commitIndex),
    applied_index: String(inputs.applied),
    fsm_pending: String(Math.max(0, core.applyIndex() - inputs.applied)),
    last_snapshot_index: String(core.snapshotIndex()),
    last_snapshot_term: String(core.snapshotTerm()),
    protocol_version: String(inputs.protocolVersion),
    protocol_version_min: '0',
    protocol_version_max: '3',
    snapshot_version_min: '0',
    snapshot_version_max: '1',
    latest_configuration_index: String(latestIndex),
    latest_configuration: JSON.stringify(latest.servers),
    num_peers: String(
      selfVoter
        ? latest.servers.filter((s) => s.suffrage === ServerSuffrage.Voter && s.id !== core.id).length
        : 0,
    ),
    last_contact:
      core.state === RaftState.Leader
        ? '0'
        : inputs.sinceLastContact === null
          ? 'never'
          : `${inputs.sinceLastContact}ms`,
  };
}

/** Replication state per peer as the leader sees it (the core's records carry more). */
export function replicationOf(core: CoreView): ReplicationState[] {
  return core.replication().map(({ id, matchIndex, nextIndex, lastContact }) => ({
    id,
    matchIndex,
    nextIndex,
    lastContact,
  }));
}
