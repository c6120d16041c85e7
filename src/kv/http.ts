/**
 * The KV service's HTTP API (the contract in DESIGN.md), on plain node:http. Every route validates
 * its whole request before anything is submitted to Raft, so a malformed request never applies.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../core/clock.js';
import {
  ErrApplyTimeout,
  ErrEnqueueTimeout,
  ErrLeadershipLost,
  ErrLeadershipTransferInProgress,
  ErrNotLeader,
  ErrRaftShutdown,
} from '../core/errors.js';
import { systemClock } from '../platform/clock.js';
import { silentLogger, type Logger } from '../raft/logger.js';
import { UnknownServerError, type KvCluster } from './cluster.js';
import { encodeCommand, httpAddressKey, type KvCommand } from './commands.js';
import type { KvApplyResult, KvFsm } from './fsm.js';
import { KvMetrics, type RouteLabel } from './metrics.js';
import { keyProblem, normalizeHttpUrl, parseHostPort, serverIdProblem } from './validate.js';

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

/** A request the service refuses, with the status and message to answer. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const JSON_TYPE = 'application/json';

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** Splits the raw request target; the path is kept undecoded so that `%2F` in a key stays a key byte. */
function splitTarget(target: string): { path: string; query: Map<string, string> } {
  const mark = target.indexOf('?');
  const path = mark < 0 ? target : target.slice(0, mark);
  const query = new Map<string, string>();
  if (mark >= 0) {
    for (const pair of target.slice(mark + 1).split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      // The first occurrence wins, as with Go's url.Values.Get.
      if (!query.has(name)) query.set(name, eq < 0 ? '' : pair.slice(eq + 1));
    }
  }
  return { path, query };
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

function decodePathSegment(raw: string, what: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, `${what} is not valid percent-encoded UTF-8`);
  }
}

function isTruthyFlag(value: string | undefined): boolean {
  return value !== undefined && value !== 'false' && value !== '0';
}

export class KvHttpServer {
  readonly metrics: KvMetrics;
  private readonly cluster: KvCluster;
  private readonly fsm: KvFsm;
  private readonly maxBodyBytes: number;
  private readonly timeout: number;
  private readonly debugRoutes: boolean;
  private readonly debugStaleReads: boolean;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private server: Server | null = null;

  constructor(options: KvHttpOptions) {
    this.cluster = options.cluster;
    this.fsm = options.fsm;
    this.maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
    this.timeout = options.timeout ?? 5000;
    this.debugRoutes = options.debugRoutes ?? false;
    this.debugStaleReads = options.debugStaleReads ?? false;
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
    this.metrics = new KvMetrics(this.cluster, this.fsm);
  }

