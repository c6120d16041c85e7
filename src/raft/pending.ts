/**
 * The caller's side of every wait in the public API: apply and barrier (by log index), read index
 * and VerifyLeader (by read ID), the applied index, membership changes (by token), leadership
 * transfer and a live bootstrap's write (by write seq). Each wait is a promise filed under a
 * numeric key; the runtime settles keys as the core's events arrive, and a wait also ends on its
 * own when its timeout passes (ErrApplyTimeout) or its AbortSignal fires (ErrAborted). That
 * plumbing is written here once.
 *
 * Several waits may share a key (many readers waiting for one applied index). Keys are kept in
 * ascending order, which is the order waits settle in when several keys settle together.
 */
import type { Clock, Timer } from '../core/clock.js';
import { ErrAborted, ErrApplyTimeout } from '../core/errors.js';
import type { ApplyOptions, ApplyResult } from './options.js';

export interface WaitHooks {
  /** Settles differently per wait: with `tag`, resolve() can refuse a value meant for another. */
  tag?: number;
  /**
   * The wait gave up on its own (timeout or abort): undo what the wait started and return the
   * error to fail with.
   */
  onExpire?: (error: Error) => Error;
}

interface Waiter<T> {
  readonly key: number;
  readonly tag: number;
  /** When the wait times out (the clock's ms), or Infinity. */
  readonly deadline: number;
  readonly hooks: WaitHooks;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | null;
  settled: boolean;
  resolve(value: T): void;
  reject(error: Error): void;
}

export class PendingRequests<T> {
  private readonly waiting = new Map<number, Waiter<T>[]>();
  /** The keys of `waiting`, ascending. */
  private readonly keys: number[] = [];
  /**
   * Waits with a timeout, in the order they began (settled ones are dropped lazily). One timer
   * serves them all, armed for the earliest live deadline: a write path with a timeout per apply
   * arms a timer about once per timeout, not once per apply.
   */
  private timed: Waiter<T>[] = [];
  private liveTimed = 0;
  private sweepTimer: Timer | null = null;
  private sweepAt = Infinity;

  constructor(private readonly clock: Clock) {}

  get size(): number {
    return this.keys.length;
  }

