/**
 * `KvClient`: the typed client of the KV service (docs/kv-contract.md) — keys with revisions and
 * conditions, ranges, transactions, and the handles for watches, leases, locks and elections.
 */
import type { StatusBody } from '../kv/contract.js';
import { systemClientClock, systemJitter, type ClientClock } from './clock.js';
import { array, base64, bool, etagRevision, integer, jsonObject, text } from './decode.js';
import { Election } from './election.js';
import { CLIENT_DEFAULTS, expectOk, jsonCall, type ClientSettings } from './host.js';
import { KvHttpError } from './errors.js';
import { Transport, type ClientTlsOptions, type HttpAnswer } from './http.js';
import { Lease, grantLease } from './lease.js';
import { acquireLock, type Lock, type LockOptions } from './lock.js';
import { bytes, keyPath, queryValue, type Bytes } from './paths.js';
import { Requester, type CallOptions, type CallSpec } from './requester.js';
import type { DeleteOptions, GetOptions, KeyValue, PutOptions, RangeOptions, RangePage } from './types.js';
import { watch, type WatchEvent, type WatchOptions } from './watch.js';

export type { Bytes };
export type { DeleteOptions, GetOptions, KeyValue, PutOptions, RangeOptions, RangePage } from './types.js';

/** How to reach the service and how patient to be. Every field but `endpoints` has a default. */
export interface KvClientOptions {
  /** Members' HTTP API base URLs (`http://host:port` or `https://host:port`); at least one. */
  endpoints: readonly string[];
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** CA, client certificate and key for `https://` members. */
  tls?: ClientTlsOptions;
  /** Milliseconds for one call, retries included (default 10,000). */
  timeout?: number;
  /** Redirects followed before a call backs off and starts over (default 5). */
  maxRedirects?: number;
  /** The first retry waits about this many ms (default 50); each next one twice as long... */
  backoffInitialMs?: number;
  /** ...up to this (default 1,000). */
  backoffMaxMs?: number;
  /** Largest answer read, in bytes (default 64 MiB). */
  maxResponseBytes?: number;
  /** Largest watch event read, in bytes (default 16 MiB). */
  maxEventBytes?: number;
  /** A watch stream silent this long (ms) is reconnected (default 45,000: three server keepalives). */
  watchIdleMs?: number;
  /** Connections per member in the pool (default 64). */
  maxSockets?: number;
  /** Time and timers (default: the system's); tests pass a manual clock. */
  clock?: ClientClock;
  /** Backoff jitter in [0, 1) (default Math.random). */
  jitter?: () => number;
  /** @internal Test only: retry writes whose outcome is unknown (deliberately wrong). */
  unsafeRetryUnknownOutcomes?: boolean;
}

/** One condition of a transaction: give one of `revision`, `value` or `exists`. */
export interface TxnCompare {
  /** The key compared. */
  key: string;
  /** The key's revision compared with `cmp` (0: absent). */
  revision?: number;
  /** The key's value equals this. */
  value?: Bytes;
  /** The key exists (true) or not (false). */
  exists?: boolean;
  /** How `revision` compares (default `=`). */
  cmp?: '=' | '!=' | '<' | '>';
}

/** One operation of a transaction branch. */
export type TxnOp =
  | {
      /** Sets `key` to `value`. */
      op: 'put';
      /** The key set. */
      key: string;
      /** Its new value. */
      value: Bytes;
      /** A lease ID to attach the key to. */
      lease?: string;
    }
  | {
      /** Deletes `key`. */
      op: 'delete';
      /** The key deleted. */
      key: string;
    };

/** `POST /txn`: if every compare holds the success operations apply, else the failure ones. */
export interface TxnRequest {
  /** The conditions (at most 128). */
  compare?: TxnCompare[];
  /** Applied when every condition holds (at most 128). */
  success?: TxnOp[];
  /** Applied otherwise (at most 128). */
  failure?: TxnOp[];
}

/** What a transaction did. */
export interface TxnResult {
  /** True when the compares held and the success branch applied. */
  succeeded: boolean;
  /** The revision of the transaction (every key it changed has it). */
  revision: number;
}

/** The client; one per application, shared by everything that talks to the service. */
export class KvClient {
  /** @internal */
  readonly requester: Requester;
  /** @internal */
  readonly transport: Transport;
  /** @internal */
  readonly settings: ClientSettings;
  private closed = false;