  /** Starts listening; resolves with the base URL (useful with port 0). */
  async listen(port: number, host = '127.0.0.1'): Promise<string> {
    const server = createServer((req, res) => this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const hostText = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${hostText}:${address.port}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.server = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** The request listener; usable with any node:http server. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    let route: RouteLabel = 'unknown';
    res.once('finish', () => this.metrics.countRequest(req.method ?? '', route, res.statusCode));
    const { path, query } = splitTarget(req.url ?? '/');
    const dispatch = async () => {
      const method = req.method ?? 'GET';
      if (path.startsWith('/kv/')) {
        route = 'kv';
        return this.routeKv(req, res, method, decodePathSegment(path.slice(4), 'key'), query);
      }
      if (path === '/status') {
        route = 'status';
        allow(method, ['GET']);
        return sendJson(res, 200, this.statusBody());
      }
      if (path === '/metrics') {
        route = 'metrics';
        allow(method, ['GET']);
        const text = await this.metrics.registry.metrics();
        res.writeHead(200, { 'Content-Type': this.metrics.registry.contentType });
        return void res.end(text);
      }
      if (path.startsWith('/cluster/') && method === 'DELETE') {
        route = 'cluster_remove';
        return this.removeServer(req, res, decodePathSegment(path.slice(9), 'server ID'));
      }
      if (path === '/cluster/join' || path === '/cluster/transfer') {
        const join = path === '/cluster/join';
        route = join ? 'cluster_join' : 'cluster_transfer';
        allow(method, ['POST', 'DELETE']);
        return join ? this.join(req, res) : this.transfer(req, res);
      }
      if (path.startsWith('/cluster/')) {
        route = 'cluster_remove';
        allow(method, ['DELETE']);
      }
      if (path === '/debug/isolate' && this.debugRoutes) {
        route = 'debug_isolate';
        allow(method, ['POST']);
        return this.isolate(req, res);
      }
      throw new HttpError(404, `no route for ${path}`);
    };
    dispatch().catch((error: unknown) => this.fail(req, res, error));
  }

  private async routeKv(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    key: string,
    query: Map<string, string>,
  ): Promise<void> {
    allow(method, ['GET', 'PUT', 'DELETE']);
    const problem = keyProblem(key, method === 'GET' ? 'read' : 'write');
    if (problem !== null) throw new HttpError(400, problem);
    if (method === 'GET') return this.get(req, res, key, isTruthyFlag(query.get('stale')));
    if (method === 'DELETE') {
      this.requireLeader(req);
      return this.write(res, { op: 'delete', key });
    }
    const rawPrev = query.get('prev');
    const prev = rawPrev === undefined ? undefined : rawPrev === '' ? null : percentDecodeBytes(rawPrev);
    this.checkDeclaredLength(req);
    this.requireLeader(req);
    const value = await this.readBody(req);
    return this.write(res, prev === undefined ? { op: 'put', key, value } : { op: 'cas', key, prev, value });
  }

  private async get(req: IncomingMessage, res: ServerResponse, key: string, stale: boolean): Promise<void> {
    if (!stale && !this.debugStaleReads) {
      this.requireLeader(req);
      await this.cluster.linearizableRead({ timeout: this.timeout });
    }
    const value = this.fsm.get(key);
    if (value === undefined) throw new HttpError(404, 'key not found');
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': value.byteLength });
    res.end(value);
  }

  private async write(res: ServerResponse, command: KvCommand): Promise<void> {
    const { index, result } = await this.applyCommand(command);
    if (result.ok) return sendJson(res, 200, { index });
    if (result.reason === 'cas-failed') {
      return sendJson(res, 412, {
        error: 'compare-and-set failed: current value differs',
        index,
        current: result.current,
      });
    }
    throw new Error(`state machine refused the command: ${result.error}`);
  }

  private async applyCommand(command: KvCommand): Promise<{ index: number; result: KvApplyResult }> {
    const started = this.clock.now();
    const { index, response } = await this.cluster.apply(encodeCommand(command), { timeout: this.timeout });
    this.metrics.observeApply(command.op, (this.clock.now() - started) / 1000);
    return { index, result: response as KvApplyResult };
  }

  private statusBody() {
    const status = this.cluster.status();
    const leader = status.leader;
    return {
      id: this.cluster.id,
      state: status.state,
      term: status.term,
      // Unknown fields are empty strings (as hashicorp's LeaderWithID) so that clients can always index them.
      leader: {
        id: leader?.id ?? '',
        address: leader?.address ?? '',
        http: leader === null ? '' : (this.fsm.httpAddress(leader.id) ?? ''),
      },
      lastIndex: status.lastIndex,
      commitIndex: status.commitIndex,
      appliedIndex: status.appliedIndex,
      lastSnapshotIndex: status.lastSnapshotIndex,
      configuration: status.configuration.map(({ id, address, suffrage }) => ({ id, address, suffrage })),
    };
  }

  private async join(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.checkDeclaredLength(req);
    const body = parseJsonObject(await this.readBody(req));
    const { id, address, http } = body;
    const voter = body.voter ?? true;
    if (typeof id !== 'string' || serverIdProblem(id) !== null) {
      throw new HttpError(400, typeof id === 'string' ? serverIdProblem(id)! : '"id" must be a string');
    }
    if (typeof address !== 'string' || typeof parseHostPort(address) === 'string') {
      throw new HttpError(400, '"address" must be the Raft address as host:port');
    }
    const httpUrl = typeof http === 'string' ? normalizeHttpUrl(http) : null;
    if (httpUrl === null)
      throw new HttpError(400, '"http" must be the HTTP address as host:port or http(s)://host:port');
    if (typeof voter !== 'boolean') throw new HttpError(400, '"voter" must be a boolean');
    this.requireLeader(req);
    // The address goes in first: once the member is in, it may become leader and need it for redirects.
    await this.applyCommand({ op: 'put', key: httpAddressKey(id), value: Buffer.from(httpUrl) });
    await (voter ? this.cluster.addVoter(id, address) : this.cluster.addNonvoter(id, address));
    sendJson(res, 200, { ok: true });
  }

  private async removeServer(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const problem = serverIdProblem(id);
    if (problem !== null) throw new HttpError(400, problem);
    this.requireLeader(req);
    await this.cluster.removeServer(id);
    try {
      await this.applyCommand({ op: 'delete', key: httpAddressKey(id) });
    } catch (error) {
      // The removal itself committed; a stale address entry only costs a key.
      this.logger.warn(
        { id, error: String(error) },
        'kv: could not forget the HTTP address of a removed server',
      );
    }
    sendJson(res, 200, { ok: true });
  }

  private async transfer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.checkDeclaredLength(req);
    const raw = await this.readBody(req);
    const body = raw.length === 0 ? {} : parseJsonObject(raw);
    if (body.id !== undefined && (typeof body.id !== 'string' || serverIdProblem(body.id) !== null)) {
      throw new HttpError(400, '"id" must be a server ID');
    }
    this.requireLeader(req);
    await this.cluster.leadershipTransfer(body.id as string | undefined);
    sendJson(res, 200, { ok: true });
  }

