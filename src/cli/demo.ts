/**
 * `raftkit demo`: three local KV nodes as child processes, and the live dashboard that shows them
 * and lets people stop, start, isolate and heal nodes, move leadership and read and write keys.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { systemClock, type Clock } from '../index.js';
import type { LeaseListBody, LockInfoBody, LockListBody, StatusBody } from '../kv/contract.js';
import { readTokenFile } from '../kv/credentials.js';
import { loadDashboardHtml } from '../kv/dashboard-page.js';
import { AllowedHosts, crossOriginProblem } from '../kv/http/browser-rules.js';
import { closeServer, HttpError, listen, readBody, sendJson } from '../kv/http/io.js';
import { randomHex } from '../platform/clock.js';
import {
  childProcessLauncher,
  defaultCliPath,
  demoNodeSpecs,
  type DemoNodeSpec,
  type NodeLauncher,
  type NodeProcess,
  type NodeSpecOptions,
} from './node-processes.js';
import { kvRequest } from './service-client.js';

export interface DemoOptions extends NodeSpecOptions {
  dashboardPort?: number;
  /**
   * The API token file the nodes require (--auth-token-file) and the dashboard sends; default
   * `<dataRoot>/api-token`, made with a fresh random token when it does not exist.
   */
  tokenFile?: string;
  /** Delete the data directories first, for a fresh cluster. */
  fresh?: boolean;
  /** How nodes are started; child processes of `node <cliPath> kv serve ...` by default. */
  launcher?: NodeLauncher;
  cliPath?: string;
  clock?: Clock;
  log?: (line: string) => void;
}

/** One node as the dashboard shows it: what the demo knows of its process, and its /status. */
export interface NodeView {
  id: string;
  http: string;
  raft: string;
  running: boolean;
  lastExit: string | null;
  isolated: boolean;
  reachable: boolean;
  status: StatusBody | null;
  error: string | null;
}

export interface ClusterView {
  nodes: NodeView[];
  /** The reachable leader with the highest term, if any. */
  leader: string | null;
  /** The leader's leases and locks (the first TABLE_ROWS of each), null without a leader or answer. */
  leases: LeaseListBody['leases'] | null;
  locks: LockInfoBody[] | null;
  time: number;
}

interface DemoNode {
  spec: DemoNodeSpec;
  process: NodeProcess;
  /** The peers this node's process was last told to drop (null: not yet told since it started). */
  appliedIsolation: string | null;
}

const STATUS_TIMEOUT_MS = 500;
/** Rows of leases and locks the dashboard shows at most. */
const TABLE_ROWS = 20;
const VIEW_MAX_AGE_MS = 100;
/** Largest body the dashboard forwards to a node. */
const MAX_BODY_BYTES = 1024 * 1024;

export class Demo {
  private readonly nodes: DemoNode[];
  private readonly isolated = new Set<string>();
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  private readonly dashboardPort: number;
  private readonly host: string;
  private readonly html: string;
  private readonly tokenFile: string;
  private readonly allowedHosts: AllowedHosts;
  private token: string | null = null;
  private server: Server | null = null;
  private view: ClusterView | null = null;
  private viewAt = -Infinity;
  private pendingView: Promise<ClusterView> | null = null;

  constructor(private readonly options: DemoOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? ((line) => console.log(line));
    this.dashboardPort = options.dashboardPort ?? 8080;
    this.host = options.host ?? '127.0.0.1';
    this.allowedHosts = new AllowedHosts([this.host]);
    this.tokenFile = options.tokenFile ?? join(options.dataRoot ?? './data', 'api-token');
    const launcher =
      options.launcher ?? childProcessLauncher(options.cliPath ?? defaultCliPath(), this.clock);
    const specOptions = {
      ...options,
      extraServeArgs: ['--auth-token-file', this.tokenFile, ...(options.extraServeArgs ?? [])],
    };
    this.nodes = demoNodeSpecs(specOptions).map((spec) => ({
      spec,
      process: launcher(spec),
      appliedIsolation: null,
    }));
    this.html = loadDashboardHtml();
  }

  /** The token file the nodes and the dashboard use. */
  get apiTokenFile(): string {
    return this.tokenFile;
  }

