/**
 * The demo's dashboard server (src/cli/demo.ts) over in-process KV servers: the page, the cluster
 * view it aggregates from every node's /status, node controls, isolation and the key proxy.
 */
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Demo, type ClusterView } from '../../src/cli/demo.js';
import { demoNodeSpecs, type DemoNodeSpec, type NodeProcess } from '../../src/cli/node-processes.js';
import { httpAddressKey } from '../../src/kv/commands.js';
import { KvHttpServer } from '../../src/kv/http/server.js';
import { FakeSingleNodeCluster } from '../kv/fake-cluster.js';
import { rawRequest } from '../support/raw-request.js';

/** Finds `count` consecutive free ports on 127.0.0.1. */
async function freePorts(count: number): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  for (let base = 20000 + (process.pid % 2000) * 10; base < 60000; base += 10) {
    let free = true;
    for (let i = 0; i < count && free; i++) free = await tryListen(base + i);
    if (free) return base;
  }
  throw new Error('no free ports');
}

/** TEST DOUBLE: "processes" that are in-process HTTP servers over fake single-node clusters. */
class InProcessNodes {
  readonly clusters = new Map<string, FakeSingleNodeCluster>();
  private readonly servers = new Map<string, KvHttpServer>();
  private readonly listening = new Map<string, Promise<unknown>>();

  launcher = (spec: DemoNodeSpec): NodeProcess => {
    const cluster = new FakeSingleNodeCluster(spec.id, spec.raftAddr);
    this.clusters.set(spec.id, cluster);
    const port = Number(new URL(spec.httpUrl).port);
    const nodes = this.servers;
    const listening = this.listening;
    return {
      get running() {
        return nodes.has(spec.id);
      },
      lastExit: null,
      start() {
        if (nodes.has(spec.id)) return;
        cluster.isolated = null; // a fresh process forgets its partitions
        // As `kv serve --auth-token-file` would: the demo must send this token to get anywhere.
        const tokenFile = spec.serveArgs[spec.serveArgs.indexOf('--auth-token-file') + 1];
        const token = readFileSync(tokenFile, 'utf8').trim();
        const server = new KvHttpServer({
          cluster,
          fsm: cluster.fsm,
          debugRoutes: true,
          tokens: { client: token },
        });
        nodes.set(spec.id, server);
        listening.set(spec.id, server.listen(port));
      },
      async stop() {
        const server = nodes.get(spec.id);
        if (server === undefined) return;
        nodes.delete(spec.id);
        await listening.get(spec.id);
        await server.close();
      },
    };
  };

  /** Closes a node's server while its "process" keeps running, as a hung process would look. */
  async silence(id: string): Promise<void> {
    await this.listening.get(id);
    await this.servers.get(id)!.close();
  }

  /** n1 leads; the others follow it and know its HTTP address. */
  arrange(specs: DemoNodeSpec[]): void {
    const [leader, ...followers] = specs;
    for (const spec of followers) {
      const cluster = this.clusters.get(spec.id)!;
      cluster.follow(leader.id, leader.raftAddr);
      cluster.seed(httpAddressKey(leader.id), leader.httpUrl);
    }
  }
}

let demo: Demo;
let nodes: InProcessNodes;
let url: string;
let specs: DemoNodeSpec[];
let dataRoot: string;

beforeEach(async () => {
  const httpBasePort = await freePorts(3);
  nodes = new InProcessNodes();
  dataRoot = mkdtempSync(join(tmpdir(), 'raftkit-demo-'));
  const options = {
    dataRoot,
    httpBasePort,
    raftBasePort: 7001,
    dashboardPort: 0,
    launcher: nodes.launcher,
    log: () => {},
  };
  specs = demoNodeSpecs(options);
  demo = new Demo(options);
  url = await demo.start();
  nodes.arrange(specs);
});
afterEach(() => demo.stop());

const get = (path: string) => rawRequest(url, 'GET', path);
const post = (path: string, body?: string) => rawRequest(url, 'POST', path, { body });
const cluster = async () => (await get('/api/cluster')).json() as ClusterView;
const node = (view: ClusterView, id: string) => view.nodes.find((candidate) => candidate.id === id)!;

