/** What a server tells about itself: `GET /status` (the contract's JSON) and `GET /metrics` (Prometheus). */
import type { StatusBody } from '../contract.js';
import { sendJson } from './io.js';
import type { RouteContext } from './route-context.js';
import type { Route } from './router.js';

export function statusRoutes(context: RouteContext): Route[] {
  const { metrics } = context;
  return [
    {
      method: 'GET',
      path: '/status',
      label: 'status',
      async handle(request) {
        sendJson(request.res, 200, statusBody(context));
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

function statusBody({ cluster, fsm }: RouteContext): StatusBody {
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
    configuration: status.configuration.map(({ id, address, suffrage }) => ({ id, address, suffrage })),
  };
}
