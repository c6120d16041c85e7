/**
 * `client.lock(name, {ttl, wait})`: a lock with a fencing token. The lock is held through a lease
 * that the handle keeps alive; its `signal` aborts when the lock is lost (the lease expired or was
 * revoked: another holder may now have it) or released. Hand the token to every resource the work
 * touches, and the signal to the work itself.
 */
import { expectOk, jsonCall, type ClientHost } from './host.js';
import { integer, jsonObject, text } from './decode.js';
import { LeaseLostError, LockBusyError } from './errors.js';
import { checkTtl, Lease, stopOnAbort } from './lease.js';
import type { CallOptions } from './requester.js';

/** How to acquire a lock. */
export interface LockOptions extends CallOptions {
  /** Seconds the lock outlives its holder's last keepalive (default 10). */
  ttl?: number;
  /** Seconds to wait for the lock (0..300, default 0: try once). */
  wait?: number;
}

/** The longest wait the service accepts, in seconds. */
const MAX_WAIT = 300;

/** A held lock. */
export interface Lock {
  /** The lock's name. */
  readonly name: string;
  /** The fencing token: greater than every token handed out before for this name. */
  readonly token: number;
  /** The lease that holds the lock (kept alive by this handle). */
  readonly lease: Lease;
  /** Aborts with a LeaseLostError when the lock is lost or released. */
  readonly signal: AbortSignal;
  /** Releases the lock (safe to call again, and after the lock was lost). */
  release(options?: CallOptions): Promise<void>;
}

/** @internal */
export async function acquireLock(client: ClientHost, name: string, options: LockOptions): Promise<Lock> {
  const ttl = options.ttl ?? 10;
  const wait = options.wait ?? 0;
  checkTtl(ttl);
  if (!Number.isSafeInteger(wait) || wait < 0 || wait > MAX_WAIT)
    throw new RangeError(`wait must be a whole number of seconds from 0 to ${MAX_WAIT}, got ${wait}`);
  const path = lockPath(name);
  const clock = client.settings.clock;
  const sentAt = clock.now();
  const answer = await client.call({
    ...jsonCall('POST', path, { ttl, wait }),
    idempotent: false,
    signal: options.signal,
    // The service holds the request while it waits for the lock.
    timeout: options.timeout ?? client.settings.timeout + wait * 1000,
  });
  if (answer.status === 409) {
    let body = {};
    try {
      body = jsonObject(answer.body, 'lock');
    } catch {
      // Keep the status.
    }
    throw new LockBusyError(409, body, `lock ${name} not acquired within ${wait} s`);
  }
  expectOk(answer, `lock ${name}`);
  const body = jsonObject(answer.body, `lock ${name}`);
  const token = integer(body, 'token', 'lock');
  // A lock handed over after a wait restarts its lease's countdown at the hand-over, some time after
  // we sent: count from the answer and confirm with a keepalive at once.
  const waited = wait > 0;
  const lease = new Lease(
    client,
    text(body, 'lease', 'lock'),
    ttl,
    waited ? clock.now() : sentAt,
    waited ? 0 : undefined,
  );
  stopOnAbort(lease, options.signal);
  const release = async (releaseOptions: CallOptions = {}) => {
    lease.end(new LeaseLostError(`lock ${name} released`));
    // Release by token is idempotent: a repeat (or a release after the lock was lost) answers 409.
    const released = await client.call({
      ...releaseOptions,
      ...jsonCall('DELETE', path, { token }),
      idempotent: true,
    });
    if (released.status !== 409) expectOk(released, `release lock ${name}`);
  };
  return { name, token, lease, signal: lease.signal, release };
}

function lockPath(name: string): string {
  if (typeof name !== 'string' || name === '') throw new RangeError('a lock name is a non-empty string');
  return `/locks/${encodeURIComponent(name)}`;
}
