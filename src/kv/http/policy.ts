/**
 * Request-level policy: the checks every request passes, in order, after its route is looked up
 * and before any route runs (a 404 or 405 included). A policy refuses by throwing an HttpError.
 * This is the one place for rules that hold for the whole API; a policy sees `request.route` to
 * tell routes apart (their `access` and `jsonBody`).
 *
 * The order: the Host rule first (a DNS-rebinding page learns nothing, not even a 401), then the
 * declared body size (refused before a byte is read), the token, the origin of state-changing
 * requests, and the content type of JSON-only routes.
 */
import type { TokenAuthenticator } from './auth.js';
import { bearerToken } from './auth.js';
import { crossOriginProblem, type AllowedHosts } from './browser-rules.js';
import { bodyTooLarge, HttpError } from './io.js';
import type { KvRequest } from './request.js';

/** Synchronous, so that a request reaches its route without a promise hop per policy. */
export type RequestPolicy = (request: KvRequest) => void;

export interface PolicyOptions {
  authenticator: TokenAuthenticator;
  allowedHosts: AllowedHosts;
  scheme: 'http' | 'https';
}

/** The policies of a server, in the order they run. */
export function requestPolicies(options: PolicyOptions): RequestPolicy[] {
  return [
    allowedHost(options.allowedHosts),
    declaredBodyLimit,
    authenticate(options.authenticator),
    sameOriginWrites(options.scheme),
    jsonContentType,
  ];
}

function allowedHost(allowedHosts: AllowedHosts): RequestPolicy {
  return (request) => {
    const problem = allowedHosts.problem(request.req.headers.host);
    if (problem !== null) throw new HttpError(403, problem);
  };
}

/**
 * Refuses a body declared larger than the limit before a byte of it is read. Streamed
 * (chunked) bodies are refused as soon as they cross it, where they are read (KvRequest.body).
 */
function declaredBodyLimit(request: KvRequest): void {
  const declared = Number(request.req.headers['content-length'] ?? 0);
  if (declared > request.maxBodyBytes) throw bodyTooLarge(request.maxBodyBytes);
}

/** The 401 of a request without a valid token (RFC 6750's challenge). */
function unauthorized(message: string, error?: 'invalid_token'): HttpError {
  const challenge =
    error === undefined ? 'Bearer realm="raftkit"' : `Bearer realm="raftkit", error="${error}"`;
  return new HttpError(401, message, { 'WWW-Authenticate': challenge });
}

/**
 * With tokens configured, every route but a public one needs `Authorization: Bearer <token>`,
 * and an admin route needs the admin token (403 for the client token). Sets `request.role`.
 */
function authenticate(authenticator: TokenAuthenticator): RequestPolicy {
  return (request) => {
    const access = request.route?.access ?? 'client';
    if (!authenticator.enabled || access === 'public') return;
    const header = request.req.headers.authorization;
    if (header === undefined) throw unauthorized('this server needs "Authorization: Bearer <token>"');
    const token = bearerToken(header);
    const role = token === null ? null : authenticator.roleOf(token);
    if (role === null) throw unauthorized('the bearer token is not valid', 'invalid_token');
    request.role = role;
    if (access === 'admin' && role !== 'admin') {
      throw new HttpError(403, `${request.path} needs the admin token`);
    }
  };
}

function sameOriginWrites(scheme: 'http' | 'https'): RequestPolicy {
  return (request) => {
    const { headers } = request.req;
    const problem = crossOriginProblem(request.method, headers.origin, scheme, headers.host);
    if (problem !== null) throw new HttpError(403, problem);
  };
}

/** A JSON-only route's POST must say `Content-Type: application/json` (parameters allowed). */
function jsonContentType(request: KvRequest): void {
  if (request.route?.jsonBody !== true) return;
  const type = request.req.headers['content-type']?.split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(415, `${request.path} takes a JSON body: send "Content-Type: application/json"`);
  }
}
