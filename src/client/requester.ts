/**
 * The retrying request loop every call of the client goes through: which member to ask (the
 * leader once known, else the endpoints in turn), following 307 redirects to the leader, and the
 * retry rules. A call is sent again only when that cannot apply it twice:
 *
 * - anything refused before it was applied — `503` (no leader, transfer in progress), a
 *   connection that was never established, a redirect — is retried with backoff and jitter;
 * - a call marked `idempotent` (reads, keepalives, releases by token) is also retried after a
 *   `5xx`, a `504` or a connection lost mid-request;
 * - a write whose outcome is unknown (`504`, the connection lost after sending) is never retried:
 *   it fails with OutcomeUnknownError.
 *
 * Every call has a deadline (its `timeout`, else the client's) and the caller's AbortSignal.
 */
import type { StatusBody } from '../kv/contract.js';
import { delay, type ClientClock } from './clock.js';
import { jsonObject, text } from './decode.js';
import { KvTimeoutError, OutcomeUnknownError, ProtocolError, UnavailableError } from './errors.js';
import { ExchangeFailure, type HttpAnswer, type Transport } from './http.js';

/** What every call accepts. */
export interface CallOptions {
  /** Cancels the call (and its retries); the call rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Milliseconds for the whole call, retries included (default: the client's `timeout`). */
  timeout?: number;
}

export interface CallSpec extends CallOptions {
  method: string;
  /** Path and query, e.g. `/kv/a?stale`. */
  path: string;
  body?: Buffer;
  contentType?: string;
  headers?: Record<string, string>;
  /** Safe to send twice: retried after a 5xx or a lost connection too. */
  idempotent: boolean;
  /** Served by any member (a stale read, a watch): no need to find the leader. */
  anyMember?: boolean;
  /** Ask exactly this member (no rotation to other endpoints); implies `anyMember`. */
  member?: URL;
}

export interface RequesterOptions {
  endpoints: URL[];
  transport: Transport;
  clock: ClientClock;
  jitter: () => number;
  timeout: number;
  maxRedirects: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** Test only: breaks the rule above on purpose (retries writes of unknown outcome), so tests can show they catch it. */
  retryUnknownOutcomes?: boolean;
}

export class Requester {
  /** The leader's HTTP origin, once a redirect or `/status` named it. */
  private leader: URL | null = null;
  /** The endpoint asked next when no leader is known. */
  private next = 0;

  constructor(readonly options: RequesterOptions) {}

  /** The base URL of the member a call goes to first. */
  target(anyMember = false): URL {
    if (this.leader !== null && !anyMember) return this.leader;
    return this.options.endpoints[this.next % this.options.endpoints.length];
  }

  /** Moves on from a member that failed: forget it as leader, try the next endpoint. */
  memberFailed(base: URL): void {
    if (this.leader !== null && this.leader.origin === base.origin) this.leader = null;
    else this.next++;
  }

  /** Sends a call, following redirects and retrying as the rules above allow. */
  async call(spec: CallSpec): Promise<HttpAnswer> {
    return this.withDeadline(spec, (signal, notes) => this.attempts(spec, signal, notes));
  }

