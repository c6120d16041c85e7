/**
 * The lock routes (`/locks/{name}`, `/locks`). Acquiring logs a `lock` command, which queues a new
 * lease for the lock in commit order and hands the lock over at once when it is free. A request
 * that has to wait keeps its lease alive meanwhile (LeaseKeeper.pin) and waits for the state machine
 * to hand it the lock; when its wait runs out (or its client goes away, or this server stops
 * leading) it logs a `lock-cancel`, which releases the lock again if it was handed over meanwhile.
 * The token is the log index of the command that handed the lock over: a fencing token.
 */
import type { Clock, Timer } from '../../index.js';
import type { KvCommand } from '../commands.js';
import { MAX_TTL, MIN_TTL } from '../commands.js';
import type { LockBody, LockInfoBody, LockListBody, RevisionBody } from '../contract.js';
import type { KvFsm } from '../fsm.js';
import { intField } from '../json-fields.js';
import type { LeaseKeeper } from '../lease-keeper.js';
import type { LockState } from '../state/store.js';
import { keyProblem } from '../validate.js';
import { HttpError, sendJson } from './io.js';
import { requireRoomForLease } from './lease-routes.js';
import type { KvRequest } from './request.js';
import type { RouteContext } from './route-context.js';
import type { Route } from './router.js';

/** Seconds a lock request may wait, at most. */
export const MAX_LOCK_WAIT = 300;
/** How often a waiting request checks that this server still leads, in ms. */
const LEADERSHIP_POLL_MS = 250;

export interface LockRouteOptions {
  keeper: LeaseKeeper;
  maxLeases: number;
}

type WaitOutcome =
  { kind: 'acquired'; token: number } | { kind: 'revoked' } | { kind: 'gave-up'; why: string };

export function lockRoutes(context: RouteContext, options: LockRouteOptions): Route[] {
  const { fsm } = context;
  const waits = new LockWaits(fsm, context.clock);

  const acquire = async (request: KvRequest, name: string, ttl: number, waitSeconds: number) => {
    const { result } = await context.applyCommand({ op: 'lock', name, ttl });
    if (!result.ok || !('lease' in result))
      throw new Error(`unexpected lock result ${JSON.stringify(result)}`);
    const { lease } = result;
    if (result.token !== null)
      return sendJson(request.res, 200, { token: result.token, lease: String(lease) });
    options.keeper.pin(lease);
    let outcome: WaitOutcome;
    try {
      outcome = await waits.wait(name, lease, waitSeconds * 1000, request, () =>
        context.cluster.serverState() === 'Leader' ? null : 'this server stopped leading',
      );
    } finally {
      options.keeper.unpin(lease);
    }
    if (outcome.kind === 'acquired')
      return sendJson(request.res, 200, { token: outcome.token, lease: String(lease) } satisfies LockBody);
    if (outcome.kind === 'revoked')
      throw new HttpError(409, `lease ${lease} was revoked while waiting for the lock`);
    const cancel: KvCommand = { op: 'lock-cancel', name, lease };
    try {
      await context.applyCommand(cancel);
    } catch (error) {
      const answer = context.answerFor(request, error);
      throw new HttpError(
        answer.status,
        `${outcome.why}; could not cancel the request (${answer.message}): its lease ${lease} expires in ${ttl} s`,
        answer.headers,
        { lease: String(lease) },
      );
    }
    throw new HttpError(409, `lock not acquired: ${outcome.why}`);
  };

  return [
    {
      method: 'POST',
      path: '/locks/*name',
      label: 'locks',
      async handle(request) {
        const name = lockName(request);
        const body = await request.jsonBody();
        const ttl = intField(body, 'ttl', MIN_TTL, MAX_TTL);
        const wait = intField(body, 'wait', 0, MAX_LOCK_WAIT, 0);
        context.requireLeader(request);
        requireRoomForLease(context, options.maxLeases);
        await acquire(request, name, ttl, wait);
      },
    },
    {
      method: 'DELETE',
      path: '/locks/*name',
      label: 'locks',
      async handle(request) {
        const name = lockName(request);
        const token = intField(await request.jsonBody(), 'token', 1, Number.MAX_SAFE_INTEGER);
        context.requireLeader(request);
        const { index, result } = await context.applyCommand({ op: 'lock-release', name, token });
        if (!result.ok && result.reason === 'not-holder') {
          throw new HttpError(409, `token ${token} does not hold lock ${name}`, {}, { token: result.token });
        }
        sendJson(request.res, 200, { revision: index } satisfies RevisionBody);
      },
    },
    {
      method: 'GET',
      path: '/locks/*name',
      label: 'locks',
      async handle(request) {
        const name = lockName(request);
        await context.readBarrier(request);
        sendJson(request.res, 200, lockInfo(name, fsm.lock(name)));
      },
    },
    {
      method: 'GET',
      path: '/locks',
      label: 'locks',
      async handle(request) {
        await context.readBarrier(request);
        const locks = fsm.locks().map(([name, lock]) => lockInfo(name, lock));
        sendJson(request.res, 200, { locks } satisfies LockListBody);
      },
    },
  ];
}

