/** How scenarios print the core's messages, events and state: one short line each. */
import type { CoreEvent, HardState } from '../../../src/core/ready.js';
import {
  LogType,
  RAFT_STATE_NAMES,
  RaftState,
  ServerSuffrage,
  type Configuration,
  type LogEntry,
  type RaftRequest,
  type RaftResponse,
} from '../../../src/core/types.js';
import type { CoreStatus, PeerProgress } from './core-adapter.js';
import type { Envelope } from './envelope.js';

/** `2@1` for a command; `2@1:noop` and `2@1:conf` for the entries Raft writes itself. */
export function formatEntry(entry: LogEntry): string {
  const kind = entry.type === LogType.Noop ? ':noop' : entry.type === LogType.Configuration ? ':conf' : '';
  return `${entry.index}@${entry.term}${kind}`;
}

export function formatEntries(entries: readonly LogEntry[]): string {
  return `[${entries.map(formatEntry).join(' ')}]`;
}

/** `voters=(1,2,3)`, and `nonvoters=(4)` when there are any. */
export function formatConfiguration(configuration: Configuration): string {
  const ids = (suffrage: ServerSuffrage): string =>
    configuration.servers
      .filter((server) => server.suffrage === suffrage)
      .map((server) => server.id)
      .join(',');
  const nonvoters = ids(ServerSuffrage.Nonvoter);
  return `voters=(${ids(ServerSuffrage.Voter)})${nonvoters ? ` nonvoters=(${nonvoters})` : ''}`;
}

const position = (index: number, term: number): string => `(${index},${term})`;

/** The message name and its fields; heartbeats are AppendEntries that confirm a round. */
export function formatRequest(request: RaftRequest, heartbeat: boolean): string {
  switch (request.kind) {
    case 'appendEntries': {
      const prev = position(request.prevLogIndex, request.prevLogTerm);
      const commit = `commit=${request.leaderCommitIndex}`;
      if (heartbeat) return `Heartbeat term=${request.term} prev=${prev} ${commit}`;
      return `AppendEntries term=${request.term} prev=${prev} entries=${formatEntries(request.entries)} ${commit}`;
    }
    case 'requestVote': {
      const transfer = request.leadershipTransfer ? ' transfer' : '';
      return `RequestVote term=${request.term} last=${position(request.lastLogIndex, request.lastLogTerm)}${transfer}`;
    }
    case 'requestPreVote':
      return `PreVote term=${request.term} last=${position(request.lastLogIndex, request.lastLogTerm)}`;
    case 'installSnapshot':
      return `InstallSnapshot term=${request.term} snapshot=${position(request.lastLogIndex, request.lastLogTerm)}`;
    case 'timeoutNow':
      return `TimeoutNow term=${request.term}`;
    case 'readIndex':
      return `ReadIndex term=${request.term}`;
  }
}

export function formatEnvelope(envelope: Envelope): string {
  const { from, to, request, heartbeat, response } = envelope;
  const text = response ? formatResponse(request, heartbeat, response) : formatRequest(request, heartbeat);
  return `${from}->${to} ${text}`;
}

export function formatResponse(request: RaftRequest, heartbeat: boolean, response: RaftResponse): string {
  const r = response as Partial<Record<string, number | boolean>>;
  const outcome = (ok: unknown, yes: string, no: string): string => (ok ? yes : no);
  switch (request.kind) {
    case 'appendEntries':
      return `${heartbeat ? 'Heartbeat' : 'AppendEntries'}Resp term=${r.term} ${outcome(r.success, 'success', 'reject')} last=${r.lastLog}`;
    case 'requestVote':
      return `RequestVoteResp term=${r.term} ${outcome(r.granted, 'granted', 'refused')}`;
    case 'requestPreVote':
      return `PreVoteResp term=${r.term} ${outcome(r.granted, 'granted', 'refused')}`;
    case 'installSnapshot':
      return `InstallSnapshotResp term=${r.term} ${outcome(r.success, 'success', 'reject')}`;
    case 'timeoutNow':
      return 'TimeoutNowResp';
    case 'readIndex':
      return `ReadIndexResp term=${r.term} ${outcome(r.success, `index=${r.readIndex}`, 'reject')}`;
  }
}