describe('demo server', () => {
  it('serves the dashboard page with the test hooks', async () => {
    const res = await get('/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    for (const testid of [
      'kv-key',
      'kv-value',
      'kv-put',
      'kv-get',
      'kv-result',
      'transfer',
      'commits-chart',
    ]) {
      expect(res.text).toContain(`data-testid="${testid}"`);
    }
  });

  it('aggregates the status of every node', async () => {
    const view = await cluster();
    expect(view.leader).toBe('n1');
    expect(view.nodes.map((n) => n.id)).toEqual(['n1', 'n2', 'n3']);
    for (const n of view.nodes) expect(n).toMatchObject({ running: true, reachable: true, isolated: false });
    expect(node(view, 'n2').status).toMatchObject({ id: 'n2', state: 'Follower', leader: { id: 'n1' } });
    expect(view.leases).toEqual([]);
    expect(view.locks).toEqual([]);
  });

  it("carries the leader's leases and locks, and each node's counts", async () => {
    const leader = nodes.clusters.get('n1')!;
    const base = (await cluster()).nodes[0].http;
    // The nodes check the demo's token, as kv serve --auth-token-file does.
    const headers = {
      Authorization: `Bearer ${readFileSync(join(dataRoot, 'api-token'), 'utf8').trim()}`,
      'Content-Type': 'application/json',
    };
    expect((await rawRequest(base, 'POST', '/leases', { body: '{"ttl":60}', headers })).status).toBe(200);
    expect((await rawRequest(base, 'POST', '/locks/job', { body: '{"ttl":60}', headers })).status).toBe(200);
    // The demo polls its nodes at most every 100 ms: wait (in real time) for a view taken after the posts.
    let view = await cluster();
    for (let i = 0; i < 50 && (view.locks?.length ?? 0) === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      view = await cluster();
    }
    expect(view.leases?.map((lease) => lease.ttl)).toEqual([60, 60]);
    expect(view.locks).toEqual([{ name: 'job', token: 2, lease: '2', waiters: 0 }]);
    expect(node(view, 'n1').status).toMatchObject({ leases: 2, locks: 1, watchers: 0 });
    expect(leader.fsm.leaseCount).toBe(2);
  });

  it('stops and starts a node', async () => {
    expect((await post('/api/nodes/n2/stop')).status).toBe(200);
    let view = await cluster();
    expect(node(view, 'n2')).toMatchObject({ running: false, reachable: false, status: null });
    expect((await post('/api/nodes/n2/start')).status).toBe(200);
    for (let i = 0; i < 50 && !node(view, 'n2').reachable; i++) view = await cluster();
    expect(node(view, 'n2')).toMatchObject({ running: true, reachable: true });
  });

  it('reports a running node that does not answer as unreachable', async () => {
    await nodes.silence('n3');
    const n3 = node(await cluster(), 'n3');
    expect(n3).toMatchObject({ running: true, reachable: false, status: null });
    expect(n3.error).toBeTruthy();
  });

  it('isolates a node from everyone, symmetrically, and heals it', async () => {
    const res = await post('/api/nodes/n1/isolate');
    expect(res.status).toBe(200);
    expect(nodes.clusters.get('n1')!.isolated).toEqual(['n2', 'n3']);
    expect(nodes.clusters.get('n2')!.isolated).toEqual(['n1']);
    expect(nodes.clusters.get('n3')!.isolated).toEqual(['n1']);
    expect(node(await cluster(), 'n1').isolated).toBe(true);
    await post('/api/nodes/n1/heal');
    for (const id of ['n1', 'n2', 'n3']) expect(nodes.clusters.get(id)!.isolated).toBeNull();
  });

  it('re-applies isolation to a node that restarts', async () => {
    await post('/api/nodes/n2/isolate');
    await post('/api/nodes/n2/stop');
    await post('/api/nodes/n2/start');
    expect(nodes.clusters.get('n2')!.isolated).toBeNull();
    for (let i = 0; i < 50 && nodes.clusters.get('n2')!.isolated === null; i++) await cluster();
    expect(nodes.clusters.get('n2')!.isolated).toEqual(['n1', 'n3']);
  });

  it('proxies key reads and writes to the leader', async () => {
    const put = await rawRequest(url, 'PUT', '/api/kv/hello%2Fworld', { body: 'v1' });
    expect(put.status).toBe(200);
    expect(put.json()).toEqual({ index: 1, revision: 1 });
    expect(Buffer.from(nodes.clusters.get('n1')!.fsm.get('hello/world')!).toString()).toBe('v1');
    expect((await get('/api/kv/hello%2Fworld')).text).toBe('v1');
    expect((await get('/api/kv/missing')).status).toBe(404);
    expect((await rawRequest(url, 'PUT', '/api/kv/hello%2Fworld?prev=nope', { body: 'v2' })).status).toBe(
      412,
    );
    expect((await rawRequest(url, 'DELETE', '/api/kv/hello%2Fworld')).status).toBe(200);
  });

  it('passes the service errors through', async () => {
    const res = await rawRequest(url, 'PUT', '/api/kv/_raftkit/x', { body: 'v' });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/json');
  });

  it('transfers leadership through the leader', async () => {
    expect((await post('/api/transfer', '{"id":"n3"}')).status).toBe(200);
    expect((await post('/api/transfer')).status).toBe(200);
    expect(nodes.clusters.get('n1')!.calls).toEqual(['leadershipTransfer n3', 'leadershipTransfer *']);
  });

  it('answers 503 when no node is reachable', async () => {
    for (const id of ['n1', 'n2', 'n3']) await post(`/api/nodes/${id}/stop`);
    expect((await get('/api/kv/a')).status).toBe(503);
  });

  it('answers 404 for unknown nodes and routes', async () => {
    expect((await post('/api/nodes/n9/stop')).status).toBe(404);
    expect((await post('/api/nodes/n1/explode')).status).toBe(404);
    expect((await get('/nope')).status).toBe(404);
  });
});

