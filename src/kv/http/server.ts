/**
 * The KV service's HTTP API (the contract in DESIGN.md and docs/kv-contract.md) on plain node:http:
 * every request is matched to a route, passes the request policies (policy.ts), and is answered by
 * its route module; a failure becomes a JSON error with the status the contract names.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Registry } from 'prom-client';
import { AcceptBackoff, silentLogger, systemClock, type Clock, type Logger } from '../../index.js';
import { REMOVED_MESSAGE, type KvCluster } from '../cluster.js';
import { CommandFormats } from '../command-formats.js';
import type { CommandFormat } from '../commands.js';
import type { HttpsCredentials } from '../credentials.js';
import type { KvFsm } from '../fsm.js';
import { LeaseKeeper } from '../lease-keeper.js';
import { KvMetrics, type RouteLabel } from '../metrics.js';
import { TokenAuthenticator, type ApiTokens } from './auth.js';
import { AllowedHosts } from './browser-rules.js';
import { clusterRoutes } from './cluster-routes.js';
import { closeServer, HttpError, listen, sendJson } from './io.js';
import { kvRoutes } from './kv-routes.js';
import { leaseRoutes } from './lease-routes.js';
import { lockRoutes } from './lock-routes.js';
import { Membership, type HostResolver } from './membership.js';
import { requestPolicies, type RequestPolicy } from './policy.js';
import { rangeRoutes } from './range-routes.js';
import { KvRequest } from './request.js';
import { RouteContext } from './route-context.js';
import { Router, type RouteMatch } from './router.js';
import { statusRoutes } from './status-routes.js';
import { txnRoutes } from './txn-routes.js';
import { WatchHub } from './watch-hub.js';
import { watchRoutes } from './watch-routes.js';

/** The defaults of the service's bounds (docs/kv-contract.md). */
export const KV_HTTP_DEFAULTS = {
  timeout: 5000,
  maxWatches: 1024,
  watchBufferBytes: 1024 * 1024,
  watchKeepaliveMs: 15_000,
  maxLeases: 100_000,
  maxRangeBytes: 4 * 1024 * 1024,
  leaseCheckIntervalMs: 250,
} as const;

/** Bounds of the HTTP server itself; every field has a default (DEFAULT_HTTP_LIMITS). */
export interface HttpLimits {
  /** Open connections at most; more are closed as they arrive (default 1024). */
  maxConnections: number;
  /** A request's headers must arrive within this many ms (default 10 s). */
  headersTimeout: number;
  /** A whole request, body included, must arrive within this many ms (default 30 s). */
  requestTimeout: number;
  /** An idle keep-alive connection is closed after this many ms (default 5 s). */
  keepAliveTimeout: number;
  /** Largest request head (request line and headers), in bytes (default 16 KiB); 431 beyond. */
  maxHeaderBytes: number;
}

/** The defaults of HttpLimits. */
export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = {
  maxConnections: 1024,
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  keepAliveTimeout: 5_000,
  maxHeaderBytes: 16 * 1024,
};

