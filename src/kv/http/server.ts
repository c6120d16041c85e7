/**
 * The KV service's HTTP API (the contract in DESIGN.md and docs/kv-contract.md) on plain node:http:
 * every request is matched to a route, passes the request policies (policy.ts), and is answered by
 * its route module; a failure becomes a JSON error with the status the contract names.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { silentLogger, systemClock, type Clock, type Logger } from '../../index.js';
import type { KvCluster } from '../cluster.js';
import type { KvFsm } from '../fsm.js';
import { KvMetrics } from '../metrics.js';
import { clusterRoutes } from './cluster-routes.js';
import { closeServer, HttpError, listen, sendJson } from './io.js';
import { kvRoutes } from './kv-routes.js';
import { requestPolicies, type RequestPolicy } from './policy.js';
import { KvRequest } from './request.js';
import { RouteContext } from './route-context.js';
import { Router } from './router.js';
import { statusRoutes } from './status-routes.js';

export interface KvHttpOptions {
  cluster: KvCluster;
  fsm: KvFsm;
  /** Largest request body accepted, in bytes (default 1 MiB); larger ones answer 413. */
  maxBodyBytes?: number;
  /** How long a write or linearizable read may wait for Raft, in ms (default 5000). */
  timeout?: number;
  /** Serves POST /debug/isolate (the demo's partition switch). Off by default. */
  debugRoutes?: boolean;
  /**
   * TEST ONLY, deliberately broken: answer every read from local state, as `?stale` does, so that
   * `raftkit chaos --break stale-reads` can show its linearizability checker catching it.
   */
  debugStaleReads?: boolean;
  logger?: Logger;
  clock?: Clock;
}

export class KvHttpServer {
  readonly metrics: KvMetrics;
  private readonly context: RouteContext;
  private readonly router = new Router();
  private readonly policies: RequestPolicy[];
  private readonly maxBodyBytes: number;
  private readonly logger: Logger;
  private server: Server | null = null;

  constructor(options: KvHttpOptions) {
    this.maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
    this.logger = options.logger ?? silentLogger;
    this.metrics = new KvMetrics(options.cluster, options.fsm);
    this.context = new RouteContext({
      cluster: options.cluster,
      fsm: options.fsm,
      metrics: this.metrics,
      timeout: options.timeout ?? 5000,
      clock: options.clock ?? systemClock,
      logger: this.logger,
    });
    this.policies = requestPolicies({ maxBodyBytes: this.maxBodyBytes });
    this.router
      .add(kvRoutes(this.context, { debugStaleReads: options.debugStaleReads ?? false }))
      .add(statusRoutes(this.context))
      .add(clusterRoutes(this.context, { debugRoutes: options.debugRoutes ?? false }));
  }

  /** Starts listening; resolves with the base URL (useful with port 0). */
  async listen(port: number, host = '127.0.0.1'): Promise<string> {
    const server = createServer((req, res) => this.handle(req, res));
    this.server = server;
    const address = await listen(server, port, host);
    const hostText = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${hostText}:${address.port}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.server = null;
    await closeServer(server);
  }

  /** The request listener; usable with any node:http server. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const request = new KvRequest(req, res, this.maxBodyBytes);
    const match = this.router.match(request.method, request.path);
    const label =
      match.kind === 'found' ? match.route.label : match.kind === 'not-found' ? 'unknown' : match.label;
    res.once('finish', () => this.metrics.countRequest(req.method ?? '', label, res.statusCode));
    if (match.kind === 'found') {
      request.route = match.route;
      request.params = match.params;
    }
    const dispatch = async () => {
      for (const policy of this.policies) await policy(request);
      if (match.kind === 'not-found') throw new HttpError(404, `no route for ${request.path}`);
      if (match.kind === 'method-not-allowed') {
        throw new HttpError(405, `method ${request.method} not allowed`, { Allow: match.allow.join(', ') });
      }
      await match.route.handle(request);
    };
    dispatch().catch((error: unknown) => this.fail(request, error));
  }

  private fail(request: KvRequest, error: unknown): void {
    const { req, res } = request;
    if (res.headersSent || res.destroyed) return;
    const answer = this.context.answerFor(request, error);
    if (answer.status >= 500 && answer.status !== 503) {
      this.logger.warn({ method: req.method, url: req.url, error: String(error) }, 'kv: request failed');
    }
    sendJson(res, answer.status, { error: answer.message }, answer.headers);
  }
}
