/**
 * hashicorp's Config.NotifyCh for Node: every leadership transition, in order, as an async
 * iterable. hashicorp's Raft blocks on a full NotifyCh (its docs say: buffer it or consume it
 * aggressively); here nothing may block the node, so the buffer is bounded and a full one drops
 * whole flaps instead: the oldest lead-and-lose (or lose-and-lead) pair goes, which keeps what the
 * consumer reads alternating and ending at the node's current state.
 */
import { ErrInvalidConfig } from '../core/errors.js';

/** Transitions a NotifyChannel buffers unless told otherwise. */
export const DEFAULT_NOTIFY_CAPACITY = 16;
/** The largest buffer a NotifyChannel accepts. */
export const MAX_NOTIFY_CAPACITY = 4096;

/** Options of a NotifyChannel. */
export interface NotifyChannelOptions {
  /**
   * Transitions buffered for a consumer that is behind (1..MAX_NOTIFY_CAPACITY, default
   * DEFAULT_NOTIFY_CAPACITY). When it is full the oldest pair of transitions is dropped.
   */
  capacity?: number;
}

/**
 * Leadership transitions of one server (hashicorp's `Config.NotifyCh`): `true` when it becomes
 * leader, `false` when it stops being leader, in order, never two equal values in a row. Pass it as
 * `config.notifyCh` to `Raft.create`; it receives every transition from the server's start and
 * ends (its iteration completes) once the server shuts down and the buffered values are read.
 *
 * A slow consumer never slows the node: at most `capacity` transitions wait in the buffer, and
 * when one more comes the oldest two are dropped (counted in `dropped`), so the values read still
 * alternate and the last one read is the server's state. Read it from one consumer (a `for await`
 * loop): like a Go channel, each value goes to one reader.
 *
 * Compared with `raft.leadershipChanges()`, which reports states (it starts with the current one
 * and a slow reader skips straight to the latest, so it can read the same value twice), this
 * reports transitions and keeps as many as its capacity.
 */
export class NotifyChannel implements AsyncIterable<boolean> {
  /** Transitions buffered at most. */
  readonly capacity: number;
  private readonly buffer: boolean[] = [];
  private readonly readers: ((result: IteratorResult<boolean, undefined>) => void)[] = [];
  /** The last value sent: a server starts as a follower, so its first transition is `true`. */
  private last = false;
  private droppedCount = 0;
  private closed = false;
  private claimed = false;

  constructor(options: NotifyChannelOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError('NotifyChannel options must be an object');
    }
    const { capacity = DEFAULT_NOTIFY_CAPACITY } = options;
    if (!Number.isSafeInteger(capacity) || capacity < 1 || capacity > MAX_NOTIFY_CAPACITY) {
      throw new RangeError(
        `capacity must be an integer in [1, ${MAX_NOTIFY_CAPACITY}], got ${String(capacity)}`,
      );
    }
    this.capacity = capacity;
  }

  /** Transitions dropped because the buffer was full (always an even number). */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Transitions waiting to be read. */
  get size(): number {
    return this.buffer.length;
  }

  /** The next transition; `done` once the server has shut down and the buffer is empty. */
  next(): Promise<IteratorResult<boolean, undefined>> {
    if (this.buffer.length > 0) return Promise.resolve({ value: this.buffer.shift()!, done: false });
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.readers.push(resolve));
  }

  /** Iterates the transitions (`for await`); leaving the loop early leaves the channel open. */
  [Symbol.asyncIterator](): AsyncIterator<boolean, undefined> {
    return { next: () => this.next() };
  }

  /**
   * The server's side: binds the channel to the server that will send on it.
   * @internal
   */
  claim(): void {
    if (this.claimed) {
      throw new ErrInvalidConfig(
        'notifyCh is already used by a server: give each server its own NotifyChannel',
      );
    }
    this.claimed = true;
  }

  /**
   * The server's side: its leadership is now `leader` (a repeat of the last value is ignored).
   * @internal
   */
  send(leader: boolean): void {
    if (this.closed || leader === this.last) return;
    this.last = leader;
    const reader = this.readers.shift();
    if (reader) {
      reader({ value: leader, done: false });
      return;
    }
    if (this.buffer.length === this.capacity) {
      // The oldest two transitions cancel out (true then false, or false then true): dropping them
      // keeps the values alternating. With capacity 1 the pair is the buffered value and this one.
      this.droppedCount += 2;
      if (this.buffer.length === 1) {
        this.buffer.length = 0;
        return;
      }
      this.buffer.splice(0, 2);
    }
    this.buffer.push(leader);
  }

  /**
   * The server's side: it shut down; readers finish once the buffer is read.
   * @internal
   */
  close(): void {
    this.closed = true;
    for (const reader of this.readers.splice(0)) reader({ value: undefined, done: true });
  }
}
