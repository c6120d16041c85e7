/**
 * One request as the routes and policies see it. The path and query are kept undecoded until a
 * route asks for a value, so that `%2F` in a key stays a key byte and a value may be any bytes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteLabel } from '../metrics.js';
import { HttpError, parseJsonObject, readBody } from './io.js';

/**
 * What a request knows of the route that will answer it (router.ts's Route adds the handler; keeping
 * it out of here keeps request.ts and router.ts from importing each other).
 */
export interface RouteInfo {
  readonly method: string;
  readonly path: string;
  readonly label: RouteLabel;
  /** Default `client`. */
  readonly access?: RouteAccess;
  /**
   * The body must be declared `application/json` (415 otherwise), so that no cross-site form
   * (which can send only `text/plain` and form types) can reach the route.
   */
  readonly jsonBody?: boolean;
  /** Log every request of this route, refused ones too, with the caller's role and address. */
  readonly audited?: boolean;
}

/**
 * Who may call a route when the server has tokens (policy.ts): `public` needs none (`/healthz`),
 * `client` the client or the admin token, `admin` the admin token when one is configured.
 */
export type RouteAccess = 'public' | 'client' | 'admin';

/**
 * Who sent a request, as the authentication policy found out: the holder of the admin or the
 * client token, or `anonymous` when the server has no tokens or the route is public.
 */
export type CallerRole = 'admin' | 'client' | 'anonymous';

export class KvRequest {
  readonly method: string;
  /** The raw path, undecoded. */
  readonly path: string;
  /** Raw query values by name; the first occurrence wins, as with Go's url.Values.Get. */
  readonly query: ReadonlyMap<string, string>;
  /** The route that will answer (null when none matches the path and method). */
  route: RouteInfo | null = null;
  /** The route's raw path parameters, e.g. `key` of `/kv/*key`. */
  params: Readonly<Record<string, string>> = NO_PARAMS;
  /** Set by the authentication policy before any route runs. */
  role: CallerRole = 'anonymous';
  /**
   * What an audited route adds to its audit line (the server, the request and what it changed);
   * a route replaces it rather than adding to it, so that no request allocates one it never uses.
   */
  audit: Readonly<Record<string, unknown>> = NO_AUDIT;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    /** The largest body accepted (413 beyond). */
    readonly maxBodyBytes: number,
  ) {
    this.method = req.method ?? 'GET';
    const target = this.target;
    const mark = target.indexOf('?');
    this.path = mark < 0 ? target : target.slice(0, mark);
    this.query = parseQuery(mark < 0 ? '' : target.slice(mark + 1));
  }

  /** The request target as the client sent it (path and query), which a redirect repeats. */
  get target(): string {
    return this.req.url ?? '/';
  }

  /** A path parameter, percent-decoded as UTF-8; `what` names it in the 400. */
  param(name: string, what: string): string {
    const raw = this.params[name] ?? '';
    // Without an escape there is nothing to decode (and nothing to refuse).
    if (!raw.includes('%')) return raw;
    try {
      return decodeURIComponent(raw);
    } catch {
      throw new HttpError(400, `${what} is not valid percent-encoded UTF-8`);
    }
  }

  /** A query flag: present, and not `false` or `0`. */
  flag(name: string): boolean {
    const value = this.query.get(name);
    return value !== undefined && value !== 'false' && value !== '0';
  }

  /** A query value as raw bytes (escapes are bytes, '+' is a space); undefined when absent. */
  queryBytes(name: string): Buffer | undefined {
    const raw = this.query.get(name);
    return raw === undefined ? undefined : percentDecodeBytes(raw);
  }

  /** A query value as UTF-8 text (escapes are bytes, '+' is a space); undefined when absent. */
  queryText(name: string): string | undefined {
    const bytes = this.queryBytes(name);
    if (bytes === undefined) return undefined;
    try {
      return UTF8.decode(bytes);
    } catch {
      throw new HttpError(400, `?${name} is not valid UTF-8`);
    }
  }

  /**
   * A query value that must be an integer in [min, max]; `fallback` when absent. Digits only, so
   * that `1e3`, `0x10`, ` 7` or `-0` are refused rather than guessed at.
   */
  queryInt(name: string, min: number, max: number, fallback?: number): number | undefined {
    const raw = this.query.get(name);
    if (raw === undefined) return fallback;
    return parseBoundedInt(raw, `?${name}`, min, max);
  }

  /** The peer's address as `host:port`, for the audit log. */
  get remote(): string {
    const { remoteAddress, remotePort } = this.req.socket;
    return remoteAddress === undefined ? 'unknown' : `${remoteAddress}:${remotePort}`;
  }

  /** The whole body, up to the limit (413 as soon as it is crossed). */
  body(): Promise<Buffer> {
    return readBody(this.req, this.maxBodyBytes);
  }

  /** The body as a JSON object (400 otherwise). */
  async jsonBody(): Promise<Record<string, unknown>> {
    return parseJsonObject(await this.body());
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});
const NO_AUDIT: Readonly<Record<string, unknown>> = Object.freeze({});

/** A decimal integer in [min, max] from a query value or a header, or a 400 naming `what`. */
export function parseBoundedInt(text: string, what: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^[0-9]{1,16}$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new HttpError(400, `${what} must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** The query of every request without one (most of them): nothing to parse or allocate. */
const NO_QUERY: ReadonlyMap<string, string> = new Map();

function parseQuery(text: string): ReadonlyMap<string, string> {
  if (text === '') return NO_QUERY;
  const query = new Map<string, string>();
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    if (!query.has(name)) query.set(name, eq < 0 ? '' : pair.slice(eq + 1));
  }
  return query;
}

/** Percent-decoding to raw bytes (a value may be any bytes, not only UTF-8), '+' meaning space. */
function percentDecodeBytes(raw: string): Buffer {
  const text = raw.replace(/\+/g, ' ');
  if (/%(?![0-9A-Fa-f]{2})/.test(text)) throw new HttpError(400, 'malformed percent-encoding in query');
  // Literal characters are UTF-8 encoded; each escape is one raw byte.
  const parts = text.split(/(%[0-9A-Fa-f]{2})/);
  return Buffer.concat(
    parts.map((part) =>
      part.startsWith('%') ? Buffer.from([parseInt(part.slice(1), 16)]) : Buffer.from(part, 'utf8'),
    ),
  );
}
