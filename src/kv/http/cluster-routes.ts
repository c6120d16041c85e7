/**
 * The membership and leadership routes: `POST /cluster/join`, `DELETE /cluster/{id}`,
 * `POST /cluster/transfer`, and the demo's partition switch `POST /debug/isolate` (only when asked).
 */
import { httpAddressKey } from '../commands.js';
import { normalizeHttpUrl, parseHostPort, serverIdProblem } from '../validate.js';
import { HttpError, parseJsonObject, sendJson } from './io.js';
import type { RouteContext } from './route-context.js';
import type { Route } from './router.js';

export interface ClusterRouteOptions {
  /** Serve POST /debug/isolate (the demo's partition switch). */
  debugRoutes: boolean;
}

export function clusterRoutes(context: RouteContext, options: ClusterRouteOptions): Route[] {
  const { cluster } = context;
  const routes: Route[] = [
    {
      method: 'POST',
      path: '/cluster/join',
      label: 'cluster_join',
      async handle(request) {
        const body = await request.jsonBody();
        const { id, address, http } = body;
        const voter = body.voter ?? true;
        if (typeof id !== 'string' || serverIdProblem(id) !== null) {
          throw new HttpError(400, typeof id === 'string' ? serverIdProblem(id)! : '"id" must be a string');
        }
        if (typeof address !== 'string' || typeof parseHostPort(address) === 'string') {
          throw new HttpError(400, '"address" must be the Raft address as host:port');
        }
        const httpUrl = typeof http === 'string' ? normalizeHttpUrl(http) : null;
        if (httpUrl === null)
          throw new HttpError(400, '"http" must be the HTTP address as host:port or http(s)://host:port');
        if (typeof voter !== 'boolean') throw new HttpError(400, '"voter" must be a boolean');
        context.requireLeader(request);
        // The address goes in first: once the member is in, it may become leader and need it for redirects.
        await context.applyCommand({ op: 'put', key: httpAddressKey(id), value: Buffer.from(httpUrl) });
        await (voter ? cluster.addVoter(id, address) : cluster.addNonvoter(id, address));
        sendJson(request.res, 200, { ok: true });
      },
    },
    {
      method: 'POST',
      path: '/cluster/transfer',
      label: 'cluster_transfer',
      async handle(request) {
        const raw = await request.body();
        const body = raw.length === 0 ? {} : parseJsonObject(raw);
        if (body.id !== undefined && (typeof body.id !== 'string' || serverIdProblem(body.id) !== null)) {
          throw new HttpError(400, '"id" must be a server ID');
        }
        context.requireLeader(request);
        await cluster.leadershipTransfer(body.id as string | undefined);
        sendJson(request.res, 200, { ok: true });
      },
    },
    {
      method: 'DELETE',
      path: '/cluster/*id',
      label: 'cluster_remove',
      async handle(request) {
        const id = request.param('id', 'server ID');
        const problem = serverIdProblem(id);
        if (problem !== null) throw new HttpError(400, problem);
        context.requireLeader(request);
        await cluster.removeServer(id);
        try {
          await context.applyCommand({ op: 'delete', key: httpAddressKey(id) });
        } catch (error) {
          // The removal itself committed; a stale address entry only costs a key.
          context.logger.warn(
            { id, error: String(error) },
            'kv: could not forget the HTTP address of a removed server',
          );
        }
        sendJson(request.res, 200, { ok: true });
      },
    },
  ];
  if (options.debugRoutes) {
    routes.push({
      method: 'POST',
      path: '/debug/isolate',
      label: 'debug_isolate',
      async handle(request) {
        const body = await request.jsonBody();
        let peers: string[] | null;
        if (body.heal === true) peers = null;
        else if (Array.isArray(body.peers) && body.peers.every((peer) => typeof peer === 'string')) {
          peers = body.peers as string[];
        } else throw new HttpError(400, 'body must be {"peers":[ids...]} or {"heal":true}');
        if (cluster.isolate === undefined) throw new HttpError(501, 'this node cannot isolate itself');
        await cluster.isolate(peers);
        sendJson(request.res, 200, { ok: true, isolated: peers ?? [] });
      },
    });
  }
  return routes;
}
