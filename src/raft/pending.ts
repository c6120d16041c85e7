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
  readonly tag: number;
  resolve(value: T): void;
  reject(error: Error): void;
}

export class PendingRequests<T> {
  private readonly waiting = new Map<number, Waiter<T>[]>();
  /** The keys of `waiting`, ascending. */
  private readonly keys: number[] = [];

  constructor(private readonly clock: Clock) {}

  get size(): number {
    return this.keys.length;
  }

  wait(key: number, options: ApplyOptions = {}, hooks: WaitHooks = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timer: Timer | null = null;
      const disarm = (): void => {
        timer?.cancel();
        options.signal?.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter<T> = {
        tag: hooks.tag ?? 0,
        resolve: (value) => (disarm(), resolve(value)),
        reject: (error) => (disarm(), reject(error)),
      };
      const expire = (error: Error): void => {
        if (!this.remove(key, waiter)) return;
        waiter.reject(hooks.onExpire ? hooks.onExpire(error) : error);
      };
      const onAbort = (): void => expire(new ErrAborted());
      if (options.timeout && options.timeout > 0) {
        timer = this.clock.setTimer(options.timeout, () => expire(new ErrApplyTimeout()));
      }
      options.signal?.addEventListener('abort', onAbort, { once: true });
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
