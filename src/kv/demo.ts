/**
 * `raftkit demo`: three local KV nodes as child processes, and the live dashboard that shows them
 * and lets people stop, start, isolate and heal nodes, move leadership and read and write keys.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../platform/clock.js';
import { kvRequest } from './client.js';

export interface DemoNodeSpec {
  id: string;
  raftAddr: string;
  httpUrl: string;
  dataDir: string;
  /** The `kv serve` arguments that start this node. */
  serveArgs: string[];
}

/** A node's process, as the orchestrator controls it. */
export interface NodeProcess {
  readonly running: boolean;
  /** Why the process last ended, e.g. "exit code 1"; null while running or never started. */
  readonly lastExit: string | null;
  start(): void;
  stop(): Promise<void>;
}

export type NodeLauncher = (spec: DemoNodeSpec) => NodeProcess;

/** A node that is a real child process: it can also be sent signals (SIGKILL, SIGSTOP, ...). */
export interface ChildNodeProcess extends NodeProcess {
  /** Sends `signal` to the running process (nothing when it is not running). */
  signal(signal: NodeJS.Signals): void;
  /** Resolves when the current process has exited (at once when none runs). */
  exited(): Promise<void>;
}

export interface DemoOptions {
  nodes?: number;
  host?: string;
  raftBasePort?: number;
  httpBasePort?: number;
  /** Explicit ports per node (instead of consecutive ones from the base ports). */
  raftPorts?: readonly number[];
  httpPorts?: readonly number[];
  /** More `kv serve` flags for every node (tuning, --log-store, ...). */
  extraServeArgs?: readonly string[];
  dashboardPort?: number;
  dataRoot?: string;
  /** Delete the data directories first, for a fresh cluster. */
  fresh?: boolean;
  /** How nodes are started; child processes of `node <cliPath> kv serve ...` by default. */
  launcher?: NodeLauncher;
  cliPath?: string;
  clock?: Clock;
  log?: (line: string) => void;
}

interface NodeStatus {
  id: string;
  state: string;
  term: number;
  leader: { id: string; address: string; http: string };
  lastIndex: number;
  commitIndex: number;
  appliedIndex: number;
  lastSnapshotIndex: number;
  configuration: { id: string; address: string; suffrage: string }[];
}

export interface NodeView {
  id: string;
  http: string;
  raft: string;
  running: boolean;
  lastExit: string | null;
  isolated: boolean;
  reachable: boolean;
  status: NodeStatus | null;
  error: string | null;
}

export interface ClusterView {
  nodes: NodeView[];
  /** The reachable leader with the highest term, if any. */
  leader: string | null;
  time: number;
}

interface DemoNode {
  spec: DemoNodeSpec;
  process: NodeProcess;
  /** The peers this node's process was last told to drop (null: not yet told since it started). */
  appliedIsolation: string | null;
}

const STATUS_TIMEOUT_MS = 500;
const VIEW_MAX_AGE_MS = 100;
const STOP_GRACE_MS = 3000;

/** Builds the node specs of the demo: n1..nN on consecutive ports. */
export function demoNodeSpecs(options: DemoOptions = {}): DemoNodeSpec[] {
  const count = options.nodes ?? 3;
  const host = options.host ?? '127.0.0.1';
  const raftBase = options.raftBasePort ?? 7001;
  const httpBase = options.httpBasePort ?? 8001;
  const dataRoot = options.dataRoot ?? './data';
  const ids = Array.from({ length: count }, (_, i) => `n${i + 1}`);
  const raftPort = (i: number) => options.raftPorts?.[i] ?? raftBase + i;
  const httpPort = (i: number) => options.httpPorts?.[i] ?? httpBase + i;
  const peers = ids.map((id, i) => `${id}=${host}:${raftPort(i)}`).join(',');
  return ids.map((id, i) => {
    const raftAddr = `${host}:${raftPort(i)}`;
    const httpAddr = `${host}:${httpPort(i)}`;
    const dataDir = join(dataRoot, id);
    return {
      id,
      raftAddr,
      httpUrl: `http://${httpAddr}`,
      dataDir,
      serveArgs: [
        ...['--id', id, '--raft-addr', raftAddr, '--http-addr', httpAddr, '--data-dir', dataDir],
        ...['--peers', peers, '--debug-routes'],
        ...(options.extraServeArgs ?? []),
      ],
    };
  });
}

