/**
 * `GET /watch?prefix=P[&since=R]` on any member: the changes under a prefix as Server-Sent Events,
 * resumable with `Last-Event-ID` (what EventSource sends when it reconnects). The streams
 * themselves live in watch-hub.ts.
 */
import { parseBoundedInt, type KvRequest } from './request.js';
import { keyText } from './range-routes.js';
import { HttpError } from './io.js';
import type { Route } from './router.js';
import type { WatchHub } from './watch-hub.js';

export function watchRoutes(hub: WatchHub): Route[] {
  return [{ method: 'GET', path: '/watch', label: 'watch', handle: (request) => openWatch(hub, request) }];
}

/** Streams from `?since=`, or from the `Last-Event-ID` a reconnecting EventSource sends. */
async function openWatch(hub: WatchHub, request: KvRequest): Promise<void> {
  const prefix = keyText(request, 'prefix', true) ?? '';
  let since = request.queryInt('since', 0, Number.MAX_SAFE_INTEGER);
  const lastEventId = request.req.headers['last-event-id'];
  if (Array.isArray(lastEventId)) throw new HttpError(400, 'Last-Event-ID given more than once');
  if (lastEventId !== undefined)
    since = parseBoundedInt(lastEventId.trim(), 'Last-Event-ID', 0, Number.MAX_SAFE_INTEGER);
  hub.open(request.res, prefix, since);
}