/** Default largest request body (a value), in bytes. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export interface KvHttpOptions {
  cluster: KvCluster;
  fsm: KvFsm;
  /** Largest request body accepted, in bytes (default 1 MiB); larger ones answer 413. */
  maxBodyBytes?: number;
  /**
   * The registry `GET /metrics` serves (default: a new one). Pass the one the Raft reports to
   * (`prometheusMetrics(registry)`) and /metrics shows the library's metrics beside the service's.
   */
  metricsRegistry?: Registry;
  /** How long a write or linearizable read may wait for Raft, in ms (default 5000). */
  timeout?: number;
  /** Open watch streams at most (default 1024); more answer 503. */
  maxWatches?: number;
  /** New events a blocked watch stream may have unsent before it is closed with `overflow` (default 1 MiB). */
  watchBufferBytes?: number;
  /** An idle watch stream gets a keepalive comment this often, in ms (default 15 s). */
  watchKeepaliveMs?: number;
  /** Leases (lock leases included) at most (default 100,000); more grants answer 429. */
  maxLeases?: number;
  /** A range page stops once its values reach this many bytes (default 4 MiB). */
  maxRangeBytes?: number;
  /** How often the leader looks for expired leases, in ms (default 250). */
  leaseCheckIntervalMs?: number;
  /**
   * Bearer tokens the API requires (see README, Security). Without any, no route needs a token:
   * `kv serve` allows that only on loopback addresses or with --insecure. `setTokens` replaces them.
   */
  tokens?: ApiTokens;
  /** Serve HTTPS with these; with a CA, only clients with a certificate it signed get through. */
  tls?: HttpsCredentials | null;
  /**
   * Host names (or addresses) requests may name in `Host` besides loopback ones and the address
   * the server listens on: the host of its published URL. Others are refused (DNS rebinding).
   */
  allowedHosts?: readonly string[];
  limits?: Partial<HttpLimits>;
  /** How long a joining server may take to catch up before its join is rolled back, in ms (default 60 s). */
  joinTimeout?: number;
  /** Resolves a joining server's host names (default: the system resolver); tests replace it. */
  resolveHost?: HostResolver;
  /** Serves POST /debug/isolate (the demo's partition switch). Off by default. */
  debugRoutes?: boolean;
  /**
   * TEST ONLY, deliberately broken: answer every read from local state, as `?stale` does, so that
   * `raftkit chaos --break stale-reads` can show its linearizability checker catching it.
   */
  debugStaleReads?: boolean;
  /**
   * TEST ONLY, deliberately broken: answer 200 to a write as soon as it is submitted, before it
   * commits, so that `raftkit chaos --break early-ack` can show the checker catching lost writes.
   */
  debugEarlyAck?: boolean;
  /**
   * `json` (the default): log commands in the contract's JSON, which every implementation reads;
   * `binary`: in binary while every member's record says it reads them (command-formats.ts).
   */
  commandFormat?: CommandFormat;
  logger?: Logger;
  clock?: Clock;
}

export class KvHttpServer {
  readonly metrics: KvMetrics;
  /** The watch streams of this server. */
  readonly watches: WatchHub;
  /** Lease countdowns (they run while this server leads). */
  readonly leases: LeaseKeeper;
  /** Joins and removals, one at a time; also forgets the HTTP address of removed servers. */
  readonly membership: Membership;
  /** The form log commands are written in (see command-formats.ts). */
  readonly formats: CommandFormats;
  readonly scheme: 'http' | 'https';
  private readonly context: RouteContext;
  private readonly router = new Router();
  private readonly policies: RequestPolicy[];
  private readonly maxBodyBytes: number;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly limits: HttpLimits;
  private readonly authenticator: TokenAuthenticator;
  private readonly allowedHosts: AllowedHosts;
  private tls: HttpsCredentials | null;
  private server: Server | HttpsServer | null = null;
  private acceptBackoff: AcceptBackoff | null = null;
  private lastDropWarning = -Infinity;