/** Runs `node <cliPath> kv serve ...`, its output appended to <dataDir>.log. */
export function childProcessLauncher(
  cliPath: string,
  clock: Clock = systemClock,
): (spec: DemoNodeSpec) => ChildNodeProcess {
  return (spec) => {
    let child: ChildProcess | null = null;
    let lastExit: string | null = null;
    let exited: Promise<void> = Promise.resolve();
    return {
      get running() {
        return child !== null;
      },
      get lastExit() {
        return lastExit;
      },
      start() {
        if (child !== null) return;
        mkdirSync(spec.dataDir, { recursive: true });
        const logFd = openSync(`${spec.dataDir}.log`, 'a');
        // The IPC channel closes when this process dies, however it dies: the node then stops too.
        const started = spawn(process.execPath, [cliPath, 'kv', 'serve', ...spec.serveArgs], {
          stdio: ['ignore', logFd, logFd, 'ipc'],
        });
        closeSync(logFd);
        child = started;
        lastExit = null;
        exited = new Promise((resolve) => {
          started.once('exit', (code, signal) => {
            lastExit = signal !== null ? `killed by ${signal}` : `exit code ${code}`;
            if (child === started) child = null;
            resolve();
          });
          started.once('error', (error) => {
            lastExit = `failed to start: ${error.message}`;
            if (child === started) child = null;
            resolve();
          });
        });
      },
      signal(signal) {
        child?.kill(signal);
      },
      exited() {
        return exited;
      },
      async stop() {
        const running = child;
        if (running === null) return;
        running.kill('SIGCONT'); // a paused process cannot stop
        running.kill('SIGTERM');
        const timer = clock.setTimer(STOP_GRACE_MS, () => running.kill('SIGKILL'));
        await exited;
        timer.cancel();
      },
    };
  };
}

function defaultCliPath(): string {
  // dist/kv/demo.js sits next to dist/cli.js.
  return fileURLToPath(new URL('../cli.js', import.meta.url));
}

/** The dashboard page: next to this module once copied by the build, else in the source tree. */
export function loadDashboardHtml(): string {
  const candidates = [
    new URL('./dashboard/index.html', import.meta.url),
    new URL('../../src/kv/dashboard/index.html', import.meta.url),
  ];
  for (const candidate of candidates) {
    try {
      return readFileSync(candidate, 'utf8');
    } catch {
      // Try the next place.
    }
  }
  throw new Error(`dashboard page not found (looked in ${candidates.map((url) => url.pathname).join(', ')})`);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage, limit = 1024 * 1024): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    req.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total <= limit) chunks.push(chunk);
    });
    req.once('end', () =>
      total > limit ? reject(new Error('body too large')) : resolve(Buffer.concat(chunks)),
    );
    req.once('error', reject);
  });
}

export class Demo {
  private readonly nodes: DemoNode[];
  private readonly isolated = new Set<string>();
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  private readonly dashboardPort: number;
  private readonly host: string;
  private readonly html: string;
  private server: Server | null = null;
  private view: ClusterView | null = null;
  private viewAt = -Infinity;
  private pendingView: Promise<ClusterView> | null = null;

