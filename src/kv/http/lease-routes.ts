/**
 * The lease routes: grant, keep alive, look at and revoke leases (`/leases`, `/leases/{id}`,
 * `/leases/{id}/keepalive`), all on the leader. Expiry itself is the LeaseKeeper's (lease-keeper.ts).
 */
import { MAX_TTL, MIN_TTL } from '../commands.js';
import type { LeaseBody, LeaseInfoBody, LeaseListBody, RevisionBody } from '../contract.js';
import { intField, parseLeaseId } from '../json-fields.js';
import type { LeaseKeeper } from '../lease-keeper.js';
import { compareKeys } from '../state/sorted-keys.js';
import type { Lease } from '../state/store.js';
import { HttpError, sendJson } from './io.js';
import type { KvRequest } from './request.js';
import type { RouteContext } from './route-context.js';
import type { Route } from './router.js';

/** Keys listed by `GET /leases/{id}` at most. */
const MAX_LISTED_KEYS = 10_000;

export interface LeaseRouteOptions {
  keeper: LeaseKeeper;
  /** Leases (lock leases included) the service holds at most; a grant past it answers 429. */
  maxLeases: number;
}

export function leaseRoutes(context: RouteContext, options: LeaseRouteOptions): Route[] {
  const { fsm } = context;
  const { keeper } = options;

  /** The lease named in the path, after a read-index round on the leader; 404 when gone. */
  const existingLease = async (request: KvRequest): Promise<Lease> => {
    const id = leaseParam(request);
    context.requireLeader(request);
    await context.cluster.linearizableRead({ timeout: context.timeout });
    const lease = fsm.lease(id);
    if (lease === undefined) throw new HttpError(404, 'lease not found');
    return lease;
  };
  const remaining = (lease: Lease) => Math.ceil((keeper.remainingMs(lease.id) ?? lease.ttl * 1000) / 1000);

  return [
    {
      method: 'POST',
      path: '/leases',
      label: 'leases',
      async handle(request) {
        const ttl = intField(await request.jsonBody(), 'ttl', MIN_TTL, MAX_TTL);
        context.requireLeader(request);
        requireRoomForLease(context, options.maxLeases);
        const { index } = await context.applyCommand({ op: 'lease-grant', ttl });
        sendJson(request.res, 200, { id: String(index), ttl } satisfies LeaseBody);
      },
    },
    {
      method: 'POST',
      path: '/leases/:id/keepalive',
      label: 'leases',
      async handle(request) {
        const lease = await existingLease(request);
        const ttl = keeper.keepAlive(lease.id);
        if (ttl === null) throw new HttpError(404, 'lease not found (expired)');
        sendJson(request.res, 200, { id: String(lease.id), ttl } satisfies LeaseBody);
      },
    },
    {
      method: 'GET',
      path: '/leases/:id',
      label: 'leases',
      async handle(request) {
        const lease = await existingLease(request);
        const keys = [...lease.keys].sort(compareKeys);
        const body: LeaseInfoBody = {
          id: String(lease.id),
          ttl: lease.ttl,
          remaining: remaining(lease),
          keys: keys.slice(0, MAX_LISTED_KEYS),
        };
        if (keys.length > MAX_LISTED_KEYS) body.keysTruncated = true;
        sendJson(request.res, 200, body);
      },
    },
    {
      method: 'GET',
      path: '/leases',
      label: 'leases',
      async handle(request) {
        context.requireLeader(request);
        await context.cluster.linearizableRead({ timeout: context.timeout });
        const leases = [...fsm.leases()].map((lease) => ({
          id: String(lease.id),
          ttl: lease.ttl,
          remaining: remaining(lease),
          keys: lease.keys.size,
        }));
        sendJson(request.res, 200, { leases } satisfies LeaseListBody);
      },
    },
    {
      method: 'DELETE',
      path: '/leases/:id',
      label: 'leases',
      async handle(request) {
        const id = leaseParam(request);
        context.requireLeader(request);
        const { index, result } = await context.applyCommand({ op: 'lease-revoke', id, reason: 'revoke' });
        if (!result.ok) throw new HttpError(404, 'lease not found', {}, { revision: index });
        sendJson(request.res, 200, { revision: index } satisfies RevisionBody);
      },
    },
  ];
}

function leaseParam(request: KvRequest): number {
  const id = parseLeaseId(request.param('id', 'lease ID'));
  if (id === null) throw new HttpError(400, 'lease ID must be a decimal number such as 81');
  return id;
}

/** 429 when the service already holds `maxLeases` leases. */
export function requireRoomForLease(context: RouteContext, maxLeases: number): void {
  if (context.fsm.leaseCount >= maxLeases)
    throw new HttpError(429, `too many leases (at most ${maxLeases}): revoke some or let them expire`);
}
