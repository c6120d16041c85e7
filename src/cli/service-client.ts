/**
 * The KV service's client side as the commands need it: one request helper that sends the token
 * and TLS credentials, follows the service's 307 redirects and rides out short leaderless spells
 * (503), used by the `raftkit kv` client commands, the demo's dashboard and `joinCluster`
 * (`kv serve --join`). Each exchange goes through raftkit/client's Transport (src/client/http.ts),
 * the project's one HTTP client.
 */
import { ProtocolError } from '../client/errors.js';
import { ExchangeFailure, Transport, type HttpAnswer } from '../client/http.js';
import { sleep, systemClock, type Clock } from '../index.js';
import type { ErrorBody, JoinBody } from '../kv/contract.js';

/** What a client presents: a bearer token, and for https:// a CA to trust and a client certificate. */
export interface ClientCredentials {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string | null;
  /** PEM trust anchors for https:// servers, instead of the system's (a private cluster CA). */
  ca?: string | Buffer | null;
  /** PEM client certificate and key, for servers started with --http-tls-ca. */
  cert?: string | Buffer | null;
  key?: string | Buffer | null;
}

export interface KvRequestOptions {
  body?: Uint8Array | string;
  /** Content-Type of the body (the cluster routes need application/json). */
  contentType?: string;
  credentials?: ClientCredentials;
  /** Give up retrying 503s after this many ms (default 5000). */
  timeout?: number;
  /** Give up on a server that sends nothing for this many ms (default 30 s). */
  idleTimeout?: number;
  /** Redirects followed per attempt (default 5): a leader change mid-request can take two hops. */
  maxRedirects?: number;
  clock?: Clock;
  /** Abandons the request (it rejects with the signal's reason). */
  signal?: AbortSignal;
}

export interface KvResponse {
  status: number;
  body: Buffer;
  contentType: string;
}

/** The server could not be reached, or the connection failed before a whole answer arrived. */
export class ServiceUnreachable extends Error {
  override name = 'ServiceUnreachable';
}

const RETRY_DELAY_MS = 200;
const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** Largest answer read (a value is at most the server's body limit, 16 MiB at most). */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** Sends one request to the service, following redirects and retrying while no leader is known. */
export async function kvRequest(
  base: string,
  method: string,
  path: string,
  options: KvRequestOptions = {},
): Promise<KvResponse> {
  const clock = options.clock ?? systemClock;
  const deadline = clock.now() + (options.timeout ?? 5000);
  for (;;) {
    const response = await followRedirects(new URL(base + path), method, options);
    if (response.status !== 503 || clock.now() + RETRY_DELAY_MS > deadline) return response;
    await sleep(clock, RETRY_DELAY_MS);
  }
}

async function followRedirects(url: URL, method: string, options: KvRequestOptions): Promise<KvResponse> {
  const maxRedirects = options.maxRedirects ?? 5;
  for (let hop = 0; ; hop++) {
    const { status, headers, body } = await send(url, method, options);
    const location = headers.location;
    if ((status === 307 || status === 308) && location !== undefined && hop < maxRedirects) {
      const next = new URL(location, url);
      if (url.protocol === 'https:' && next.protocol !== 'https:') {
        throw new ServiceUnreachable(`refusing to follow a redirect from ${url.origin} to ${next.origin}`);
      }
      url = next;
      continue;
    }
    return { status, body, contentType: String(headers['content-type'] ?? '') };
  }
}

/** One exchange through raftkit/client's transport (the project's one HTTP client), on a connection of its own. */
async function send(url: URL, method: string, options: KvRequestOptions): Promise<HttpAnswer> {
  const credentials = options.credentials ?? {};
  const transport = new Transport({
    token: credentials.token ?? undefined,
    tls: {
      ca: credentials.ca ?? undefined,
      cert: credentials.cert ?? undefined,
      key: credentials.key ?? undefined,
    },
    maxResponseBytes: MAX_RESPONSE_BYTES,
    idleConnectionMs: 1000,
    maxSockets: 1,
  });
  const headers: Record<string, string> = {};
  if (options.body !== undefined && options.contentType !== undefined)
    headers['Content-Type'] = options.contentType;
  try {
    const body = options.body === undefined ? undefined : Buffer.from(options.body);
    const idleMs = options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT_MS;
    const { signal } = options;
    const res = await transport.open(url, method, { headers, body, idleMs, signal }, false);
    return await transport.readAnswer(res, signal);
  } catch (error) {
    if (error instanceof ExchangeFailure || error instanceof ProtocolError)
      throw new ServiceUnreachable(error.message);
    throw error;
  } finally {
    transport.close();
  }
}

export { keyPath, queryValue } from '../client/paths.js';

/** The server's reason for a refusal: the JSON error, else the raw body. */
export function errorText(response: KvResponse): string {
  if (response.contentType.startsWith('application/json')) {
    try {
      const parsed = JSON.parse(response.body.toString('utf8')) as Partial<ErrorBody>;
      if (typeof parsed.error === 'string') return parsed.error;
    } catch {
      // Fall through to the raw body.
    }
  }
  return response.body.toString('utf8') || `HTTP ${response.status}`;
}

/** Asks a running member to add this server; retries while the cluster has no leader or the member is down. */
export async function joinCluster(
  joinUrl: string,
  request: JoinBody,
  options: { clock?: Clock; timeout?: number; credentials?: ClientCredentials; signal?: AbortSignal } = {},
): Promise<void> {
  const clock = options.clock ?? systemClock;
  const deadline = clock.now() + (options.timeout ?? 30_000);
  for (;;) {
    options.signal?.throwIfAborted();
    let failure: string;
    try {
      const remaining = Math.max(0, deadline - clock.now());
      const response = await kvRequest(joinUrl, 'POST', '/cluster/join', {
        body: JSON.stringify(request),
        contentType: 'application/json',
        credentials: options.credentials,
        clock,
        timeout: remaining,
        idleTimeout: Math.max(DEFAULT_IDLE_TIMEOUT_MS, remaining),
        signal: options.signal,
      });
      if (response.status === 200) return;
      failure = `join refused by ${joinUrl}: ${response.status} ${errorText(response)}`;
      if (response.status < 500) throw new Error(failure);
    } catch (error) {
      if (!(error instanceof ServiceUnreachable)) throw error;
      failure = `cannot reach ${joinUrl}: ${error.message}`;
    }
    if (clock.now() + RETRY_DELAY_MS > deadline) throw new Error(failure);
    await sleep(clock, RETRY_DELAY_MS);
  }
}