describe('the demo and its API token', () => {
  it('makes a token file only its owner can read, and keeps it across restarts', async () => {
    const file = join(dataRoot, 'api-token');
    const token = readFileSync(file, 'utf8').trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    await demo.stop();
    demo = new Demo({ dataRoot, httpBasePort: 1, dashboardPort: 0, launcher: nodes.launcher, log: () => {} });
    await demo.start();
    expect(readFileSync(file, 'utf8').trim()).toBe(token);
  });
});

describe('the dashboard refuses other sites', () => {
  it('refuses a state-changing request that a page of another origin sent', async () => {
    const res = await rawRequest(url, 'POST', '/api/nodes/n1/stop', {
      headers: { Origin: 'http://evil.example' },
    });
    expect(res.status).toBe(403);
    expect(node(await cluster(), 'n1').running).toBe(true);
    const put = await rawRequest(url, 'PUT', '/api/kv/x', { body: 'v', headers: { Origin: 'null' } });
    expect(put.status).toBe(403);
    expect(nodes.clusters.get('n1')!.fsm.get('x')).toBeUndefined();
  });

  it('accepts its own page (same origin)', async () => {
    const res = await rawRequest(url, 'PUT', '/api/kv/x', { body: 'v', headers: { Origin: url } });
    expect(res.status).toBe(200);
  });

  it('refuses a Host that is not this machine (DNS rebinding), reads included', async () => {
    const port = new URL(url).port;
    for (const path of ['/', '/api/cluster', '/api/kv/x']) {
      const res = await rawRequest(url, 'GET', path, { headers: { Host: `rebind.example:${port}` } });
      expect(res.status).toBe(403);
    }
    expect((await rawRequest(url, 'GET', '/', { headers: { Host: `localhost:${port}` } })).status).toBe(200);
  });
});

describe('demo start-up', () => {
  it('says so when the dashboard port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    const launcher = new InProcessNodes().launcher;
    const blocked = new Demo({ dashboardPort: port, httpBasePort: 1, launcher, log: () => {} });
    await expect(blocked.start()).rejects.toThrow(`dashboard port 127.0.0.1:${port} is already in use`);
    await new Promise((resolve) => taken.close(resolve));
  });
});
