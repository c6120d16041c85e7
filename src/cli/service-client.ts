/**
 * The KV service's client side as the commands need it: one request helper that follows the
 * service's 307 redirects and rides out short leaderless spells (503), used by the `raftkit kv`
 * client commands, the demo's dashboard and `joinCluster` (`kv serve --join`).
 */
import { sleep, systemClock, type Clock } from '../index.js';
import type { ErrorBody, JoinBody } from '../kv/contract.js';

export interface KvRequestOptions {
  body?: Uint8Array | string;
  /** Give up retrying 503s after this many ms (default 5000). */
  timeout?: number;
  /** Redirects followed per attempt (default 5): a leader change mid-request can take two hops. */
  maxRedirects?: number;
  clock?: Clock;
}

export interface KvResponse {
  status: number;
  body: Buffer;
  contentType: string;
}

const RETRY_DELAY_MS = 200;

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
    const response = await followRedirects(base + path, method, options.body, options.maxRedirects ?? 5);
    if (response.status !== 503 || clock.now() + RETRY_DELAY_MS > deadline) return response;
    await sleep(clock, RETRY_DELAY_MS);
  }
}

async function followRedirects(
  url: string,
  method: string,
  body: KvRequestOptions['body'],
  maxRedirects: number,
): Promise<KvResponse> {
  for (let hop = 0; ; hop++) {
    const response = await fetch(url, { method, body, redirect: 'manual' });
    const location = response.headers.get('location');
    if ((response.status === 307 || response.status === 308) && location !== null && hop < maxRedirects) {
      await response.arrayBuffer();
      url = new URL(location, url).toString();
      continue;
    }
    return {
      status: response.status,
      body: Buffer.from(await response.arrayBuffer()),
      contentType: response.headers.get('content-type') ?? '',
    };
  }
}

/** The path of a key: every byte escaped that could change its meaning, '/' included. */
export function keyPath(key: string): string {
  return `/kv/${encodeURIComponent(key)}`;
}

/** Percent-encodes raw bytes for a query value (the server decodes escapes to bytes). */
export function queryValue(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9._~-]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

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
  options: { clock?: Clock; timeout?: number } = {},
): Promise<void> {
  const clock = options.clock ?? systemClock;
  const deadline = clock.now() + (options.timeout ?? 30_000);
  for (;;) {
    let failure: string;
    try {
      const response = await kvRequest(joinUrl, 'POST', '/cluster/join', {
        body: JSON.stringify(request),
        clock,
        timeout: Math.max(0, deadline - clock.now()),
      });
      if (response.status === 200) return;
      failure = `join refused by ${joinUrl}: ${response.status} ${errorText(response)}`;
      if (response.status < 500) throw new Error(failure);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      failure = `cannot reach ${joinUrl}: ${(error.cause as Error | undefined)?.message ?? error.message}`;
    }
    if (clock.now() + RETRY_DELAY_MS > deadline) throw new Error(failure);
    await sleep(clock, RETRY_DELAY_MS);
  }
}