  /**
   * Runs `work` under the call's deadline and the caller's signal. `notes.last` records the last
   * problem so that a timeout can say why the call did not get through.
   */
  async withDeadline<T>(
    options: CallOptions,
    work: (signal: AbortSignal, notes: { last: string; sentWrite: boolean }) => Promise<T>,
  ): Promise<T> {
    const timeout = options.timeout ?? this.options.timeout;
    if (!(timeout > 0)) throw new RangeError(`timeout must be a positive number of ms, got ${timeout}`);
    const controller = new AbortController();
    const notes = { last: '', sentWrite: false };
    const expired = new KvTimeoutError(`no answer within ${timeout} ms`);
    const timer = this.options.clock.setTimer(timeout, () => controller.abort(expired));
    const onAbort = () => controller.abort(options.signal!.reason);
    if (options.signal?.aborted) controller.abort(options.signal.reason);
    else options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await work(controller.signal, notes);
    } catch (error) {
      if (error !== expired) throw error;
      if (notes.sentWrite)
        throw new OutcomeUnknownError(
          `no answer within ${timeout} ms after the write was sent: it may have been applied`,
        );
      throw notes.last === ''
        ? expired
        : new UnavailableError(`no member served the call within ${timeout} ms (last: ${notes.last})`);
    } finally {
      timer.cancel();
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** The backoff before retry `attempt` (0-based): exponential, capped, with equal jitter. */
  backoff(attempt: number, signal: AbortSignal): Promise<void> {
    const { backoffInitialMs, backoffMaxMs, jitter } = this.options;
    const cap = Math.min(backoffMaxMs, backoffInitialMs * 2 ** Math.min(attempt, 20));
    return delay(this.options.clock, cap / 2 + (jitter() * cap) / 2, signal);
  }

  /**
   * The leader as the members see it: asks each endpoint's `/status` at once and takes the leader
   * named in the answer of the highest term. Null when none knows one.
   */
  async discoverLeader(options: CallOptions = {}): Promise<URL | null> {
    return this.withDeadline(options, async (signal) => {
      const answers = await Promise.allSettled(
        this.options.endpoints.map(async (base) => {
          const answer = await this.options.transport.exchange(new URL('/status', base), 'GET', { signal });
          if (answer.status !== 200) return null;
          return jsonObject(answer.body, 'GET /status') as unknown as StatusBody;
        }),
      );
      let best: { term: number; http: string } | null = null;
      for (const answer of answers) {
        if (answer.status !== 'fulfilled' || answer.value === null) continue;
        const status = answer.value;
        const leader = status.leader as unknown as Record<string, unknown> | null;
        if (leader === null || typeof leader !== 'object' || typeof status.term !== 'number') continue;
        const http = text(leader, 'http', 'GET /status leader');
        if (http !== '' && (best === null || status.term > best.term)) best = { term: status.term, http };
      }
      if (best === null) return null;
      this.leader = this.leaderUrl(best.http, this.options.endpoints[0]);
      return this.leader;
    });
  }

  private async attempts(
    spec: CallSpec,
    signal: AbortSignal,
    notes: { last: string; sentWrite: boolean },
  ): Promise<HttpAnswer> {
    const headers = { ...spec.headers };
    if (spec.contentType !== undefined) headers['Content-Type'] = spec.contentType;
    let attempt = 0;
    const pick = () => spec.member ?? this.target(spec.anyMember);
    const anyMember = spec.anyMember === true || spec.member !== undefined;
    let base = pick();
    let url = new URL(spec.path, base);
    let redirects = 0;
    const retry = async (problem: string) => {
      notes.last = problem;
      await this.backoff(attempt++, signal);
      base = pick();
      url = new URL(spec.path, base);
      redirects = 0;
    };
    for (;;) {
      let answer: HttpAnswer;
      const connected = { value: false };
      try {
        answer = await this.options.transport.exchange(url, spec.method, {
          headers,
          body: spec.body,
          signal,
          connected,
        });
      } catch (error) {
        if (signal.aborted) {
          // Stopped mid-request: a write may have reached the server once the connection was up.
          notes.sentWrite = !spec.idempotent && connected.value;
          throw signal.reason;
        }
        if (!(error instanceof ExchangeFailure)) throw error;
        if (error.sent && !spec.idempotent && !this.options.retryUnknownOutcomes)
          throw new OutcomeUnknownError(
            `${spec.method} ${url.origin}${spec.path}: ${error.message} after the request was sent: it may have been applied`,
          );
        if (spec.member === undefined) this.memberFailed(base);
        await retry(`${url.origin}: ${error.message}`);
        continue;
      }
      const { status } = answer;
      if ((status === 307 || status === 308) && !anyMember) {
        const next = this.redirectTarget(answer, url);
        if (redirects++ < this.options.maxRedirects) {
          this.leader = new URL(next.origin);
          base = this.leader;
          url = next;
          continue;
        }
        this.leader = null;
        await retry(`more than ${this.options.maxRedirects} redirects`);
        continue;
      }
      if (status === 503 || (spec.idempotent && status >= 500)) {
        if (status === 503) this.leader = null;
        else if (spec.member === undefined) this.memberFailed(base);
        await retry(`${url.origin}: ${status} ${errorMessage(answer)}`);
        continue;
      }
      if (status === 504 && this.options.retryUnknownOutcomes) {
        await retry(`${url.origin}: 504`);
        continue;
      }
      if (status === 504)
        throw new OutcomeUnknownError(`${spec.method} ${spec.path}: ${errorMessage(answer)}`);
      return answer;
    }
  }

  /** Where a 307 points; an https:// member is never redirected to plain http://. */
  private redirectTarget(answer: HttpAnswer, from: URL): URL {
    const location = answer.headers.location;
    let next: URL;
    try {
      if (location === undefined) throw new Error('no Location');
      next = new URL(location, from);
    } catch {
      throw new ProtocolError(`${from.origin} answered ${answer.status} without a valid Location`);
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:')
      throw new ProtocolError(`${from.origin} redirected to ${next.protocol} (not http or https)`);
    if (from.protocol === 'https:' && next.protocol !== 'https:')
      throw new ProtocolError(`refusing a redirect from ${from.origin} down to ${next.origin}`);
    return next;
  }

  /** `host:port` or a URL as `/status` and the log publish it. */
  private leaderUrl(http: string, like: URL): URL {
    try {
      return new URL(/^https?:\/\//.test(http) ? http : `${like.protocol}//${http}`);
    } catch {
      throw new ProtocolError(`GET /status: leader address ${JSON.stringify(http)} is not a URL`);
    }
  }
}

/** The service's reason for a refusal: the JSON `error`, else the start of the body. */
export function errorMessage(answer: HttpAnswer): string {
  if (String(answer.headers['content-type']).startsWith('application/json')) {
    try {
      const parsed = JSON.parse(answer.body.toString('utf8')) as { error?: unknown };
      if (typeof parsed.error === 'string') return parsed.error;
    } catch {
      // Fall back to the raw body.
    }
  }
  return answer.body.subarray(0, 200).toString('utf8') || `HTTP ${answer.status}`;
}
