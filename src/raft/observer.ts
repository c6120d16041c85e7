/**
 * Observers (hashicorp's RegisterObserver). A blocking observer is called inline: a slow one stalls
 * Raft, as in hashicorp. A non-blocking one gets observations through a bounded queue; when the
 * queue is full the observation is dropped and counted.
 */
import type { Peer, RaftState, RequestPreVoteRequest, RequestVoteRequest, Server } from '../core/types.js';

export type Observation =
  | { type: 'state'; state: RaftState }
  | { type: 'leader'; leader: Peer | null }
  | { type: 'peer'; server: Server; removed: boolean }
  | { type: 'failedHeartbeat'; peerId: string; lastContact: number }
  | { type: 'resumedHeartbeat'; peerId: string }
  | { type: 'requestVote'; request: RequestVoteRequest }
  | { type: 'requestPreVote'; request: RequestPreVoteRequest };

export interface ObserverOptions {
  /** Only observations for which this returns true are delivered. */
  filter?: (observation: Observation) => boolean;
  /** Deliver inline (may stall Raft) instead of through a bounded queue. */
  blocking?: boolean;
  /** Queue length of a non-blocking observer (default 64). */
  queueLength?: number;
}

export class Observer {
  numObserved = 0;
  numDropped = 0;
  private queue: Observation[] = [];
  private draining = false;

  constructor(
    private readonly options: ObserverOptions,
    private readonly callback: (observation: Observation) => void,
    private readonly registry: ObserverRegistry,
  ) {}

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
