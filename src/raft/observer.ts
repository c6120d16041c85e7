/**
 * Observers (hashicorp's RegisterObserver). A blocking observer is called inline: a slow one stalls
 * Raft, as in hashicorp. A non-blocking one gets observations through a bounded queue; when the
 * queue is full the observation is dropped and counted.
 */
import type { Peer, RaftState, RequestPreVoteRequest, RequestVoteRequest, Server } from '../core/types.js';

/** What an observer is told (hashicorp's observation types), told apart by `type`. */
export type Observation =
  | {
      /** This server's role changed. */
      type: 'state';
      /** The new role. */
      state: RaftState;
    }
  | {
      /** The leader this server knows changed. */
      type: 'leader';
      /** The new leader, or null when none is known. */
      leader: Peer | null;
    }
  | {
      /** A server joined or left the configuration (seen by the leader). */
      type: 'peer';
      /** The server. */
      server: Server;
      /** True when it left. */
      removed: boolean;
    }
  | {
      /** The leader's replication to a peer started failing. */
      type: 'failedHeartbeat';
      /** The peer. */
      peerId: string;
      /** When the peer last answered (the runtime's monotonic clock, ms). */
      lastContact: number;
    }
  | {
      /** The leader's replication to a peer works again. */
      type: 'resumedHeartbeat';
      /** The peer. */
      peerId: string;
    }
  | {
      /** A vote request arrived. */
      type: 'requestVote';
      /** The request. */
      request: RequestVoteRequest;
    }
  | {
      /** A pre-vote request arrived. */
      type: 'requestPreVote';
      /** The request. */
      request: RequestPreVoteRequest;
    };

/** How an observer is registered. */
export interface ObserverOptions {
  /** Only observations for which this returns true are delivered. */
  filter?: (observation: Observation) => boolean;
  /** Deliver inline (may stall Raft) instead of through a bounded queue. */
  blocking?: boolean;
  /** Queue length of a non-blocking observer (default 64). */
  queueLength?: number;
}

/** A registered observer (hashicorp's Observer); `raft.registerObserver` returns it. */
export class Observer {
  /** Observations delivered to the callback. */
  numObserved = 0;
  /** Observations dropped because the queue was full. */
  numDropped = 0;
  private queue: Observation[] = [];
  private draining = false;

  constructor(
    private readonly options: ObserverOptions,
    private readonly callback: (observation: Observation) => void,
    private readonly registry: ObserverRegistry,
  ) {}

  /** Hands one observation to the callback (inline or through the queue). Called by the runtime. */
  deliver(observation: Observation): void {
    if (this.options.filter && !this.options.filter(observation)) return;
    if (this.options.blocking) {
      this.numObserved++;
      this.callback(observation);
      return;
    }
    if (this.queue.length >= (this.options.queueLength ?? 64)) {
      this.numDropped++;
      return;
    }
    this.queue.push(observation);
    if (!this.draining) {
      this.draining = true;
      queueMicrotask(() => this.drain());
    }
  }

  private drain(): void {
    this.draining = false;
    for (const observation of this.queue.splice(0)) {
      this.numObserved++;
      try {
        this.callback(observation);
      } catch {
        // An observer's failure is its own; Raft goes on.
      }
    }
  }

  /** Stops the observations (hashicorp's DeregisterObserver). */
  deregister(): void {
    this.registry.deregister(this);
  }
}

export class ObserverRegistry {
  private readonly observers = new Set<Observer>();

  register(options: ObserverOptions, callback: (observation: Observation) => void): Observer {
    const observer = new Observer(options, callback, this);
    this.observers.add(observer);
    return observer;
  }

  deregister(observer: Observer): void {
    this.observers.delete(observer);
  }

  notify(observation: Observation): void {
    for (const observer of this.observers) observer.deliver(observation);
  }
}