  constructor(options: KvClientOptions) {
    const endpoints = checkEndpoints(options.endpoints);
    const settings: ClientSettings = { ...CLIENT_DEFAULTS, clock: options.clock ?? systemClientClock };
    for (const name of Object.keys(CLIENT_DEFAULTS) as (keyof typeof CLIENT_DEFAULTS)[]) {
      const value = options[name];
      if (value === undefined) continue;
      if (
        typeof value !== 'number' ||
        !Number.isSafeInteger(value) ||
        value < (name === 'maxRedirects' ? 0 : 1)
      )
        throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
      settings[name] = value;
    }
    if (options.token !== undefined && (options.token === '' || /[\r\n]/.test(options.token)))
      throw new RangeError('token must be a non-empty string without line breaks');
    this.settings = settings;
    this.transport = new Transport({
      token: options.token,
      tls: options.tls,
      maxResponseBytes: settings.maxResponseBytes,
      idleConnectionMs: 4000,
      maxSockets: settings.maxSockets,
    });
    this.requester = new Requester({
      endpoints,
      transport: this.transport,
      clock: settings.clock,
      jitter: options.jitter ?? systemJitter,
      timeout: settings.timeout,
      maxRedirects: settings.maxRedirects,
      backoffInitialMs: settings.backoffInitialMs,
      backoffMaxMs: settings.backoffMaxMs,
      retryUnknownOutcomes: options.unsafeRetryUnknownOutcomes === true,
    });
  }

  /** The value and revision of `key`, or null when it is absent. Linearizable unless `stale`. */
  async get(key: string, options: GetOptions = {}): Promise<KeyValue | null> {
    const answer = await this.call({
      ...options,
      method: 'GET',
      path: keyPath(key) + (options.stale ? '?stale' : ''),
      idempotent: true,
      anyMember: options.stale,
    });
    if (answer.status === 404) return null;
    expectOk(answer, `GET ${key}`);
    return {
      key,
      value: answer.body,
      revision: etagRevision(answer.headers.etag as string | undefined, `GET ${key}`),
    };
  }

  /** Sets `key`; resolves with its new revision once committed. Conditions fail with PreconditionFailedError. */
  async put(key: string, value: Bytes, options: PutOptions = {}): Promise<number> {
    const query: string[] = [];
    const headers: Record<string, string> = {};
    if (options.lease !== undefined)
      query.push(`lease=${typeof options.lease === 'string' ? options.lease : options.lease.id}`);
    if (options.prev !== undefined && options.prev !== null)
      query.push(`prev=${queryValue(bytes(options.prev))}`);
    else if (options.prev === null) query.push('prev=');
    if (options.ifRevision !== undefined) headers['If-Match'] = `"${checkRevision(options.ifRevision)}"`;
    if (options.ifAbsent) headers['If-None-Match'] = '*';
    const answer = await this.call({
      ...options,
      method: 'PUT',
      path: keyPath(key) + (query.length > 0 ? `?${query.join('&')}` : ''),
      body: bytes(value),
      contentType: 'application/octet-stream',
      headers,
      idempotent: false,
    });
    return writeRevision(answer, `PUT ${key}`);
  }

  /** Deletes `key` (also when absent); resolves with the revision of the delete. */
  async delete(key: string, options: DeleteOptions = {}): Promise<number> {
    const headers: Record<string, string> = {};
    if (options.ifRevision !== undefined) headers['If-Match'] = `"${checkRevision(options.ifRevision)}"`;
    const query = options.prev === undefined ? '' : `?prev=${queryValue(bytes(options.prev))}`;
    const answer = await this.call({
      ...options,
      method: 'DELETE',
      path: keyPath(key) + query,
      headers,
      idempotent: false,
    });
    return writeRevision(answer, `DELETE ${key}`);
  }

