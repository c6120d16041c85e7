/**
 * A small router: each route module (kv-routes.ts, cluster-routes.ts, status-routes.ts) hands over
 * its routes, and the server asks which one answers a request. Paths are matched undecoded.
 */
import type { RouteLabel } from '../metrics.js';
import type { KvRequest, RouteInfo } from './request.js';

export interface Route extends RouteInfo {
  /**
   * Literal segments, `:name` for one non-empty segment, and a final `*name` for the rest of the
   * path (possibly empty, possibly holding '/'): `/kv/*key` matches `/kv/` and `/kv/a/b`, not `/kv`.
   */
  readonly path: string;
  /** The route's name in the request metrics. */
  readonly label: RouteLabel;
  handle(request: KvRequest): Promise<void>;
}

export type RouteMatch =
  | { kind: 'found'; route: Route; params: Record<string, string> }
  /** The path exists but not with this method: 405 with `allow`; `label` is the first route's. */
  | { kind: 'method-not-allowed'; label: RouteLabel; allow: string[] }
  | { kind: 'not-found' };

interface CompiledRoute {
  route: Route;
  pattern: RegExp;
  names: string[];
}

export class Router {
  private readonly routes: CompiledRoute[] = [];

  /** Adds routes; when several match a request, the first added answers. */
  add(routes: readonly Route[]): this {
    for (const route of routes) this.routes.push(compile(route));
    return this;
  }

  match(method: string, path: string): RouteMatch {
    const allow: string[] = [];
    let label: RouteLabel | undefined;
    for (const { route, pattern, names } of this.routes) {
      const found = pattern.exec(path);
      if (found === null) continue;
      if (route.method === method) {
        const params: Record<string, string> = {};
        names.forEach((name, i) => (params[name] = found[i + 1]));
        return { kind: 'found', route, params };
      }
      label ??= route.label;
      if (!allow.includes(route.method)) allow.push(route.method);
    }
    return label === undefined ? { kind: 'not-found' } : { kind: 'method-not-allowed', label, allow };
  }
}

function compile(route: Route): CompiledRoute {
  if (!route.path.startsWith('/')) throw new Error(`route path ${route.path} must start with /`);
  const names: string[] = [];
  const segments = route.path
    .slice(1)
    .split('/')
    .map((segment, i, all) => {
      if (segment.startsWith(':')) {
        names.push(segment.slice(1));
        return '([^/]+)';
      }
      if (segment.startsWith('*')) {
        if (i !== all.length - 1) throw new Error(`${route.path}: *${segment} must be the last segment`);
        names.push(segment.slice(1));
        return '(.*)';
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    });
  return { route, pattern: new RegExp(`^/${segments.join('/')}$`), names };
}
