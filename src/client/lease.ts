/**
 * `client.lease(ttl)`: a lease kept alive in the background. A keepalive goes out every third of
 * the TTL and is retried (keepalives are idempotent) until the lease would have run out counted
 * from the send time of the last confirmed one; then, or when the service answers 404, the lease is
 * lost and its `signal` aborts with a LeaseLostError. `close()` (or the grant's AbortSignal) stops
 * the keepalives, `revoke()` ends the lease at once and deletes its keys.
 */
import { expectOk, jsonCall, type ClientHost } from './host.js';
import type { ClientTimer } from './clock.js';
import { integer, jsonObject, text } from './decode.js';
import { KvClientError, KvHttpError, LeaseLostError } from './errors.js';
import type { CallOptions } from './requester.js';

/** Seconds a lease may last, as the service allows. */
const MIN_TTL = 1;
const MAX_TTL = 86_400;

/** A granted lease. */
export class Lease {
  /** Aborts with a LeaseLostError once the lease is lost, closed or revoked: hand it to work that must stop then. */
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private timer: ClientTimer | null = null;
  private inFlight: AbortController | null = null;
  /** Monotonic ms after which the service may have let the lease expire. */
  private expiresBy: number;

  /** @internal */
  constructor(
    private readonly client: ClientHost,
    /** The lease ID (a decimal string), for `put(key, value, {lease})` and `txn`. */
    readonly id: string,
    /** Seconds. */
    readonly ttl: number,
    sentAt: number,
    /** The first keepalive goes out after this many ms (default: a third of the TTL). */
    firstKeepaliveMs?: number,
  ) {
    this.signal = this.controller.signal;
    this.expiresBy = sentAt + ttl * 1000;
    this.schedule(firstKeepaliveMs);
  }

  /** True once lost, closed or revoked. */
  get ended(): boolean {
    return this.controller.signal.aborted;
  }

  /** Stops the keepalives; the service lets the lease expire after its TTL. */
  close(): void {
    this.end(new LeaseLostError(`lease ${this.id} closed`));
  }

  /** Revokes the lease now: its keys are deleted (and a lock it holds released). */
  async revoke(options: CallOptions = {}): Promise<void> {
    this.close();
    const answer = await this.client.call({
      ...options,
      method: 'DELETE',
      path: `/leases/${this.id}`,
      idempotent: true,
    });
    if (answer.status !== 404) expectOk(answer, `revoke lease ${this.id}`);
  }

  /** @internal Ends the lease locally with `reason` (idempotent). */
  end(reason: KvClientError): void {
    if (this.controller.signal.aborted) return;
    this.timer?.cancel();
    this.inFlight?.abort(reason);
    this.controller.abort(reason);
  }

  private schedule(afterMs = (this.ttl * 1000) / 3): void {
    this.timer = this.client.settings.clock.setTimer(afterMs, () => void this.keepalive());
  }

  private async keepalive(): Promise<void> {
    const clock = this.client.settings.clock;
    const sentAt = clock.now();
    const remaining = this.expiresBy - sentAt;
    if (remaining <= 0)
      return this.end(new LeaseLostError(`lease ${this.id} was not kept alive within its ${this.ttl} s`));
    this.inFlight = new AbortController();
    try {
      const answer = await this.client.call({
        method: 'POST',
        path: `/leases/${this.id}/keepalive`,
        idempotent: true,
        timeout: remaining,
        signal: this.inFlight.signal,
      });
      if (answer.status === 404)
        return this.end(new LeaseLostError(`lease ${this.id} expired or was revoked`));
      expectOk(answer, `keepalive of lease ${this.id}`);
      this.expiresBy = sentAt + this.ttl * 1000;
    } catch (error) {
      if (this.ended) return;
      if (!(error instanceof KvHttpError) || error.status >= 500) {
        // Could not reach a leader in time: the lease may have expired meanwhile.
        if (clock.now() >= this.expiresBy)
          return this.end(
            new LeaseLostError(
              `lease ${this.id} was not kept alive within its ${this.ttl} s: ${(error as Error).message}`,
            ),
          );
      } else return this.end(new LeaseLostError(`lease ${this.id}: ${error.message}`));
    } finally {
      this.inFlight = null;
    }
    if (!this.ended) this.schedule();
  }
}

/** @internal `POST /leases`, then a Lease that keeps itself alive. */
export async function grantLease(client: ClientHost, ttl: number, options: CallOptions): Promise<Lease> {
  checkTtl(ttl);
  const sentAt = client.settings.clock.now();
  const answer = await client.call({
    ...options,
    ...jsonCall('POST', '/leases', { ttl }),
    idempotent: false,
  });
  expectOk(answer, 'grant lease');
  const body = jsonObject(answer.body, 'grant lease');
  const lease = new Lease(
    client,
    text(body, 'id', 'grant lease'),
    integer(body, 'ttl', 'grant lease'),
    sentAt,
  );
  stopOnAbort(lease, options.signal);
  return lease;
}

/** @internal Closes `lease` when `signal` aborts. */
export function stopOnAbort(lease: Lease, signal: AbortSignal | undefined): void {
  if (signal === undefined) return;
  const onAbort = () => lease.close();
  if (signal.aborted) return onAbort();
  signal.addEventListener('abort', onAbort, { once: true });
  lease.signal.addEventListener('abort', () => signal.removeEventListener('abort', onAbort), { once: true });
}

/** @internal */
export function checkTtl(ttl: number): void {
  if (!Number.isSafeInteger(ttl) || ttl < MIN_TTL || ttl > MAX_TTL)
    throw new RangeError(`ttl must be a whole number of seconds from ${MIN_TTL} to ${MAX_TTL}, got ${ttl}`);
}
