/**
 * Drives Go hashicorp/raft 1.1.2 peers (test/interop/gonode) as child processes for the interop
 * suite, and speaks the KV contract's HTTP API (DESIGN.md) to any member, Go or raftkit.
 * Every child is tracked: `cleanupGoNodes()` (call it in afterEach) kills the survivors and removes
 * their temp dirs, and the children exit on their own when this process dies (-exit-on-stdin-eof).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { StatusBody } from '../../src/kv/contract.js';

/** This directory in the repository, also from the copy compiled into dist-bench/ (npm run bench). */
export const INTEROP_DIR = fileURLToPath(
  new URL(import.meta.url.includes('/dist-bench/') ? '../../../test/interop/' : '.', import.meta.url),
);
export const GONODE_BIN = join(INTEROP_DIR, 'bin', 'gonode');
export const INSTALL_SCRIPT = join(INTEROP_DIR, 'install.sh');

// ---------------------------------------------------------------------------------------------
// Waiting

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Names the condition in the timeout error. */
  what?: string;
}

/**
 * Polls `condition` in real time until it returns something other than undefined or false.
 * A throwing condition counts as "not yet"; its last error is reported on timeout.
 */
export async function waitFor<T>(
  condition: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 10_000, intervalMs = 50, what = 'condition' }: WaitOptions = {},
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() >= deadline) {
      const cause = lastError === undefined ? '' : `; last error: ${String(lastError)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP client for the KV contract

export interface HttpResult {
  status: number;
  body: Buffer;
}

export interface JoinRequest {
  id: string;
  address: string;
  http?: string;
  voter?: boolean;
  /** The log command forms the joiner reads (a raftkit `kv serve`: json and binary). */
  formats?: string[];
}

export class HttpError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly result: HttpResult,
  ) {
    super(`${method} ${path} answered ${result.status}: ${result.body.toString('utf8')}`);
    this.name = 'HttpError';
  }
}

/** A client for one member's HTTP API; no keep-alive, so a restarted node never meets a dead socket. */
export class KvHttpClient {
  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs = 15_000,
  ) {}

  request(
    method: string,
    path: string,
    body?: Uint8Array | string,
    headers: Record<string, string> = {},
  ): Promise<HttpResult> {
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(path, this.baseUrl),
        { method, agent: false, timeout: this.timeoutMs, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Like request, but the answer must be 2xx and JSON. */
  async requestJson<T>(method: string, path: string, body?: unknown): Promise<T> {
    // The cluster routes take JSON bodies only (the KV service refuses other types with 415).
    const result =
      body === undefined
        ? await this.request(method, path)
        : await this.request(method, path, JSON.stringify(body), { 'Content-Type': 'application/json' });
    if (result.status < 200 || result.status > 299) throw new HttpError(method, path, result);
    return JSON.parse(result.body.toString('utf8')) as T;
  }

  /** PUT; `prev` makes it a compare-and-set (null: the key must be absent). */
  put(key: string, value: Uint8Array | string, options: { prev?: string | null } = {}): Promise<HttpResult> {
    let path = keyPath(key);
    if (options.prev !== undefined) path += `?prev=${encodeURIComponent(options.prev ?? '')}`;
    return this.request('PUT', path, value);
  }

  get(key: string, options: { stale?: boolean } = {}): Promise<HttpResult> {
    return this.request('GET', keyPath(key) + (options.stale ? '?stale' : ''));
  }

  delete(key: string): Promise<HttpResult> {
    return this.request('DELETE', keyPath(key));
  }

  status(): Promise<StatusBody> {
    return this.requestJson('GET', '/status');
  }

  /** The whole map as the snapshot format: key -> base64 value (local state, no read-index). */
  dump(): Promise<Record<string, string>> {
    return this.requestJson('GET', '/kv');
  }

  join(joining: JoinRequest): Promise<{ index: number }> {
    return this.requestJson('POST', '/cluster/join', joining);
  }

  remove(id: string): Promise<{ index: number }> {
    return this.requestJson('DELETE', `/cluster/${encodeURIComponent(id)}`);
  }

  transfer(target: { id?: string; address?: string } = {}): Promise<unknown> {
    return this.requestJson('POST', '/cluster/transfer', target);
  }

  snapshot(): Promise<{ id: string; index: number; term: number }> {
    return this.requestJson('POST', '/snapshot');
  }

  barrier(): Promise<{ appliedIndex: number }> {
    return this.requestJson('POST', '/barrier');
  }
}

function keyPath(key: string): string {
  return `/kv/${key.split('/').map(encodeURIComponent).join('/')}`;
}

// ---------------------------------------------------------------------------------------------
// Ports and processes

const handedOutPorts = new Set<number>();

/** A loopback port nobody listens on right now, never handed out twice by this process. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.on('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
      });
    });
    if (port !== 0 && !handedOutPorts.has(port)) {
      handedOutPorts.add(port);
      return port;
    }
  }
}

/** Raft timing flags; the defaults of gonode (heartbeat 300, election 300, lease 150, commit 20 ms). */
export interface GoNodeTuning {
  heartbeatTimeoutMs?: number;
  electionTimeoutMs?: number;
  leaderLeaseTimeoutMs?: number;
  commitTimeoutMs?: number;
  snapshotIntervalMs?: number;
  snapshotThreshold?: number;
  trailingLogs?: number;
}

export interface ServerNodeOptions extends GoNodeTuning {
  id: string;
  /** Initial voters, bootstrapped when the node has no state; omit for a node that waits to be joined. */
  peers?: { id: string; address: string }[];
}

const TUNING_FLAGS: Record<keyof GoNodeTuning, string> = {
  heartbeatTimeoutMs: '-heartbeat-timeout',
  electionTimeoutMs: '-election-timeout',
  leaderLeaseTimeoutMs: '-leader-lease-timeout',
  commitTimeoutMs: '-commit-timeout',
  snapshotIntervalMs: '-snapshot-interval',
  snapshotThreshold: '-snapshot-threshold',
  trailingLogs: '-trailing-logs',
};

const LOG_LINES_KEPT = 400;
const liveNodes = new Set<ServerNode>();
/** Every node created since the last cleanup, running or not: whose logs a failed test shows. */
const createdNodes = new Set<ServerNode>();
const tempDirs = new Set<string>();

/**
 * One KV server process (a Go peer or a raftkit node): fixed ports and data dir, so it can be
 * stopped and started again as the same server.
 */
export abstract class ServerNode {
  readonly client: KvHttpClient;
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> = Promise.resolve(null);
  private readonly logLines: string[] = [];

  constructor(
    readonly options: ServerNodeOptions,
    readonly raftAddress: string,
    readonly httpAddress: string,
    readonly dataDir: string,
  ) {
    this.client = new KvHttpClient(`http://${httpAddress}`);
  }

  get id(): string {
    return this.options.id;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** The process ID while running (benchmarks read its CPU and memory from /proc). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The last lines the node wrote to stderr, across restarts. */
  get logs(): string {
    return this.logLines.join('\n');
  }

  /** The program and arguments that run this server. */
  protected abstract command(): { file: string; args: string[] };

  /** Whether a started server is ready for clients: the KV contract's GET /status answers. */
  protected async isReady(): Promise<boolean> {
    return (await this.client.request('GET', '/status')).status === 200;
  }

  /** Spawns the node and resolves once its HTTP API answers (within `timeoutMs`). */
  async start(timeoutMs = 15_000): Promise<void> {
    if (this.child) throw new Error(`${this.id} is already running`);
    const { file, args } = this.command();
    if (!existsSync(file))
      throw new Error(`${file} is missing (Go peer: run \`sh ${INSTALL_SCRIPT}\`; raftkit: npm run build)`);
    const child = spawn(file, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    this.child = child;
    liveNodes.add(this);
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.logLines.push(`[harness] ${this.id} exited (code ${code}, signal ${signal})`);
        if (this.child === child) this.child = undefined;
        liveNodes.delete(this);
        resolve(code);
      });
      child.on('error', (error) => {
        this.logLines.push(`[harness] ${this.id} failed to spawn: ${error.message}`);
        if (this.child === child) this.child = undefined;
        liveNodes.delete(this);
        resolve(null);
      });
    });
    this.captureStderr(child);
    await waitFor(
      async () => {
        if (this.child !== child) throw new Error(`${this.id} exited during startup:\n${this.logs}`);
        return await this.isReady();
      },
      { timeoutMs, what: `${this.id} to answer on ${this.httpAddress}` },
    ).catch(async (error: unknown) => {
      await this.kill();
      throw error;
    });
  }

  /** SIGTERM, then waits for the exit; resolves to the exit code (0 is a clean shutdown). */
  async stop(timeoutMs = 10_000): Promise<number | null> {
    const child = this.child;
    if (!child) return null;
    child.kill('SIGTERM');
    // Unref'd: a long allowance must not keep the process alive once the node has stopped.
    const timedOut = sleep(timeoutMs, 'timeout' as const, { ref: false });
    if ((await Promise.race([this.exited, timedOut])) === 'timeout') {
      await this.kill();
      throw new Error(`${this.id} ignored SIGTERM for ${timeoutMs} ms:\n${this.logs}`);
    }
    return this.exited;
  }

  /** SIGKILL: a crash, nothing flushed beyond what the node already synced. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGKILL');
    await this.exited;
  }

  private captureStderr(child: ChildProcess): void {
    let partial = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      this.logLines.push(...lines);
      if (this.logLines.length > LOG_LINES_KEPT)
        this.logLines.splice(0, this.logLines.length - LOG_LINES_KEPT);
    });
  }
}

/** A Go hashicorp/raft 1.1.2 peer (test/interop/gonode). */
export class GoNode extends ServerNode {
  protected command(): { file: string; args: string[] } {
    return { file: GONODE_BIN, args: this.args() };
  }