  /** One page of the keys under `prefix`, sorted. */
  async range(prefix: string, options: RangeOptions = {}): Promise<RangePage> {
    const query = new URLSearchParams({ prefix });
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    if (options.after !== undefined) query.set('after', options.after);
    const path = `/kv?${query.toString()}${options.stale ? '&stale' : ''}`;
    const answer = await this.call({
      ...options,
      method: 'GET',
      path,
      idempotent: true,
      anyMember: options.stale,
    });
    expectOk(answer, 'range');
    const body = jsonObject(answer.body, 'range');
    return {
      revision: integer(body, 'revision', 'range'),
      more: bool(body, 'more', 'range'),
      items: array(body, 'items', 'range').map((item) => ({
        key: text(item, 'key', 'range item'),
        value: base64(item.value, 'range item'),
        revision: integer(item, 'revision', 'range item'),
      })),
    };
  }

  /** Compares, then the success or the failure operations, atomically at one revision. */
  async txn(request: TxnRequest, options: CallOptions = {}): Promise<TxnResult> {
    const encodeOp = (op: TxnOp) =>
      op.op === 'put'
        ? {
            op: 'put',
            key: op.key,
            value: bytes(op.value).toString('base64'),
            ...(op.lease !== undefined && { lease: op.lease }),
          }
        : { op: 'delete', key: op.key };
    const body = {
      compare: (request.compare ?? []).map((c) => ({
        ...c,
        ...(c.value !== undefined && { value: bytes(c.value).toString('base64') }),
      })),
      success: (request.success ?? []).map(encodeOp),
      failure: (request.failure ?? []).map(encodeOp),
    };
    const answer = await this.call({ ...options, ...jsonCall('POST', '/txn', body), idempotent: false });
    expectOk(answer, 'txn');
    const result = jsonObject(answer.body, 'txn');
    return { succeeded: bool(result, 'succeeded', 'txn'), revision: integer(result, 'revision', 'txn') };
  }

  /** `GET /status` of the member at `endpoint` (default: the first endpoint). */
  async status(endpoint?: string, options: CallOptions = {}): Promise<StatusBody> {
    const base = endpoint === undefined ? this.requester.options.endpoints[0] : checkEndpoints([endpoint])[0];
    const answer = await this.call({
      ...options,
      method: 'GET',
      path: '/status',
      idempotent: true,
      member: base,
    });
    expectOk(answer, 'status');
    return jsonObject(answer.body, 'status') as unknown as StatusBody;
  }

  /** The leader's HTTP base URL as the members report it (`/status`), or null when none is known. */
  async leader(options: CallOptions = {}): Promise<string | null> {
    const url = await this.requester.discoverLeader(options);
    return url === null ? null : url.origin;
  }

  /** The changes under `prefix` after revision `since`, resuming across reconnects and member failures. */
  watch(prefix: string, options: WatchOptions = {}): AsyncIterableIterator<WatchEvent> {
    return watch(this, prefix, options);
  }

  /** A new lease of `ttl` seconds, kept alive until it is closed or revoked. */
  lease(ttl: number, options: CallOptions = {}): Promise<Lease> {
    return grantLease(this, ttl, options);
  }

  /** Acquires lock `name` (waiting up to `wait` seconds); holds it until released or lost. */
  lock(name: string, options: LockOptions = {}): Promise<Lock> {
    return acquireLock(this, name, options);
  }

  /** The election `name`: campaign, observe the leader, resign. */
  election(name: string): Election {
    return new Election(this, name);
  }

  /** Closes pooled connections. Open watches, leases and locks should be closed first. */
  close(): void {
    this.closed = true;
    this.transport.close();
  }

  /** @internal One call through the retry rules. */
  call(spec: CallSpec): Promise<HttpAnswer> {
    if (this.closed) return Promise.reject(new KvHttpError(0, {}, 'the client is closed'));
    return this.requester.call(spec);
  }
}

function writeRevision(answer: HttpAnswer, what: string): number {
  expectOk(answer, what);
  return integer(jsonObject(answer.body, what), 'revision', what);
}

function checkRevision(revision: number): number {
  if (!Number.isSafeInteger(revision) || revision < 0)
    throw new RangeError(`a revision is a non-negative integer, got ${revision}`);
  return revision;
}

function checkEndpoints(endpoints: readonly string[]): URL[] {
  if (!Array.isArray(endpoints) || endpoints.length === 0)
    throw new RangeError('endpoints must list at least one URL');
  return endpoints.map((endpoint) => {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new RangeError(`endpoint ${JSON.stringify(endpoint)} is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new RangeError(`endpoint ${endpoint} is not http:// or https://`);
    return new URL(url.origin);
  });
}
