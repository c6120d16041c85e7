/**
 * What the lease, lock and watch handles need of a client (KvClient is one), and the answer
 * helpers they share with it: apart from client.ts so that none of them imports the client (no
 * import circle).
 */
import type { ErrorBody } from '../kv/contract.js';
import type { ClientClock } from './clock.js';
import { jsonObject } from './decode.js';
import { KvHttpError, PreconditionFailedError } from './errors.js';
import type { HttpAnswer, Transport } from './http.js';
import { errorMessage, type CallSpec, type Requester } from './requester.js';

/** @internal The defaults of KvClientOptions' numbers. */
export const CLIENT_DEFAULTS = {
  timeout: 10_000,
  maxRedirects: 5,
  backoffInitialMs: 50,
  backoffMaxMs: 1000,
  maxResponseBytes: 64 * 1024 * 1024,
  maxEventBytes: 16 * 1024 * 1024,
  watchIdleMs: 45_000,
  maxSockets: 64,
};

/** @internal A client's settings: the numbers of KvClientOptions with their defaults, and its clock. */
export type ClientSettings = { -readonly [K in keyof typeof CLIENT_DEFAULTS]: number } & {
  clock: ClientClock;
};

/** @internal What the handles use of their client. */
export interface ClientHost {
  /** The retry and redirect rules. */
  readonly requester: Requester;
  /** The HTTP exchanges. */
  readonly transport: Transport;
  /** Timeouts, limits and the clock. */
  readonly settings: ClientSettings;
  /** One call under the retry rules. */
  call(spec: CallSpec): Promise<HttpAnswer>;
}

/** @internal A JSON request's method, path, body and type. */
export function jsonCall(
  method: string,
  path: string,
  body: unknown,
): Pick<CallSpec, 'method' | 'path' | 'body' | 'contentType'> {
  return { method, path, body: Buffer.from(JSON.stringify(body)), contentType: 'application/json' };
}

/** @internal Throws the typed error of a refusal unless the answer is 200. */
export function expectOk(answer: HttpAnswer, what: string): void {
  if (answer.status === 200) return;
  let body: Partial<ErrorBody> = {};
  try {
    body = jsonObject(answer.body, what) as Partial<ErrorBody>;
  } catch {
    // Not the contract's error object: keep the text in the message.
  }
  const message = `${what}: ${answer.status} ${errorMessage(answer)}`;
  if (answer.status === 412) throw new PreconditionFailedError(412, body, message);
  throw new KvHttpError(answer.status, body, message);
}
