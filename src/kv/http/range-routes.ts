/**
 * `GET /kv?prefix=P&limit=N[&after=K][&stale]`: the keys under a prefix in UTF-8 order, a page at a
 * time, with the store revision they were read at (a watch from that revision continues exactly
 * where the range ends). Served from the ordered index: O(log n + limit), never a sort.
 */
import type { RangeBody } from '../contract.js';
import { encodeBase64 } from '../json-fields.js';
import { keyProblem } from '../validate.js';
import { HttpError, sendJson } from './io.js';
import type { KvRequest } from './request.js';
import type { RouteContext } from './route-context.js';
import type { Route } from './router.js';

export const DEFAULT_RANGE_LIMIT = 100;
export const MAX_RANGE_LIMIT = 10_000;

export interface RangeRouteOptions {
  /** A page stops once its values reach this many bytes (at least one item; `more` says the rest). */
  maxRangeBytes: number;
}

export function rangeRoutes(context: RouteContext, options: RangeRouteOptions): Route[] {
  return [
    {
      method: 'GET',
      path: '/kv',
      label: 'range',
      async handle(request) {
        const prefix = keyText(request, 'prefix', true) ?? '';
        const after = keyText(request, 'after', false);
        const limit = request.queryInt('limit', 1, MAX_RANGE_LIMIT, DEFAULT_RANGE_LIMIT)!;
        await context.readBarrier(request);
        const { fsm } = context;
        // Read synchronously after the barrier: the items and the revision are one state.
        const revision = fsm.revision;
        const { items, more } = fsm.range({ prefix, after, limit, maxValueBytes: options.maxRangeBytes });
        const body: RangeBody = {
          revision,
          items: items.map(([key, entry]) => ({
            key,
            value: encodeBase64(entry.value),
            revision: entry.revision,
          })),
          more,
        };
        sendJson(request.res, 200, body);
      },
    },
  ];
}

/** A key-like query value (a prefix may be empty); undefined when absent. */
export function keyText(request: KvRequest, name: string, mayBeEmpty: boolean): string | undefined {
  const text = request.queryText(name);
  if (text === undefined || (mayBeEmpty && text === '')) return text;
  const problem = keyProblem(text, 'read');
  if (problem !== null) throw new HttpError(400, `?${name}: ${problem}`);
  return text;
}