  private async isolate(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.checkDeclaredLength(req);
    const body = parseJsonObject(await this.readBody(req));
    let peers: string[] | null;
    if (body.heal === true) peers = null;
    else if (Array.isArray(body.peers) && body.peers.every((peer) => typeof peer === 'string')) {
      peers = body.peers as string[];
    } else throw new HttpError(400, 'body must be {"peers":[ids...]} or {"heal":true}');
    if (this.cluster.isolate === undefined) throw new HttpError(501, 'this node cannot isolate itself');
    await this.cluster.isolate(peers);
    sendJson(res, 200, { ok: true, isolated: peers ?? [] });
  }

  /** Throws the answer a non-leader gives: 307 to the leader's HTTP address, or 503 without one. */
  private requireLeader(req: IncomingMessage): void {
    const status = this.cluster.status();
    if (status.state === 'Leader') return;
    throw this.notLeader(req, status.leader?.id);
  }

  private notLeader(req: IncomingMessage, leaderId: string | undefined): HttpError {
    if (leaderId === undefined || leaderId === this.cluster.id)
      return new HttpError(503, 'no leader known, retry later');
    const http = this.fsm.httpAddress(leaderId);
    if (http === undefined)
      return new HttpError(503, `leader ${leaderId} has not published its HTTP address yet`);
    return new HttpError(307, `not the leader; the leader is ${leaderId}`, {
      Location: http + (req.url ?? '/'),
    });
  }

  private checkDeclaredLength(req: IncomingMessage): void {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > this.maxBodyBytes) throw this.tooLarge();
  }

  private tooLarge(): HttpError {
    return new HttpError(413, `request body exceeds ${this.maxBodyBytes} bytes`, { Connection: 'close' });
  }

  /**
   * Buffers the body up to maxBodyBytes. Past that it keeps draining without buffering and then
   * refuses: answering mid-upload would reset the connection before the client reads the 413.
   */
  private readBody(req: IncomingMessage): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let total = 0;
      req.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (total <= this.maxBodyBytes) chunks.push(chunk);
      });
      req.once('end', () =>
        total > this.maxBodyBytes ? reject(this.tooLarge()) : resolve(Buffer.concat(chunks)),
      );
      req.once('error', reject);
    });
  }

  private fail(req: IncomingMessage, res: ServerResponse, error: unknown): void {
    if (res.headersSent || res.destroyed) return;
    const answer = this.toHttpError(req, error);
    if (answer.status >= 500 && answer.status !== 503) {
      this.logger.warn({ method: req.method, url: req.url, error: String(error) }, 'kv: request failed');
    }
    sendJson(res, answer.status, { error: answer.message }, answer.headers);
  }

  private toHttpError(req: IncomingMessage, error: unknown): HttpError {
    if (error instanceof HttpError) return error;
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof ErrNotLeader) return this.notLeader(req, this.cluster.status().leader?.id);
    if (error instanceof UnknownServerError) return new HttpError(404, message);
    if (
      error instanceof ErrApplyTimeout ||
      error instanceof ErrEnqueueTimeout ||
      error instanceof ErrLeadershipLost
    ) {
      return new HttpError(504, `outcome unknown: ${message}`);
    }
    // Refused before anything was appended: the client may simply retry.
    if (error instanceof ErrLeadershipTransferInProgress || error instanceof ErrRaftShutdown) {
      return new HttpError(503, message);
    }
    return new HttpError(500, message);
  }
}

function allow(method: string, methods: string[]): void {
  if (!methods.includes(method)) {
    throw new HttpError(405, `method ${method} not allowed`, { Allow: methods.join(', ') });
  }
}

function parseJsonObject(body: Buffer): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HttpError(400, 'body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/**
 * Publishes this server's HTTP base URL under its reserved key when it leads and the stored one
 * differs; the glue calls it on every leadership gain so followers can redirect clients here.
 * Resolves true when it wrote.
 */
export async function announceHttpAddress(
  cluster: KvCluster,
  fsm: KvFsm,
  httpUrl: string,
  timeout = 5000,
): Promise<boolean> {
  if (cluster.status().state !== 'Leader' || fsm.httpAddress(cluster.id) === httpUrl) return false;
  const command: KvCommand = { op: 'put', key: httpAddressKey(cluster.id), value: Buffer.from(httpUrl) };
  await cluster.apply(encodeCommand(command), { timeout });
  return true;
}