/** An event of the core, or null for those the messages already show. */
export function formatEvent(event: CoreEvent): string | null {
  switch (event.type) {
    case 'state':
      // A candidate's event carries the term before the campaign's increment (or none, for a
      // pre-vote); its persist line and its requests show the term it campaigns in.
      if (event.state === RaftState.Candidate) return 'becomes Candidate';
      return `becomes ${RAFT_STATE_NAMES[event.state]} term=${event.term}`;
    case 'leader':
      return event.leader ? `leader is ${event.leader.id}` : 'leader unknown';
    case 'configuration': {
      const { latest, latestIndex, committedIndex } = event.configurations;
      const stage = latestIndex === committedIndex ? 'committed' : 'appended';
      return `configuration ${stage} at ${latestIndex}: ${formatConfiguration(latest)}`;
    }
    case 'peer':
      // Implied by the configuration events.
      return null;
    case 'heartbeatFailed':
      return `heartbeats to ${event.id} failing`;
    case 'heartbeatResumed':
      return `heartbeats to ${event.id} resumed`;
    case 'voteRequest':
      return null;
    case 'readState':
      return `read ${event.readId} ready at index ${event.index}`;
    case 'readFailed':
      return `read ${event.readId} failed: ${event.error.message}`;
    case 'transferDone':
      return event.error ? `transfer failed: ${event.error.message}` : 'transfer done';
    case 'membershipDone':
      return `membership change ${event.token} done at index ${event.index}`;
    case 'membershipFailed':
      return `membership change ${event.token} failed: ${event.error.message}`;
    case 'leadershipLost':
      return `lost leadership term=${event.term}`;
    case 'removed':
      return 'removed from the configuration';
    case 'replicaLostEntries':
      return `replica ${event.id} lost entries: holds ${event.lastIndex}, had acknowledged ${event.acknowledged}`;
    case 'logBehindCommit':
      return `log ends at ${event.lastIndex} below the stored commit index ${event.commitIndex}`;
  }
}

/** What one durable write changed in the hard state, e.g. `term=2 vote=1` (a new term shows its vote). */
export function formatHardStateChange(before: HardState, after: HardState): string[] {
  const fields: string[] = [];
  const vote = after.vote?.id ?? null;
  if (after.term !== before.term) fields.push(`term=${after.term}`);
  if (after.term !== before.term || vote !== (before.vote?.id ?? null)) fields.push(`vote=${vote ?? '-'}`);
  if (after.commit !== before.commit) fields.push(`commit=${after.commit}`);
  return fields;
}

/** One line of raft-log: `3@2 "x"`, `2@2:noop`, `4@2:conf voters=(1,2,3)`. */
export function formatLogEntry(entry: LogEntry, decode: (data: Uint8Array) => Configuration): string {
  switch (entry.type) {
    case LogType.Configuration:
      return `${formatEntry(entry)} ${formatConfiguration(decode(entry.data))}`;
    case LogType.Command:
      return `${formatEntry(entry)} ${JSON.stringify(Buffer.from(entry.data).toString())}`;
    default:
      return formatEntry(entry);
  }
}

export function formatStatus(id: string, status: CoreStatus, applied: number): string {
  const snapshot = status.snapshotIndex > 0 ? ` snapshot=${status.snapshotIndex}` : '';
  return (
    `${id}: ${status.state} term=${status.term} commit=${status.commit} last=${status.lastIndex}` +
    ` applied=${applied}${snapshot} vote=${status.vote ?? '-'} leader=${status.leader ?? '-'}` +
    ` ${formatConfiguration(status.configuration)}`
  );
}

export function formatProgress(progress: PeerProgress): string {
  return `  progress ${progress.id}: match=${progress.match} next=${progress.next} ${progress.mode} inflight=${progress.inflight}`;
}
