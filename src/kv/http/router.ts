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

/** Consecutive routes on the same path share one pattern, tested once per request. */
interface CompiledPath {
  path: string;
  pattern: RegExp;
  names: string[];
  routes: Route[];
}

export class Router {
  private readonly paths: CompiledPath[] = [];

  /** Adds routes; when several match a request, the first added answers. */
  add(routes: readonly Route[]): this {
    for (const route of routes) {
      const last = this.paths.at(-1);
      if (last?.path === route.path) last.routes.push(route);
      else this.paths.push({ path: route.path, ...compile(route.path), routes: [route] });
    }
    return this;
  }

  match(method: string, path: string): RouteMatch {
    let allow: string[] | undefined;
    let label: RouteLabel | undefined;
    for (const { pattern, names, routes } of this.paths) {
      const found = pattern.exec(path);
      if (found === null) continue;
      for (const route of routes) {
        if (route.method === method) {
          const params: Record<string, string> = {};
          for (let i = 0; i < names.length; i++) params[names[i]] = found[i + 1];
          return { kind: 'found', route, params };
        }
        label ??= route.label;
        allow ??= [];
        if (!allow.includes(route.method)) allow.push(route.method);
      }
    }
    return label === undefined ? { kind: 'not-found' } : { kind: 'method-not-allowed', label, allow: allow! };
  }
}

function compile(path: string): { pattern: RegExp; names: string[] } {
  if (!path.startsWith('/')) throw new Error(`route path ${path} must start with /`);
  const names: string[] = [];
  const segments = path
    .slice(1)
    .split('/')
    .map((segment, i, all) => {
      if (segment.startsWith(':')) {
        names.push(segment.slice(1));
        return '([^/]+)';
      }
      if (segment.startsWith('*')) {
        if (i !== all.length - 1) throw new Error(`${path}: *${segment} must be the last segment`);
        names.push(segment.slice(1));
        return '(.*)';
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    });
  return { pattern: new RegExp(`^/${segments.join('/')}$`), names };
}