  private args(): string[] {
    const args = [
      '-id',
      this.id,
      '-raft-addr',
      this.raftAddress,
      '-http-addr',
      this.httpAddress,
      '-data-dir',
      this.dataDir,
      '-log-level',
      process.env.GONODE_LOG_LEVEL ?? 'INFO',
      '-exit-on-stdin-eof',
    ];
    if (this.options.peers?.length) {
      args.push('-peers', this.options.peers.map((peer) => `${peer.id}=${peer.address}`).join(','));
    }
    for (const [option, flag] of Object.entries(TUNING_FLAGS) as [keyof GoNodeTuning, string][]) {
      const value = this.options[option];
      if (value !== undefined) args.push(flag, String(value));
    }
    return args;
  }
}

/** Allocates ports and a temp data dir for a node without starting it. */
export async function createGoNode(options: ServerNodeOptions): Promise<GoNode> {
  return createNode(options, 'gonode', (...args) => new GoNode(...args));
}

/** Allocates two free loopback ports and a temp data dir, then builds the node. */
export async function createNode<N extends ServerNode>(
  options: ServerNodeOptions,
  prefix: string,
  make: (options: ServerNodeOptions, raftAddress: string, httpAddress: string, dataDir: string) => N,
): Promise<N> {
  const dataDir = await mkdtemp(join(tmpdir(), `${prefix}-${options.id}-`));
  tempDirs.add(dataDir);
  const raftAddress = `127.0.0.1:${await freePort()}`;
  const httpAddress = `127.0.0.1:${await freePort()}`;
  const node = make(options, raftAddress, httpAddress, dataDir);
  createdNodes.add(node);
  return node;
}

