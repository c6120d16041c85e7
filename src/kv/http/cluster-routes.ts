/**
 * The membership and leadership routes: `POST /cluster/join`, `DELETE /cluster/{id}`,
 * `POST /cluster/transfer`, `POST /cluster/formats` (a member's record of the command forms it
 * reads, command-formats.ts), and the demo's partition switch `POST /debug/isolate` (only when asked).
 * They need the admin token (when the server has one), take only JSON bodies, and are audited.
 */
import { MAX_FORMAT_NAMES } from '../command-formats.js';
import { normalizeHttpUrl, parseHostPort, serverIdProblem } from '../validate.js';
import { HttpError, parseJsonObject, sendJson } from './io.js';
import type { Membership } from './membership.js';
import type { KvRequest } from './request.js';
import type { RouteContext } from './route-context.js';
import type { Route } from './router.js';

export interface ClusterRouteOptions {
  /** Serve POST /debug/isolate (the demo's partition switch). */
  debugRoutes: boolean;
}

/** What every route here shares: admin only, one audit line per request (and the POSTs take JSON only). */
const ADMIN = { access: 'admin', audited: true } as const;

export function clusterRoutes(
  context: RouteContext,
  membership: Membership,
  options: ClusterRouteOptions,
): Route[] {
  const { cluster } = context;
  const routes: Route[] = [
    {
      ...ADMIN,
      jsonBody: true,
      method: 'POST',
      path: '/cluster/join',
      label: 'cluster_join',
      async handle(request) {
        const join = parseJoin(await request.jsonBody());
        request.audit = { ...join };
        context.requireLeader(request);
        const outcome = await membership.join(join);
        request.audit = { ...join, outcome };
        sendJson(request.res, 200, { ok: true, outcome });
      },
    },
    {
      ...ADMIN,
      jsonBody: true,
      method: 'POST',
      path: '/cluster/formats',
      label: 'cluster_formats',
      async handle(request) {
        const body = await request.jsonBody();
        const id = serverIdField(body.id);
        const formats = parseFormats(body.formats);
        if (formats === null) throw new HttpError(400, '"formats" must be an array of form names');
        request.audit = { id, formats };
        context.requireLeader(request);
        await membership.publishFormats(id, formats);
        sendJson(request.res, 200, { ok: true });
      },
    },
    {
      ...ADMIN,
      jsonBody: true,
      method: 'POST',
      path: '/cluster/transfer',
      label: 'cluster_transfer',
      async handle(request) {
        const raw = await request.body();
        const body = raw.length === 0 ? {} : parseJsonObject(raw);
        if (body.id !== undefined && (typeof body.id !== 'string' || serverIdProblem(body.id) !== null)) {
          throw new HttpError(400, '"id" must be a server ID');
        }
        request.audit = { to: body.id ?? '(most up to date)' };
        context.requireLeader(request);
        await cluster.leadershipTransfer(body.id as string | undefined);
        sendJson(request.res, 200, { ok: true });
      },
    },
    {
      ...ADMIN,
      method: 'DELETE',
      path: '/cluster/*id',
      label: 'cluster_remove',
      async handle(request) {
        const id = request.param('id', 'server ID');
        const problem = serverIdProblem(id);
        if (problem !== null) throw new HttpError(400, problem);
        request.audit = { id };
        context.requireLeader(request);
        await membership.remove(id);
        sendJson(request.res, 200, { ok: true });
      },
    },
  ];
  if (options.debugRoutes) routes.push(isolateRoute(context));
  return routes;
}

function serverIdField(id: unknown): string {
  if (typeof id !== 'string' || serverIdProblem(id) !== null) {
    throw new HttpError(400, typeof id === 'string' ? serverIdProblem(id)! : '"id" must be a string');
  }
  return id;
}

/** At most MAX_FORMAT_NAMES short strings; null when `value` is not that. */
function parseFormats(value: unknown): string[] | null {
  if (!Array.isArray(value) || value.length > MAX_FORMAT_NAMES) return null;
  const names = value.filter((name): name is string => typeof name === 'string' && name.length <= 32);
  return names.length === value.length ? names : null;
}

function parseJoin(body: Record<string, unknown>) {
  const { address, http } = body;
  const id = serverIdField(body.id);
  const voter = body.voter ?? true;
  const replace = body.replace ?? false;
  if (typeof address !== 'string' || typeof parseHostPort(address, true) === 'string') {
    throw new HttpError(400, '"address" must be the Raft address as host:port');
  }
  const httpUrl = typeof http === 'string' ? normalizeHttpUrl(http) : null;
  if (httpUrl === null)
    throw new HttpError(400, '"http" must be the HTTP address as host:port or http(s)://host:port');
  if (typeof voter !== 'boolean') throw new HttpError(400, '"voter" must be a boolean');
  if (typeof replace !== 'boolean') throw new HttpError(400, '"replace" must be a boolean');
  const formats = body.formats === undefined ? null : parseFormats(body.formats);
  if (body.formats !== undefined && formats === null)
    throw new HttpError(400, '"formats" must be an array of form names');
  return { id, address, http: httpUrl, voter, replace, formats };
}

function isolateRoute(context: RouteContext): Route {
  return {
    ...ADMIN,
    jsonBody: true,
    method: 'POST',
    path: '/debug/isolate',
    label: 'debug_isolate',
    async handle(request: KvRequest) {
      const body = await request.jsonBody();
      let peers: string[] | null;
      if (body.heal === true) peers = null;
      else if (Array.isArray(body.peers) && body.peers.every((peer) => typeof peer === 'string')) {
        peers = body.peers as string[];
      } else throw new HttpError(400, 'body must be {"peers":[ids...]} or {"heal":true}');
      request.audit = { peers: peers ?? 'heal' };
      if (context.cluster.isolate === undefined) throw new HttpError(501, 'this node cannot isolate itself');
      await context.cluster.isolate(peers);
      sendJson(request.res, 200, { ok: true, isolated: peers ?? [] });
    },
  };
}
