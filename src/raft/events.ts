/**
 * What the core's events mean to the world outside: EventEmitter events ('stateChange', 'leadership',
 * 'leaderChange', 'configuration'), observations for registered observers (hashicorp's
 * RegisterObserver), log lines, and the settling of the caller's waits.
 *
 * A metrics hook (hashicorp's metric names) would subscribe here too: every state change, leader
 * change, vote request and heartbeat failure passes through route().
 */
import type { EventEmitter } from 'node:events';
import { ErrLeadershipLost } from '../core/errors.js';
import type { CoreEvent } from '../core/ready.js';
import { RAFT_STATE_NAMES, RaftState } from '../core/types.js';
import type { Logger } from './logger.js';
import type { ObserverRegistry } from './observer.js';
import type { LeaderInfo } from './options.js';
import { TRANSFER, type Waits } from './pending.js';
import type { MetricsSink } from './metrics.js';

export interface EventTargets {
  emitter: EventEmitter;
  observers: ObserverRegistry;
  waits: Waits;
  logger: Logger;
  metrics: MetricsSink;
  /** The commit index now: applies beyond it have an unknown outcome once leadership is lost. */
  commitIndex(): number;
  /** This server's ID (a committed configuration naming it ends a removal). */
  localId: string;
  /** This server's removal committed (a leader that removed itself, or a follower that learned it). */
  removed(): void;
}

const STATE_COUNTERS = ['raft.state.follower', 'raft.state.candidate', 'raft.state.leader'] as const;

export class CoreEvents {
  /** The leader as last announced by the core (hashicorp's LeaderWithID). */
  leader: LeaderInfo | null = null;
  /** A committed configuration removed this server, and none since has added it back. */
  removed = false;

  constructor(private readonly targets: EventTargets) {}

  route(event: CoreEvent): void {
    const { emitter, observers, waits, logger } = this.targets;
    switch (event.type) {
      case 'state':
        logger.info({ state: RAFT_STATE_NAMES[event.state], term: event.term }, 'state change');
        emitter.emit('stateChange', event.state);
        if (event.state !== RaftState.Shutdown)
          this.targets.metrics.incrCounter(STATE_COUNTERS[event.state], 1);
        observers.notify({ type: 'state', state: event.state });
        if (event.state === RaftState.Leader) emitter.emit('leadership', true);
        return;
      case 'leader': {
        const leader = event.leader ? { id: event.leader.id, address: event.leader.address } : null;
        this.leader = leader;
        emitter.emit('leaderChange', leader);
        observers.notify({ type: 'leader', leader });
        return;
      }
      case 'leadershipLost': {
        emitter.emit('leadership', false);
        const commitIndex = this.targets.commitIndex();
        waits.applies.rejectAll(
          () => new ErrLeadershipLost(),
          (index) => index > commitIndex,
        );
        return;
      }
      case 'configuration':
        if (event.configurations.committed.servers.some((server) => server.id === this.targets.localId))
          this.removed = false;
        emitter.emit('configuration', event.configurations);
        return;
      case 'peer':
        observers.notify({ type: 'peer', server: event.server, removed: event.removed });
        return;
      case 'heartbeatFailed':
        observers.notify({ type: 'failedHeartbeat', peerId: event.id, lastContact: event.lastContact });
        return;
      case 'heartbeatResumed':
        observers.notify({ type: 'resumedHeartbeat', peerId: event.id });
        return;
      case 'voteRequest':
        observers.notify(
          event.request.kind === 'requestVote'
            ? { type: 'requestVote', request: event.request }
            : { type: 'requestPreVote', request: event.request },
        );
        return;
      case 'readState':
        waits.reads.resolve(event.readId, event.index);
        return;
      case 'readFailed':
        waits.reads.reject(event.readId, event.error);
        return;
      case 'transferDone':
        if (event.error) waits.transfer.reject(TRANSFER, event.error);
        else waits.transfer.resolve(TRANSFER, undefined);
        return;
      case 'membershipDone':
        waits.membership.resolve(event.token, event.index);
        return;
      case 'membershipFailed':
        waits.membership.reject(event.token, event.error);
        return;
      case 'removed':
        this.removed = true;
        this.targets.removed();
        emitter.emit('removed');
        return;
      case 'replicaLostEntries':
        logger.warn(
          { peer: event.id, acknowledged: event.acknowledged, lastIndex: event.lastIndex },
          `replica ${event.id} lost log entries it had acknowledged (it holds up to ${event.lastIndex}, ` +
            `had ${event.acknowledged}): a disk fault or a cut or restored log on that server; ` +
            'repairing it from this leader',
        );
        return;
      case 'logBehindCommit':
        logger.warn(
          { commitIndex: event.commitIndex, lastIndex: event.lastIndex },
          `this server's log ends at ${event.lastIndex}, below the commit index ${event.commitIndex} it ` +
            'had persisted: its disk lost committed entries (a cut or restored log). It applies only ' +
            'what it holds, does not campaign or vote for a candidate without those entries, and ' +
            'waits for the leader to repair it',
        );
        return;
    }
  }
}

/**
 * Async iterator of leadership (true/false), starting with the current value; a consumer that falls
 * behind skips to the latest value, never misses it. Ends when `stopped()` or the signal aborts.
 */
export async function* leadershipChanges(
  emitter: EventEmitter,
  isLeader: () => boolean,
  stopped: () => boolean,
  signal?: AbortSignal,
): AsyncGenerator<boolean> {
  let latest = isLeader();
  let dirty = true;
  let wake: (() => void) | null = null;
  const onChange = (leader: boolean) => {
    latest = leader;
    dirty = true;
    wake?.();
  };
  const onAbort = () => wake?.();
  emitter.on('leadership', onChange);
  signal?.addEventListener('abort', onAbort);
  try {
    while (!signal?.aborted && !stopped()) {
      if (dirty) {
        dirty = false;
        yield latest;
        continue;
      }
      await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
    }
  } finally {
    emitter.off('leadership', onChange);
    signal?.removeEventListener('abort', onAbort);
  }
}
