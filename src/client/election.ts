/**
 * The election recipe, built on a lock and a key: a candidate campaigns by waiting for the lock
 * `election/<name>` and, once it holds it, writes its value to the key `election/<name>` attached
 * to the lock's lease — so the key disappears with the leader (resigned, crashed, partitioned
 * past its TTL). Observers read that key and watch it. A deposed leader cannot write the key: its
 * lease is gone, so the service refuses the write.
 */
import { LockBusyError, OutcomeUnknownError, UnavailableError } from './errors.js';
import type { Lock, LockOptions } from './lock.js';
import type { Bytes } from './paths.js';
import type { CallOptions } from './requester.js';
import type { GetOptions, KeyValue, PutOptions, RangeOptions, RangePage } from './types.js';
import type { WatchEvent, WatchOptions } from './watch.js';

/** What the recipe needs of a client: KvClient has it (declared here, so neither imports the other). */
export interface ElectionClient {
  /** As KvClient.get. */
  get(key: string, options?: GetOptions): Promise<KeyValue | null>;
  /** As KvClient.put. */
  put(key: string, value: Bytes, options?: PutOptions): Promise<number>;
  /** As KvClient.range. */
  range(prefix: string, options?: RangeOptions): Promise<RangePage>;
  /** As KvClient.watch. */
  watch(prefix: string, options?: WatchOptions): AsyncIterableIterator<WatchEvent>;
  /** As KvClient.lock. */
  lock(name: string, options?: LockOptions): Promise<Lock>;
}

/** How a candidate campaigns. */
export interface CampaignOptions {
  /** Seconds leadership outlives the leader's last keepalive (default 10). */
  ttl?: number;
  /** Stops campaigning (rejects with its reason); once leader, aborting stops the keepalives, so leadership ends within the TTL (`resign()` hands over at once). */
  signal?: AbortSignal;
}

/** The leader as observers see it. */
export interface ElectionLeader {
  /** The value the leader published (its address, say). */
  value: Buffer;
  /** The revision at which it took office. */
  revision: number;
}

/** Held leadership. */
export interface Leadership {
  /** The lock's fencing token: every later leader's is greater. */
  readonly token: number;
  /** Aborts when leadership is lost or resigned. */
  readonly signal: AbortSignal;
  /** Steps down: the key is deleted and the next candidate takes over. */
  resign(options?: CallOptions): Promise<void>;
}

/** How long one campaign request waits at the service before asking again (seconds). */
const CAMPAIGN_WAIT = 30;

/** The election recipe (`client.election(name)`): see the module comment. */
export class Election {
  /** The key holding the leader's value. */
  readonly key: string;

  /** @internal */
  constructor(
    private readonly client: ElectionClient,
    /** The election's name. */
    readonly name: string,
  ) {
    this.key = `election/${name}`;
  }

  /** Waits until this candidate leads, then publishes `value` as the leader's. */
  async campaign(value: Bytes, options: CampaignOptions = {}): Promise<Leadership> {
    let lock: Lock;
    for (;;) {
      options.signal?.throwIfAborted();
      try {
        lock = await this.client.lock(this.key, {
          ttl: options.ttl,
          wait: CAMPAIGN_WAIT,
          signal: options.signal,
        });
        break;
      } catch (error) {
        // An unknown outcome may have left a request holding the lock: its lease is not kept alive,
        // so it expires within the TTL and a later request gets the lock.
        const retry =
          error instanceof LockBusyError ||
          error instanceof OutcomeUnknownError ||
          error instanceof UnavailableError;
        if (!retry) throw error;
      }
    }
    try {
      await this.client.put(this.key, value, { lease: lock.lease, signal: lock.signal });
    } catch (error) {
      await lock.release().catch(() => undefined);
      throw error;
    }
    return { token: lock.token, signal: lock.signal, resign: (resignOptions) => lock.release(resignOptions) };
  }

  /** The current leader, or null when there is none. */
  async leader(options: CallOptions = {}): Promise<ElectionLeader | null> {
    const current = await this.client.get(this.key, options);
    return current === null ? null : { value: current.value, revision: current.revision };
  }

  /** The leader now, then each change (null: no leader), until `signal` aborts. */
  async *observe(options: { signal?: AbortSignal } = {}): AsyncGenerator<ElectionLeader | null> {
    const page = await this.client.range(this.key, { limit: 1, signal: options.signal });
    const item = page.items.find((kv) => kv.key === this.key);
    yield item === undefined ? null : { value: item.value, revision: item.revision };
    for await (const event of this.client.watch(this.key, { since: page.revision, signal: options.signal })) {
      if (event.key !== this.key) continue;
      yield event.value === null ? null : { value: event.value, revision: event.revision };
    }
  }
}