  constructor(options: KvHttpOptions) {
    const { cluster, fsm } = options;
    const defaults = KV_HTTP_DEFAULTS;
    const maxLeases = options.maxLeases ?? defaults.maxLeases;
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
    this.limits = { ...DEFAULT_HTTP_LIMITS, ...options.limits };
    this.tls = options.tls ?? null;
    this.scheme = this.tls === null ? 'http' : 'https';
    this.authenticator = new TokenAuthenticator(options.tokens);
    this.allowedHosts = new AllowedHosts(options.allowedHosts);
    this.watches = new WatchHub({
      fsm,
      clock: this.clock,
      logger: this.logger,
      maxWatches: options.maxWatches ?? defaults.maxWatches,
      bufferBytes: options.watchBufferBytes ?? defaults.watchBufferBytes,
      keepaliveMs: options.watchKeepaliveMs ?? defaults.watchKeepaliveMs,
    });
    this.leases = new LeaseKeeper({
      cluster,
      fsm,
      clock: this.clock,
      logger: this.logger,
      checkIntervalMs: options.leaseCheckIntervalMs ?? defaults.leaseCheckIntervalMs,
    });
    this.metrics = new KvMetrics({
      cluster,
      fsm,
      watches: this.watches,
      leases: this.leases,
      registry: options.metricsRegistry,
    });
    this.formats = new CommandFormats(fsm, cluster, options.commandFormat);
    this.context = new RouteContext({
      cluster,
      fsm,
      metrics: this.metrics,
      formats: this.formats,
      timeout: options.timeout ?? defaults.timeout,
      debugStaleReads: options.debugStaleReads,
      debugEarlyAck: options.debugEarlyAck,
      clock: this.clock,
      logger: this.logger,
    });
    this.policies = requestPolicies({
      authenticator: this.authenticator,
      allowedHosts: this.allowedHosts,
      scheme: this.scheme,
    });
    const membership = (this.membership = new Membership({
      context: this.context,
      joinTimeout: options.joinTimeout,
      resolveHost: options.resolveHost,
    }));
    this.router
      .add(rangeRoutes(this.context, { maxRangeBytes: options.maxRangeBytes ?? defaults.maxRangeBytes }))
      .add(kvRoutes(this.context))
      .add(watchRoutes(this.watches))
      .add(leaseRoutes(this.context, { keeper: this.leases, maxLeases }))
      .add(lockRoutes(this.context, { keeper: this.leases, maxLeases }))
      .add(txnRoutes(this.context))
      .add(statusRoutes(this.context, this.watches))
      .add(clusterRoutes(this.context, membership, { debugRoutes: options.debugRoutes ?? false }));
  }

  /** Replaces the accepted tokens (rotation); requests already authenticated are not affected. */
  setTokens(tokens: ApiTokens): void {
    this.authenticator.set(tokens);
  }

  /** Replaces the HTTPS certificate, key and client CA for new connections (rotation). */
  setTls(tls: HttpsCredentials): void {
    if (this.tls === null) throw new Error('this server does not serve HTTPS');
    // Node fixes whether it asks for client certificates when the server is created.
    if ((tls.ca === null) !== (this.tls.ca === null)) {
      throw new Error('adding or dropping the client CA takes a restart');
    }
    this.tls = tls;
    (this.server as HttpsServer | null)?.setSecureContext(secureContextOptions(tls));
  }

  /** Starts listening; resolves with the base URL (useful with port 0). */
  async listen(port: number, host = '127.0.0.1'): Promise<string> {
    const limits = this.limits;
    const serverOptions = {
      headersTimeout: limits.headersTimeout,
      requestTimeout: limits.requestTimeout,
      keepAliveTimeout: limits.keepAliveTimeout,
      maxHeaderSize: limits.maxHeaderBytes,
      // Node checks the two timeouts this often (30 s by default, which would stretch them).
      connectionsCheckingInterval: Math.max(10, Math.min(1000, limits.headersTimeout / 4)),
    };
    const handler = (req: IncomingMessage, res: ServerResponse) => this.handle(req, res);
    const server =
      this.tls === null
        ? createServer(serverOptions, handler)
        : createHttpsServer({ ...serverOptions, ...secureContextOptions(this.tls) }, handler);
    server.maxConnections = limits.maxConnections;
    server.on('drop', () => this.warnDropped());
    this.server = server;
    this.allowedHosts.add(host);
    const address = await listen(server, port, host);
    const hostText = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `${this.scheme}://${hostText}:${address.port}`;
    // Out of descriptors, accept() fails: pause and listen again rather than crash (as the Raft port).
    this.acceptBackoff = new AcceptBackoff(server, {
      bound: { host: address.address, port: address.port },
      clock: this.clock,
      logger: this.logger,
      name: url,
    });
    return url;
  }

