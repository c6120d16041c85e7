/**
 * Three real `kv serve` servers in this process (real Raft, WAL, file snapshots, loopback TCP) for
 * the KV v2 cluster tests, with the demo's partition switch on, and ways to stop ("kill": no
 * goodbye to the peers) and restart a server on its data directory.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKvServer, type KvServer } from '../../../src/cli/serve.js';
import { parseServeArgs } from '../../../src/cli/serve-args.js';
import { kvRequest, type KvResponse } from '../../../src/cli/service-client.js';
import { RaftState } from '../../../src/core/types.js';
import { silentLogger } from '../../../src/raft/logger.js';
import { freePorts, waitFor } from '../../kit/helpers.js';
import { rawRequest, type RawResponse } from '../../support/raw-request.js';

interface Spec {
  id: string;
  raft: string;
  http: string;
  dir: string;
}

/**
 * Quick elections, but not so quick that three servers sharing one busy event loop (with the test's
 * clients in it) lose leadership while nothing is wrong.
 */
const TIMING = { heartbeatTimeout: 200, electionTimeout: 600, leaderLeaseTimeout: 200 };

export class InProcessCluster {
  /** The running servers by ID (a killed one is absent until restarted). */
  readonly servers = new Map<string, KvServer>();

  private constructor(
    private readonly specs: Spec[],
    private readonly extraArgs: string[],
  ) {}

  static async start(extraArgs: string[] = []): Promise<InProcessCluster> {
    const root = mkdtempSync(join(tmpdir(), 'raftkit-kv-v2-'));
    const ports = await freePorts(6);
    const specs = ['n1', 'n2', 'n3'].map((id, i) => ({
      id,
      raft: `127.0.0.1:${ports[i]}`,
      http: `127.0.0.1:${ports[i + 3]}`,
      dir: join(root, id),
    }));
    const cluster = new InProcessCluster(specs, extraArgs);
    const peers = ['--peers', specs.map((spec) => `${spec.id}=${spec.raft}`).join(',')];
    await Promise.all(specs.map((spec) => cluster.startServer(spec, peers)));
    return cluster;
  }

  get list(): KvServer[] {
    return [...this.servers.values()];
  }

  /**
   * The leader among `among` (default: every running server) once it has published its HTTP
   * address and each of them knows it.
   */
  async leader(ms = 10_000, among?: KvServer[]): Promise<KvServer> {
    const list = () => among ?? this.list;
    const leader = await waitFor(
      () =>
        list().find(
          (server) =>
            server.raft.state === RaftState.Leader && server.fsm.httpAddress(server.id) === server.httpUrl,
        ),
      ms,
      'a leader with its HTTP address published',
    );
    await waitFor(
      () => list().every((server) => server.fsm.httpAddress(leader.id) === leader.httpUrl),
      ms,
      'every server to learn the leader HTTP address',
    );
    return leader;
  }

  followers(leader: KvServer): KvServer[] {
    return this.list.filter((server) => server !== leader);
  }

  /** Stops a server without telling anyone (its peers see it go silent). */
  async kill(id: string): Promise<void> {
    const server = this.servers.get(id)!;
    this.servers.delete(id);
    await server.close();
  }

  async restart(id: string): Promise<KvServer> {
    return this.startServer(
      this.specs.find((spec) => spec.id === id)!,
      [],
    );
  }

  /** Cuts `id` off from the others, both ways (the demo's switch); heal() undoes it. */
  async isolate(id: string): Promise<void> {
    const others = this.specs.map((spec) => spec.id).filter((other) => other !== id);
    await this.debugIsolate(id, { peers: others });
    for (const other of others) await this.debugIsolate(other, { peers: [id] });
  }

  async heal(): Promise<void> {
    for (const spec of this.specs) await this.debugIsolate(spec.id, { heal: true });
  }

  /** One request to one server, exactly as given. */
  call(server: KvServer, method: string, path: string, body?: string | Buffer): Promise<RawResponse> {
    // A string body is JSON (the cluster, debug, lock and lease routes need the type); a Buffer is raw.
    const headers: Record<string, string> =
      typeof body === 'string' ? { 'Content-Type': 'application/json' } : {};
    return rawRequest(server.httpUrl, method, path, { body, headers });
  }

  /** A request through any running server, following redirects to the leader and riding out elections. */
  request(method: string, path: string, body?: string): Promise<KvResponse> {
    const bases = this.list.map((server) => server.httpUrl);
    return kvRequest(bases[Math.floor(Math.random() * bases.length)], method, path, {
      body,
      timeout: 10_000,
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.list.map((server) => server.close()));
    this.servers.clear();
  }

  private async debugIsolate(id: string, body: object): Promise<void> {
    const server = this.servers.get(id);
    if (server === undefined) return;
    const res = await this.call(server, 'POST', '/debug/isolate', JSON.stringify(body));
    if (res.status !== 200) throw new Error(`isolate ${id}: ${res.status} ${res.text}`);
  }

  private async startServer(spec: Spec, extra: string[]): Promise<KvServer> {
    const args = parseServeArgs([
      ...['--id', spec.id, '--raft-addr', spec.raft, '--http-addr', spec.http, '--data-dir', spec.dir],
      '--debug-routes',
      ...this.extraArgs,
      ...extra,
    ]);
    const server = await startKvServer(args, { logger: silentLogger, config: TIMING });
    this.servers.set(spec.id, server);
    return server;
  }
}
