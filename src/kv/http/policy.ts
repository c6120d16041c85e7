/**
 * Request-level policy: the checks every request passes, in order, after its route is looked up
 * and before any route runs (a 404 or 405 included). A policy refuses by throwing an HttpError.
 * This is the one place for rules that hold for the whole API: the body limit today; authentication,
 * origin and Host checks belong here too (a policy can see `request.route` to tell routes apart).
 */
import { bodyTooLarge } from './io.js';
import type { KvRequest } from './request.js';

export type RequestPolicy = (request: KvRequest) => void | Promise<void>;

export interface PolicyOptions {
  maxBodyBytes: number;
}

/** The policies of a server, in the order they run. */
export function requestPolicies(options: PolicyOptions): RequestPolicy[] {
  return [declaredBodyLimit(options.maxBodyBytes)];
}

/**
 * Refuses a body declared larger than the limit before a byte of it is read. Streamed (chunked)
 * bodies are bounded where they are read (KvRequest.body).
 */
function declaredBodyLimit(maxBodyBytes: number): RequestPolicy {
  return (request) => {
    const declared = Number(request.req.headers['content-length'] ?? 0);
    if (declared > maxBodyBytes) throw bodyTooLarge(maxBodyBytes);
  };
}