/** Lock names follow the rules of keys (`_raftkit/` is reserved too). */
function lockName(request: KvRequest): string {
  const name = request.param('name', 'lock name');
  const problem = keyProblem(name, 'write');
  if (problem !== null) throw new HttpError(400, `lock name: ${problem}`);
  return name;
}

function lockInfo(name: string, lock: LockState | undefined): LockInfoBody {
  const held = lock !== undefined && lock.holder !== 0;
  return {
    name,
    token: held ? lock.token : null,
    lease: held ? String(lock.holder) : null,
    waiters: lock?.waiters.length ?? 0,
  };
}

/** Requests waiting for locks, woken by the state machine when it hands a lock over or drops a lease. */
class LockWaits {
  private readonly waiting = new Map<number, (outcome: WaitOutcome) => void>();

  constructor(
    private readonly fsm: KvFsm,
    private readonly clock: Clock,
  ) {
    fsm.observe({
      applied: (_revision, journal) => {
        for (const { lease, token } of journal.locksAcquired)
          this.waiting.get(lease)?.({ kind: 'acquired', token });
        for (const { id } of journal.leasesRevoked) this.waiting.get(id)?.({ kind: 'revoked' });
      },
      restored: () => {
        for (const [lease, settle] of this.waiting) {
          const outcome = this.current(lease);
          if (outcome !== null) settle(outcome);
        }
      },
    });
  }

  /**
   * Waits until lease `lease` holds lock `name`, the lease is gone, `ms` pass, the client goes
   * away, or `stop()` names a reason to stop.
   */
  wait(
    name: string,
    lease: number,
    ms: number,
    request: KvRequest,
    stop: () => string | null,
  ): Promise<WaitOutcome> {
    const now = this.current(lease, name);
    if (now !== null) return Promise.resolve(now);
    return new Promise((resolve) => {
      let poll: Timer | null = null;
      const settle = (outcome: WaitOutcome) => {
        if (this.waiting.get(lease) !== settle) return;
        this.waiting.delete(lease);
        deadline.cancel();
        poll?.cancel();
        request.res.off('close', onClose);
        resolve(outcome);
      };
      const onClose = () => settle({ kind: 'gave-up', why: 'the client went away' });
      this.waiting.set(lease, settle);
      request.res.once('close', onClose);
      const deadline = this.clock.setTimer(ms, () =>
        settle({ kind: 'gave-up', why: `not acquired within ${ms / 1000} s` }),
      );
      const checkLeadership = () => {
        const reason = stop();
        if (reason !== null) return settle({ kind: 'gave-up', why: reason });
        poll = this.clock.setTimer(LEADERSHIP_POLL_MS, checkLeadership);
      };
      poll = this.clock.setTimer(LEADERSHIP_POLL_MS, checkLeadership);
    });
  }

  /** The outcome already decided by the state (the lock handed over, or the lease gone), else null. */
  private current(lease: number, name?: string): WaitOutcome | null {
    if (this.fsm.lease(lease) === undefined) return { kind: 'revoked' };
    const lockName = name ?? this.fsm.lease(lease)!.lock;
    const lock = lockName === null ? undefined : this.fsm.lock(lockName);
    return lock !== undefined && lock.holder === lease ? { kind: 'acquired', token: lock.token } : null;
  }
}