  private warnDropped(): void {
    const now = this.clock.now();
    if (now - this.lastDropWarning < DROP_WARNING_INTERVAL_MS) return;
    this.lastDropWarning = now;
    this.logger.warn(
      { maxConnections: this.limits.maxConnections },
      'kv: connection limit reached; new connections are closed',
    );
  }

  async close(): Promise<void> {
    this.leases.stop();
    this.watches.close();
    const server = this.server;
    if (server === null) return;
    this.server = null;
    this.acceptBackoff?.stop();
    await closeServer(server);
  }

  /** The request listener; usable with any node:http server. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const request = new KvRequest(req, res, this.maxBodyBytes);
    const match = this.router.match(request.method, request.path);
    const label =
      match.kind === 'found' ? match.route.label : match.kind === 'not-found' ? 'unknown' : match.label;
    // `on`, not `once`: 'finish' comes once anyway, and `once` wraps the listener per request.
    res.on('finish', () => this.metrics.countRequest(request.method, label, res.statusCode));
    if (match.kind === 'found') {
      request.route = match.route;
      request.params = match.params;
      if (match.route.audited === true) res.once('close', () => this.auditLine(request));
    }
    let handled: Promise<void>;
    try {
      handled = this.dispatch(request, match);
    } catch (error) {
      return this.fail(request, error);
    }
    handled.catch((error: unknown) => this.fail(request, error));
  }

  /**
   * The policies, then the route. The policies are synchronous, so a request reaches its route in
   * the turn it arrived, without a promise hop per policy (bench/PROFILE.md).
   */
  private dispatch(request: KvRequest, match: RouteMatch): Promise<void> {
    for (const policy of this.policies) policy(request);
    if (match.kind === 'not-found') throw new HttpError(404, `no route for ${request.path}`);
    if (match.kind === 'method-not-allowed') {
      throw new HttpError(405, `method ${request.method} not allowed`, { Allow: match.allow.join(', ') });
    }
    if (DATA_ROUTES.has(match.route.label) && this.context.cluster.isRemoved()) {
      throw new HttpError(410, REMOVED_MESSAGE);
    }
    return match.route.handle(request);
  }

  /** One line per request of an audited route: who (role, address), what, and how it ended. */
  private auditLine(request: KvRequest): void {
    const { res } = request;
    const status = res.writableFinished ? res.statusCode : 'connection closed';
    this.logger.info(
      {
        audit: request.route!.label,
        role: request.role,
        remote: request.remote,
        method: request.method,
        path: request.path,
        status,
        ...request.audit,
      },
      `kv audit: ${request.method} ${request.path} by ${request.role} from ${request.remote}: ${status}`,
    );
  }

  private fail(request: KvRequest, error: unknown): void {
    const { req, res } = request;
    if (res.headersSent || res.destroyed) return;
    const answer = this.context.answerFor(request, error);
    if (answer.status >= 500 && answer.status !== 503) {
      this.logger.warn({ method: req.method, url: req.url, error: String(error) }, 'kv: request failed');
    }
    sendJson(res, answer.status, { error: answer.message, ...answer.fields }, answer.headers);
  }
}

/** The routes a removed server refuses (410): its state is no longer kept up to date. */
const DATA_ROUTES: ReadonlySet<RouteLabel> = new Set(['kv', 'range', 'watch', 'leases', 'locks', 'txn']);

/** At most one warning about dropped connections per minute. */
const DROP_WARNING_INTERVAL_MS = 60_000;

function secureContextOptions(tls: HttpsCredentials) {
  return {
    cert: tls.cert,
    key: tls.key,
    minVersion: 'TLSv1.2' as const,
    ...(tls.ca === null ? {} : { ca: tls.ca, requestCert: true, rejectUnauthorized: true }),
  };
}
