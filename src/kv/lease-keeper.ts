/**
 * Lease expiry, decided by the leader alone and carried out through the log. The leader keeps a
 * countdown per lease on its injected clock; whenever it gains leadership (a new term) every
 * countdown starts afresh at the full TTL, so no lease ever expires early because of a change of
 * leader. A countdown that reaches zero becomes a `lease-revoke` proposal; a bounded number of them
 * is in flight at a time, so a mass expiry is a steady trickle, never a storm. Followers keep no
 * countdowns: they delete a lease's keys when the revoke command applies, like every replica.
 */
import { ErrNotLeader, type Clock, type Logger, type Timer } from '../index.js';
import type { KvCluster } from './cluster.js';
import { encodeCommand } from './commands.js';
import type { KvFsm } from './fsm.js';

export interface LeaseKeeperOptions {
  cluster: KvCluster;
  fsm: KvFsm;
  clock: Clock;
  logger: Logger;
  /** How often the leader looks for expired leases, in ms (default 250). */
  checkIntervalMs?: number;
  /** Revocations proposed and not yet applied, at most (default 16). */
  maxRevokesInFlight?: number;
  /** How long a revocation may take to commit, in ms (default 5000). */
  proposeTimeoutMs?: number;
}

export class LeaseKeeper {
  /** Lease ID -> the clock time it expires at (leader only). */
  private readonly deadlines = new Map<number, number>();
  /** Leases kept alive by a request waiting for a lock, with how many such requests there are. */
  private readonly pinned = new Map<number, number>();
  private readonly revoking = new Set<number>();
  /** The term this server leads in, as the countdowns know it; null while it does not lead. */
  private leaderTerm: number | null = null;
  private timer: Timer | null = null;
  private stopped = false;
  private expirations = 0;
  private readonly unobserve: () => void;
  private readonly checkIntervalMs: number;
  private readonly maxRevokesInFlight: number;
  private readonly proposeTimeoutMs: number;

  constructor(private readonly options: LeaseKeeperOptions) {
    this.checkIntervalMs = options.checkIntervalMs ?? 250;
    this.maxRevokesInFlight = options.maxRevokesInFlight ?? 16;
    this.proposeTimeoutMs = options.proposeTimeoutMs ?? 5000;
    this.unobserve = options.fsm.observe({
      applied: (_revision, journal) => {
        if (journal.leasesGranted.length > 0) this.syncLeadership();
        for (const lease of journal.leasesGranted) this.startCountdown(lease.id, lease.ttl);
        for (const { id } of journal.leasesRevoked) {
          this.deadlines.delete(id);
          this.revoking.delete(id);
        }
      },
      restored: () => {
        if (this.leaderTerm !== null) this.restartAll();
      },
    });
    this.arm();
  }

  /** Leases this server expired (proposed and applied). */
  get expired(): number {
    return this.expirations;
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.unobserve();
  }

  /**
   * Notices a change of leadership and proposes the revocation of expired leases. Runs on a timer;
   * the service also calls it on every leadership event so that a new term is seen at once.
   */
  check(): void {
    if (this.syncLeadership()) this.expire();
  }

  /** Follows this server's leadership: countdowns start afresh in each term it leads. True while leading. */
  private syncLeadership(): boolean {
    const status = this.options.cluster.status();
    if (status.state !== 'Leader') {
      if (this.leaderTerm !== null) {
        this.leaderTerm = null;
        this.deadlines.clear();
        this.revoking.clear();
      }
      return false;
    }
    if (this.leaderTerm !== status.term) {
      this.leaderTerm = status.term;
      this.restartAll();
    }
    return true;
  }

  /**
   * Restarts the countdown of lease `id` (a keepalive the caller has confirmed with a read-index
   * round). Its TTL, or null when the lease is gone or already expiring.
   */
  keepAlive(id: number): number | null {
    this.check();
    if (this.leaderTerm === null) throw new ErrNotLeader();
    const lease = this.options.fsm.lease(id);
    if (lease === undefined || this.revoking.has(id)) return null;
    this.deadlines.set(id, this.options.clock.now() + lease.ttl * 1000);
    return lease.ttl;
  }

  /** Milliseconds until lease `id` expires as this leader counts; null when it does not count it. */
  remainingMs(id: number): number | null {
    const lease = this.options.fsm.lease(id);
    if (lease === undefined || this.leaderTerm === null) return null;
    if (this.pinned.has(id)) return lease.ttl * 1000;
    const deadline = this.deadlines.get(id);
    return deadline === undefined ? null : Math.max(0, deadline - this.options.clock.now());
  }

  /** Keeps lease `id` alive until `unpin` (a request is waiting for a lock with it). */
  pin(id: number): void {
    this.pinned.set(id, (this.pinned.get(id) ?? 0) + 1);
  }

  /** Ends a `pin`; the countdown restarts at the full TTL from now. */
  unpin(id: number): void {
    const count = (this.pinned.get(id) ?? 0) - 1;
    if (count > 0) return void this.pinned.set(id, count);
    this.pinned.delete(id);
    const lease = this.options.fsm.lease(id);
    if (lease !== undefined) this.startCountdown(id, lease.ttl);
  }

  private startCountdown(id: number, ttl: number): void {
    if (this.leaderTerm !== null) this.deadlines.set(id, this.options.clock.now() + ttl * 1000);
  }

  private restartAll(): void {
    this.deadlines.clear();
    this.revoking.clear();
    const now = this.options.clock.now();
    for (const lease of this.options.fsm.leases()) this.deadlines.set(lease.id, now + lease.ttl * 1000);
  }

  private expire(): void {
    const { fsm, clock } = this.options;
    // Leases this leader learnt of without a countdown (granted while it did not know it led).
    if (this.deadlines.size < fsm.leaseCount) {
      for (const lease of fsm.leases())
        if (!this.deadlines.has(lease.id)) this.startCountdown(lease.id, lease.ttl);
    }
    const now = clock.now();
    for (const [id, deadline] of this.deadlines) {
      if (this.revoking.size >= this.maxRevokesInFlight) return;
      if (deadline > now || this.pinned.has(id) || this.revoking.has(id)) continue;
      this.revoke(id);
    }
  }

  private revoke(id: number): void {
    this.revoking.add(id);
    const command = encodeCommand({ op: 'lease-revoke', id, reason: 'expire' });
    this.options.cluster.apply(command, { timeout: this.proposeTimeoutMs }).then(
      ({ response }) => {
        this.revoking.delete(id);
        if ((response as { ok?: boolean }).ok === true) this.expirations++;
      },
      (error: unknown) => {
        // Still there after a failed proposal: the next check tries again (if this server still leads).
        this.revoking.delete(id);
        this.options.logger.warn({ lease: id, error: String(error) }, 'kv: could not expire a lease');
      },
    );
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = this.options.clock.setTimer(this.checkIntervalMs, () => {
      this.check();
      this.arm();
    });
  }
}