  /** Starts the nodes and the dashboard; resolves with the dashboard URL. */
  async start(): Promise<string> {
    if (this.options.fresh) {
      for (const { spec } of this.nodes) {
        rmSync(spec.dataDir, { recursive: true, force: true });
        rmSync(`${spec.dataDir}.log`, { force: true });
      }
    }
    const server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (res.headersSent) return;
        if (error instanceof HttpError) sendJson(res, error.status, { error: error.message }, error.headers);
        else sendJson(res, 500, { error: String(error) });
      });
    });
    let port: number;
    try {
      ({ port } = await listen(server, this.dashboardPort, this.host));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      throw new Error(
        `dashboard port ${this.host}:${this.dashboardPort} is already in use (another demo running?)`,
        { cause: error },
      );
    }
    this.server = server;
    this.token = readOrCreateToken(this.tokenFile);
    for (const node of this.nodes) node.process.start();
    return `http://${this.host}:${port}`;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.process.stop()));
    const server = this.server;
    this.server = null;
    if (server !== null) await closeServer(server);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const path = url.split('?')[0];
    const method = req.method ?? 'GET';
    // The dashboard holds the API token: a page of another site (or one that rebinds its DNS name
    // to this machine) must not get to use it.
    const refusal =
      this.allowedHosts.problem(req.headers.host) ??
      crossOriginProblem(method, req.headers.origin, 'http', req.headers.host);
    if (refusal !== null) throw new HttpError(403, refusal);
    if (path === '/' && method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      return void res.end(this.html);
    }
    if (path === '/api/cluster' && method === 'GET') return sendJson(res, 200, await this.clusterView());
    const control = /^\/api\/nodes\/([^/]+)\/(stop|start|isolate|heal)$/.exec(path);
    if (control !== null && method === 'POST') return this.control(res, control[1], control[2]);
    if (path === '/api/transfer' && method === 'POST') {
      const body = await readBody(req, MAX_BODY_BYTES);
      const json = body.length > 0 ? body : Buffer.from('{}');
      return this.proxy(res, 'POST', '/cluster/transfer', json, 'application/json');
    }
    if (path.startsWith('/api/kv/') && ['GET', 'PUT', 'DELETE'].includes(method)) {
      const body = method === 'PUT' ? await readBody(req, MAX_BODY_BYTES) : undefined;
      return this.proxy(res, method, url.slice('/api'.length), body);
    }
    sendJson(res, 404, { error: `no route for ${method} ${path}` });
  }

  private async control(res: ServerResponse, id: string, action: string): Promise<void> {
    const node = this.nodes.find((candidate) => candidate.spec.id === id);
    if (node === undefined) return sendJson(res, 404, { error: `no node ${id}` });
    switch (action) {
      case 'stop':
        await node.process.stop();
        break;
      case 'start':
        node.appliedIsolation = null;
        node.process.start();
        break;
      case 'isolate':
        this.isolated.add(id);
        await this.pushIsolation();
        break;
      case 'heal':
        this.isolated.delete(id);
        await this.pushIsolation();
        break;
    }
    this.viewAt = -Infinity;
    this.log(`demo: ${action} ${id}`);
    sendJson(res, 200, { ok: true, isolated: [...this.isolated] });
  }

  /** The peers a node must drop: everyone when it is isolated, else the isolated ones. */
  private blockedPeers(id: string): string[] {
    const others = this.nodes.map((node) => node.spec.id).filter((other) => other !== id);
    return this.isolated.has(id) ? others : others.filter((other) => this.isolated.has(other));
  }

  /** Tells every running node whose isolation list is out of date; a failure is retried on the next view. */
  private async pushIsolation(): Promise<void> {
    await Promise.all(
      this.nodes.map(async (node) => {
        const blocked = this.blockedPeers(node.spec.id);
        const wanted = blocked.join(',');
        if (!node.process.running || node.appliedIsolation === wanted) return;
        const body = JSON.stringify(blocked.length === 0 ? { heal: true } : { peers: blocked });
        try {
          const response = await this.callNode(node.spec.httpUrl, '/debug/isolate', body);
          if (response.ok) node.appliedIsolation = wanted;
        } catch {
          // Not up yet: the next cluster view tries again.
        }
      }),
    );
  }

  /** GET `path` of a node, or POST `body` as JSON to it; with the API token, within STATUS_TIMEOUT_MS. */
  private async callNode(base: string, path: string, body?: string): Promise<Response> {
    const abort = new AbortController();
    const timer = this.clock.setTimer(STATUS_TIMEOUT_MS, () => abort.abort(new Error('timed out')));
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    try {
      return await fetch(base + path, {
        method: body === undefined ? 'GET' : 'POST',
        body,
        headers,
        signal: abort.signal,
      });
    } finally {
      timer.cancel();
    }
  }

  /** A JSON answer, or null when the node does not answer 200 in time. */
  private async fetchJson<T>(base: string, path: string): Promise<T | null> {
    try {
      const response = await this.callNode(base, path);
      return response.ok ? ((await response.json()) as T) : null;
    } catch {
      return null;
    }
  }

  /** The status of every node, polled at most every VIEW_MAX_AGE_MS however many dashboards watch. */
  clusterView(): Promise<ClusterView> {
    if (this.view !== null && this.clock.now() - this.viewAt < VIEW_MAX_AGE_MS)
      return Promise.resolve(this.view);
    this.pendingView ??= this.pollNodes().finally(() => {
      this.pendingView = null;
    });
    return this.pendingView;
  }

  private async pollNodes(): Promise<ClusterView> {
    const nodes = await Promise.all(this.nodes.map((node) => this.pollNode(node)));
    await this.pushIsolation();
    let leader: NodeView | null = null;
    for (const node of nodes) {
      if (node.status?.state === 'Leader' && (leader === null || node.status.term > leader.status!.term))
        leader = node;
    }
    const [leases, locks] =
      leader === null
        ? [null, null]
        : await Promise.all([
            this.fetchJson<LeaseListBody>(leader.http, '/leases').then(
              (body) => body?.leases.slice(0, TABLE_ROWS) ?? null,
            ),
            this.fetchJson<LockListBody>(leader.http, '/locks').then(
              (body) => body?.locks.slice(0, TABLE_ROWS) ?? null,
            ),
          ]);
    this.view = { nodes, leader: leader?.id ?? null, leases, locks, time: this.clock.wallTime() };
    this.viewAt = this.clock.now();
    return this.view;
  }

  private async pollNode(node: DemoNode): Promise<NodeView> {
    const view: NodeView = {
      id: node.spec.id,
      http: node.spec.httpUrl,
      raft: node.spec.raftAddr,
      running: node.process.running,
      lastExit: node.process.lastExit,
      isolated: this.isolated.has(node.spec.id),
      reachable: false,
      status: null,
      error: null,
    };
    if (!view.running) return view;
    try {
      const response = await this.callNode(node.spec.httpUrl, '/status');
      view.status = (await response.json()) as StatusBody;
      view.reachable = true;
    } catch (error) {
      view.error =
        error instanceof Error
          ? ((error.cause as Error | undefined)?.message ?? error.message)
          : String(error);
    }
    return view;
  }

  /** Forwards a request to the leader if one is known, else to any running node (which redirects). */
  private async proxy(
    res: ServerResponse,
    method: string,
    path: string,
    body?: Buffer,
    contentType?: string,
  ): Promise<void> {
    const view = await this.clusterView();
    const targets = [
      ...view.nodes.filter((node) => node.id === view.leader),
      ...view.nodes.filter((node) => node.reachable && node.id !== view.leader),
    ];
    if (targets.length === 0) return sendJson(res, 503, { error: 'no node is reachable' });
    try {
      const response = await kvRequest(targets[0].http, method, path, {
        body,
        contentType,
        credentials: { token: this.token },
        timeout: 2000,
        clock: this.clock,
      });
      res.writeHead(response.status, {
        'Content-Type': response.contentType || 'application/octet-stream',
        'Content-Length': response.body.length,
      });
      res.end(response.body);
    } catch (error) {
      sendJson(res, 502, { error: `${targets[0].id}: ${(error as Error).message}` });
    }
  }
}

/** The token in `file`; a new random one (256 bits, hex) written there first when it does not exist. */
function readOrCreateToken(file: string): string {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${randomHex(32)}\n`, { mode: 0o600, flag: 'wx' });
  }
  return readTokenFile(file, 'the demo token file').token;
}

/** `raftkit demo`: runs until SIGINT or SIGTERM, then stops every node. */
export async function runDemo(options: DemoOptions = {}): Promise<void> {
  const log = options.log ?? ((line: string) => console.log(line));
  const demo = new Demo({ ...options, log });
  const url = await demo.start();
  log(`raftkit demo: ${options.nodes ?? 3} nodes starting (logs in ${options.dataRoot ?? './data'}/n*.log)`);
  log(`raftkit demo: dashboard at ${url}  (Ctrl-C to stop)`);
  log(
    `raftkit demo: the API needs the token in ${demo.apiTokenFile}: raftkit kv get KEY --token-file ${demo.apiTokenFile}`,
  );
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      log(`raftkit demo: ${signal}, stopping the nodes`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve();
    };
    const onInt = () => shutdown('SIGINT');
    const onTerm = () => shutdown('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  await demo.stop();
}
