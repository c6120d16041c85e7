/**
 * What a server tells about itself: `GET /healthz` (alive, no token needed), `GET /readyz` (ready
 * to serve), `GET /status` (the contract's JSON) and `GET /metrics` (Prometheus).
 */
import { REMOVED_MESSAGE, type KvCluster } from '../cluster.js';
import type { StatusBody } from '../contract.js';
import { sendJson } from './io.js';
import type { RouteContext } from './route-context.js';
import type { Route } from './router.js';
import type { WatchHub } from './watch-hub.js';

export function statusRoutes(context: RouteContext, watches: WatchHub): Route[] {
  const { metrics } = context;
  const readiness = new Readiness(context.cluster);
  return [
    {
      method: 'GET',
      path: '/healthz',
      label: 'healthz',
      access: 'public',
      async handle(request) {
        sendJson(request.res, 200, { ok: true });
      },
    },
    {
      method: 'GET',
      path: '/readyz',
      label: 'readyz',
      async handle(request) {
        const problem = readiness.problem();
        sendJson(
          request.res,
          problem === null ? 200 : 503,
          problem === null ? { ok: true } : { error: problem },
        );
      },
    },
    {
      method: 'GET',
      path: '/status',
      label: 'status',
      async handle(request) {
        sendJson(request.res, 200, statusBody(context, watches));
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      label: 'metrics',
      async handle(request) {
        const text = await metrics.registry.metrics();
        request.res.writeHead(200, { 'Content-Type': metrics.registry.contentType });
        request.res.end(text);
      },
    },
  ];
}

function statusBody({ cluster, fsm }: RouteContext, watches: WatchHub): StatusBody {
  const status = cluster.status();
  const leader = status.leader;
  return {
    id: cluster.id,
    state: status.state,
    term: status.term,
    leader: {
      id: leader?.id ?? '',
      address: leader?.address ?? '',
      http: leader === null ? '' : (fsm.httpAddress(leader.id) ?? ''),
    },
    lastIndex: status.lastIndex,
    commitIndex: status.commitIndex,
    appliedIndex: status.appliedIndex,
    lastSnapshotIndex: status.lastSnapshotIndex,
    removed: status.removed,
    configuration: status.configuration.map(({ id, address, suffrage }) => ({ id, address, suffrage })),
    revision: fsm.revision,
    watchers: watches.count,
    leases: fsm.leaseCount,
    locks: fsm.lockCount,
  };
}

/**
 * Ready once the server knows a leader and has applied everything that was committed when it
 * started: the commit index it had then, and the one it learned when it first knew a leader
 * (a restarted follower learns the cluster's commit index from its first heartbeat).
 */
class Readiness {
  private readonly startCommit: number;
  private leaderCommit: number | null = null;

  constructor(private readonly cluster: KvCluster) {
    this.startCommit = cluster.status().commitIndex;
  }

  /** Why the server is not ready, or null. */
  problem(): string | null {
    const status = this.cluster.status();
    if (status.removed) return REMOVED_MESSAGE;
    if (status.leader === null) return 'no leader known';
    this.leaderCommit ??= status.commitIndex;
    const target = Math.max(this.startCommit, this.leaderCommit);
    if (status.appliedIndex < target) {
      return `catching up: applied ${status.appliedIndex} of ${target} committed when it started`;
    }
    return null;
  }
}