  wait(key: number, options: ApplyOptions = {}, hooks: WaitHooks = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timeout = options.timeout && options.timeout > 0 ? options.timeout : 0;
      const waiter: Waiter<T> = {
        key,
        tag: hooks.tag ?? 0,
        deadline: timeout > 0 ? this.clock.now() + timeout : Infinity,
        hooks,
        signal: options.signal,
        onAbort: null,
        settled: false,
        resolve: (value) => {
          if (this.settle(waiter)) resolve(value);
        },
        reject: (error) => {
          if (this.settle(waiter)) reject(error);
        },
      };
      if (options.signal) {
        const onAbort = (): void => this.expire(waiter, new ErrAborted());
        waiter.onAbort = onAbort;
        options.signal.addEventListener('abort', onAbort, { once: true });
      }
      if (timeout > 0) this.addTimed(waiter);
      this.add(key, waiter);
    });
  }

  /**
   * Settles every wait under `key` with `value`, or with the error `refuse` returns for a wait's
   * tag (a value meant for someone else).
   */
  resolve(key: number, value: T, refuse?: (tag: number) => Error | null): void {
    for (const waiter of this.take(key)) {
      const error = refuse?.(waiter.tag) ?? null;
      if (error) waiter.reject(error);
      else waiter.resolve(value);
    }
  }

  reject(key: number, error: Error): void {
    for (const waiter of this.take(key)) waiter.reject(error);
  }

  /** Settles every wait with a key up to and including `upTo`, lowest key first. */
  resolveUpTo(upTo: number, value: T): void {
    while (this.keys.length > 0 && this.keys[0] <= upTo) this.resolve(this.keys[0], value);
  }

  /** Fails every wait whose key passes `where` (all when absent), lowest key first. */
  rejectAll(error: () => Error, where?: (key: number) => boolean): void {
    for (const key of this.keys.filter((candidate) => !where || where(candidate))) {
      for (const waiter of this.take(key)) waiter.reject(error());
    }
  }

  /** Marks the wait settled and disarms what it armed; false if it was settled already. */
  private settle(waiter: Waiter<T>): boolean {
    if (waiter.settled) return false;
    waiter.settled = true;
    if (waiter.onAbort) waiter.signal!.removeEventListener('abort', waiter.onAbort);
    if (waiter.deadline !== Infinity && --this.liveTimed === 0) {
      this.sweepTimer?.cancel();
      this.sweepTimer = null;
      this.sweepAt = Infinity;
      this.timed = [];
    }
    return true;
  }

  /** The wait gave up on its own (timeout or abort). */
  private expire(waiter: Waiter<T>, error: Error): void {
    if (!this.remove(waiter.key, waiter)) return;
    waiter.reject(waiter.hooks.onExpire ? waiter.hooks.onExpire(error) : error);
  }

  private addTimed(waiter: Waiter<T>): void {
    this.liveTimed++;
    // Settled waits are dropped when they outnumber the live ones, so the list stays about as
    // long as the waits in flight.
    if (this.timed.length >= 2 * this.liveTimed + 32) this.timed = this.timed.filter((w) => !w.settled);
    this.timed.push(waiter);
    if (waiter.deadline < this.sweepAt) this.armSweep(waiter.deadline);
  }

  private armSweep(at: number): void {
    this.sweepTimer?.cancel();
    this.sweepAt = at;
    this.sweepTimer = this.clock.setTimer(Math.max(0, at - this.clock.now()), () => this.sweep());
  }

  /** Fails every wait whose deadline has passed (earliest deadline first), then re-arms. */
  private sweep(): void {
    this.sweepTimer = null;
    this.sweepAt = Infinity;
    const now = this.clock.now();
    const due: Waiter<T>[] = [];
    const keep: Waiter<T>[] = [];
    let next = Infinity;
    for (const waiter of this.timed) {
      if (waiter.settled) continue;
      if (waiter.deadline <= now) due.push(waiter);
      else {
        keep.push(waiter);
        if (waiter.deadline < next) next = waiter.deadline;
      }
    }
    this.timed = keep;
    due.sort((a, b) => a.deadline - b.deadline);
    for (const waiter of due) this.expire(waiter, new ErrApplyTimeout());
    // Expiring may have started new waits (and armed for them); keep the earlier deadline.
    if (next < this.sweepAt) this.armSweep(next);
  }

  private add(key: number, waiter: Waiter<T>): void {
    const list = this.waiting.get(key);
    if (list) {
      list.push(waiter);
      return;
    }
    this.waiting.set(key, [waiter]);
    this.keys.splice(this.insertionPoint(key), 0, key);
  }

  /** Removes one wait; false if it was settled already. */
  private remove(key: number, waiter: Waiter<T>): boolean {
    const list = this.waiting.get(key);
    const at = list ? list.indexOf(waiter) : -1;
    if (at < 0) return false;
    if (list!.length === 1) this.take(key);
    else list!.splice(at, 1);
    return true;
  }

  private take(key: number): Waiter<T>[] {
    const list = this.waiting.get(key);
    if (!list) return [];
    this.waiting.delete(key);
    this.keys.splice(this.insertionPoint(key), 1);
    return list;
  }

  /** Binary search: the position of `key` in `keys`, or where it would go. */
  private insertionPoint(key: number): number {
    let low = 0;
    let high = this.keys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.keys[middle] < key) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/** One leadership transfer at a time: its wait has this key. */
export const TRANSFER = 0;

/** The runtime's waits, one registry per kind of key. */
export class Waits {
  /** apply and barrier, by log index; the tag is the term the entry was proposed in. */
  readonly applies: PendingRequests<ApplyResult>;
  /** waitApplied, by log index. */
  readonly applied: PendingRequests<void>;
  /** Read index and VerifyLeader, by read ID. */
  readonly reads: PendingRequests<number>;
  /** Membership changes, by the core's change token. */
  readonly membership: PendingRequests<number>;
  /** Leadership transfer, under TRANSFER. */
  readonly transfer: PendingRequests<void>;
  /** A write reaching the disk, by the core's write seq (live bootstrap). */
  readonly durable: PendingRequests<void>;

  constructor(clock: Clock) {
    this.applies = new PendingRequests(clock);
    this.applied = new PendingRequests(clock);
    this.reads = new PendingRequests(clock);
    this.membership = new PendingRequests(clock);
    this.transfer = new PendingRequests(clock);
    this.durable = new PendingRequests(clock);
  }

  /** Shutdown: every wait fails. */
  failAll(error: () => Error): void {
    this.applies.rejectAll(error);
    this.reads.rejectAll(error);
    this.applied.rejectAll(error);
    this.membership.rejectAll(error);
    this.transfer.rejectAll(error);
    this.durable.rejectAll(error);
  }
}