  constructor(private readonly options: DemoOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? ((line) => console.log(line));
    this.dashboardPort = options.dashboardPort ?? 8080;
    this.host = options.host ?? '127.0.0.1';
    const launcher =
      options.launcher ?? childProcessLauncher(options.cliPath ?? defaultCliPath(), this.clock);
    this.nodes = demoNodeSpecs(options).map((spec) => ({
      spec,
      process: launcher(spec),
      appliedIsolation: null,
    }));
    this.html = loadDashboardHtml();
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
        if (!res.headersSent) sendJson(res, 500, { error: String(error) });
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          error.code === 'EADDRINUSE'
            ? new Error(
                `dashboard port ${this.host}:${this.dashboardPort} is already in use (another demo running?)`,
              )
            : error,
        ),
      );
      server.listen(this.dashboardPort, this.host, () => {
        resolve();
      });
    });
    this.server = server;
    for (const node of this.nodes) node.process.start();
    const { port } = server.address() as AddressInfo;
    return `http://${this.host}:${port}`;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.process.stop()));
    const server = this.server;
    this.server = null;
    if (server !== null) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const path = url.split('?')[0];
    const method = req.method ?? 'GET';
    if (path === '/' && method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      return void res.end(this.html);
    }
    if (path === '/api/cluster' && method === 'GET') return sendJson(res, 200, await this.clusterView());
    const control = /^\/api\/nodes\/([^/]+)\/(stop|start|isolate|heal)$/.exec(path);
    if (control !== null && method === 'POST') return this.control(res, control[1], control[2]);
    if (path === '/api/transfer' && method === 'POST') {
      const body = await readBody(req);
      return this.proxy(res, 'POST', '/cluster/transfer', body.length > 0 ? body : Buffer.from('{}'));
    }
    if (path.startsWith('/api/kv/') && ['GET', 'PUT', 'DELETE'].includes(method)) {
      const body = method === 'PUT' ? await readBody(req) : undefined;
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
          const response = await this.fetchWithTimeout(`${node.spec.httpUrl}/debug/isolate`, 'POST', body);
          if (response.ok) node.appliedIsolation = wanted;
        } catch {
          // Not up yet: the next cluster view tries again.
        }
      }),
    );
  }

  private async fetchWithTimeout(url: string, method: string, body?: string): Promise<Response> {
    const abort = new AbortController();
    const timer = this.clock.setTimer(STATUS_TIMEOUT_MS, () => abort.abort(new Error('timed out')));
    try {
      return await fetch(url, { method, body, signal: abort.signal });
    } finally {
      timer.cancel();
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
    this.view = { nodes, leader: leader?.id ?? null, time: this.clock.wallTime() };
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
      const response = await this.fetchWithTimeout(`${node.spec.httpUrl}/status`, 'GET');
      view.status = (await response.json()) as NodeStatus;
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
  private async proxy(res: ServerResponse, method: string, path: string, body?: Buffer): Promise<void> {
    const view = await this.clusterView();
    const targets = [
      ...view.nodes.filter((node) => node.id === view.leader),
      ...view.nodes.filter((node) => node.reachable && node.id !== view.leader),
    ];
    if (targets.length === 0) return sendJson(res, 503, { error: 'no node is reachable' });
    try {
      const response = await kvRequest(targets[0].http, method, path, {
        body,
        timeout: 2000,
        clock: this.clock,
      });
      res.writeHead(response.status, {
        'Content-Type': response.contentType || 'application/octet-stream',
        'Content-Length': response.body.length,
      });
      res.end(response.body);
    } catch (error) {
      sendJson(res, 502, { error: `${targets[0].id}: ${String((error as Error).cause ?? error)}` });
    }
  }
}

/** `raftkit demo`: runs until SIGINT or SIGTERM, then stops every node. */
export async function runDemo(options: DemoOptions = {}): Promise<void> {
  const log = options.log ?? ((line: string) => console.log(line));
  const demo = new Demo({ ...options, log });
  const url = await demo.start();
  log(`raftkit demo: ${options.nodes ?? 3} nodes starting (logs in ${options.dataRoot ?? './data'}/n*.log)`);
  log(`raftkit demo: dashboard at ${url}  (Ctrl-C to stop)`);
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