/** Starts `size` Go voters n1..n<size> that bootstrap one cluster together. */
export async function startGoCluster(size: number, tuning: GoNodeTuning = {}): Promise<GoNode[]> {
  const ids = Array.from({ length: size }, (_, i) => `n${i + 1}`);
  const nodes = await Promise.all(ids.map((id) => createGoNode({ id, ...tuning })));
  const peers = nodes.map((node) => ({ id: node.id, address: node.raftAddress }));
  for (const node of nodes) node.options.peers = peers;
  await Promise.all(nodes.map((node) => node.start()));
  return nodes;
}

/**
 * Waits until the running nodes agree on one leader in one term (later than `afterTerm`, if
 * given), and returns it. Agreement, not just one node saying "Leader", keeps a test from
 * writing to a deposed leader; `afterTerm` skips a leader that is about to step down.
 */
export async function waitForLeader<N extends ServerNode>(
  nodes: N[],
  { timeoutMs = 15_000, afterTerm = 0 }: { timeoutMs?: number; afterTerm?: number } = {},
): Promise<N> {
  return waitFor(
    async () => {
      const running = nodes.filter((node) => node.running);
      const statuses = await Promise.all(running.map((node) => node.client.status()));
      const leaders = statuses.filter((status) => status.state === 'Leader' && status.term > afterTerm);
      if (leaders.length !== 1) return undefined;
      const [leader] = leaders;
      const agreed = statuses.every((s) => s.leader.id === leader.id && s.term === leader.term);
      return agreed ? running.find((node) => node.id === leader.id) : undefined;
    },
    { timeoutMs, what: afterTerm > 0 ? `one agreed leader after term ${afterTerm}` : 'one agreed leader' },
  );
}

/** Waits until every running node holds the same map, and returns it. */
export async function waitForSameState(
  nodes: ServerNode[],
  timeoutMs = 10_000,
): Promise<Record<string, string>> {
  return waitFor(
    async () => {
      const dumps = await Promise.all(nodes.filter((n) => n.running).map((node) => node.client.dump()));
      const [first] = dumps.map((dump) => JSON.stringify(dump));
      return dumps.every((dump) => JSON.stringify(dump) === first) ? dumps[0] : undefined;
    },
    { timeoutMs, what: 'all nodes to hold the same KV state' },
  );
}

/** The stderr of every node created since the last cleanup. */
export function goNodeLogs(): string {
  return [...createdNodes]
    .map((node) => `----- ${node.id} (${node.httpAddress}) -----\n${node.logs}`)
    .join('\n');
}

/**
 * Kills every child still running and removes every temp dir; call it in afterEach.
 * With `printLogs` (a failed test) the nodes' stderr goes to the console first.
 */
export async function cleanupGoNodes({ printLogs = false }: { printLogs?: boolean } = {}): Promise<void> {
  if (printLogs && createdNodes.size > 0) console.error(goNodeLogs());
  createdNodes.clear();
  await Promise.all([...liveNodes].map((node) => node.kill()));
  const dirs = [...tempDirs];
  tempDirs.clear();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
}

// A worker that exits without running its hooks still takes its children along (kill() signals
// synchronously; its await never matters here).
process.on('exit', () => {
  for (const node of liveNodes) void node.kill();
});
