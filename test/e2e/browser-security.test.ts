/**
 * End to end in headless Chromium: a page of another origin cannot write to the KV API or drive
 * the demo's dashboard (which holds the API token), a DNS-rebinding name is refused, and the
 * dashboard still works with the API's authentication on. Runs `raftkit demo` (its nodes require
 * a token) and a token-less loopback `raftkit kv serve` (a developer's server) as processes.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../kit/helpers.js';
import { consecutiveFreePorts, serving, useCliProcesses, type Run } from '../support/cli-process.js';
import { rawRequest } from '../support/raw-request.js';
import { waitFor } from '../support/wait.js';

const CHROMIUM = '/usr/bin/chromium';
const cli = useCliProcesses({ keep: 'file' });

/** The attacker's page: it fires what a page may send anywhere, and records what it could read. */
const EVIL_PAGE = `<!doctype html><title>evil</title><script>
  window.attack = async (dashboard, api) => {
    const outcomes = {};
    const attempt = async (name, url, init) => {
      try {
        const res = await fetch(url, init);
        outcomes[name] = res.type === 'opaque' ? 'opaque' : await res.text();
      } catch (error) {
        outcomes[name] = 'blocked: ' + error.message;
      }
    };
    const join = JSON.stringify({ id: 'evil', address: '127.0.0.1:1', http: '127.0.0.1:2' });
    await attempt('stop', dashboard + '/api/nodes/n1/stop', { method: 'POST', mode: 'no-cors' });
    await attempt('transfer', dashboard + '/api/transfer', { method: 'POST', mode: 'no-cors', body: '{}' });
    await attempt('dashboardPut', dashboard + '/api/kv/stolen', { method: 'PUT', body: 'x' });
    await attempt('join', api + '/cluster/join', {
      method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: join,
    });
    await attempt('put', api + '/kv/stolen', { method: 'PUT', body: 'x' });
    await attempt('read', api + '/kv/secret', {});
    return outcomes;
  };
</script>`;

describe.skipIf(!existsSync(CHROMIUM))('browser safety', () => {
  let context: BrowserContext;
  let page: Page;
  let demo: Run;
  let api: Run;
  let evil: Server;
  let dashboard: string;
  let apiUrl: string;
  let apiToken: string;
  let ports: number[];

  beforeAll(async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'raftkit-e2e-security-'));
    ports = await freePorts(10);
    const [dashboardPort, apiRaft, apiHttp, evilPort] = ports;
    // The demo numbers its nodes from base ports: three consecutive free ones each.
    const raftBase = await consecutiveFreePorts(3, ports);
    const httpBase = await consecutiveFreePorts(3, [...ports, raftBase, raftBase + 1, raftBase + 2]);
    dashboard = `http://127.0.0.1:${dashboardPort}`;
    demo = cli([
      ...['demo', '--port', String(dashboardPort), '--raft-port', String(raftBase)],
      ...['--http-port', String(httpBase), '--data-dir', join(cwd, 'data')],
    ]);
    apiUrl = `http://127.0.0.1:${apiHttp}`;
    api = cli([
      ...[
        'kv',
        'serve',
        '--id',
        'dev',
        '--raft-addr',
        `127.0.0.1:${apiRaft}`,
        '--http-addr',
        `127.0.0.1:${apiHttp}`,
      ],
      ...['--data-dir', join(cwd, 'dev'), '--peers', `dev=127.0.0.1:${apiRaft}`],
    ]);
    evil = createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end(EVIL_PAGE));
    await new Promise<void>((resolve) => evil.listen(evilPort, '127.0.0.1', resolve));
    await serving(api);
    await waitFor(() => demo.stdout().includes('dashboard at'), 15_000, 'the demo');
    apiToken = readFileSync(join(cwd, 'data', 'api-token'), 'utf8').trim();
    context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'raftkit-chromium-')), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        // The attacker's names: evil.test serves its page, rebind.test is a DNS-rebinding name.
        '--host-resolver-rules=MAP evil.test 127.0.0.1, MAP rebind.test 127.0.0.1',
      ],
    });
    page = context.pages()[0] ?? (await context.newPage());
  });

  afterAll(async () => {
    await context?.close().catch(() => {});
    evil?.close();
    if (demo?.child.exitCode === null) {
      demo.child.kill('SIGINT');
      await Promise.race([demo.exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    }
  });

  const leaderKnown = async () => {
    const view = (await (await fetch(`${dashboard}/api/cluster`)).json()) as { leader: string | null };
    return view.leader !== null;
  };

  it('the dashboard works with the API token required', async () => {
    await waitFor(leaderKnown, 20_000, 'a leader on the dashboard');
    // The nodes refuse requests without the token the demo gave them...
    const node = `http://127.0.0.1:${await demoNodePort()}`;
    expect((await rawRequest(node, 'GET', '/status')).status).toBe(401);
    expect(
      (await rawRequest(node, 'GET', '/status', { headers: { Authorization: `Bearer ${apiToken}` } })).status,
    ).toBe(200);
    // ...and the page, which never sees the token, reads and writes through the dashboard.
    await page.goto(dashboard);
    await page.getByTestId('kv-key').fill('greeting');
    await page.getByTestId('kv-value').fill('hello with auth');
    await page.getByTestId('kv-put').click();
    await page.locator('#kv-result[data-ok="true"]').waitFor({ timeout: 10_000 });
    await page.getByTestId('kv-value').fill('');
    await page.getByTestId('kv-get').click();
    await expect
      .poll(() => page.getByTestId('kv-result').textContent(), { timeout: 10_000 })
      .toBe('hello with auth');
  });

  it('a page of another origin cannot write to the API nor drive the dashboard', async () => {
    await rawRequest(apiUrl, 'PUT', '/kv/secret', { body: 'do not read' });
    await page.goto(`http://evil.test:${ports[3]}/`);
    const outcomes = (await page.evaluate(
      ([d, a]) =>
        (globalThis as unknown as { attack: (d: string, a: string) => Promise<unknown> }).attack(d, a),
      [dashboard, apiUrl],
    )) as Record<string, string>;
    // Cross-origin PUTs need a CORS preflight nobody answers; reads cannot be read.
    expect(outcomes.dashboardPut).toMatch(/^blocked/);
    expect(outcomes.put).toMatch(/^blocked/);
    expect(outcomes.read).toMatch(/^blocked/);
    // Simple POSTs do reach the servers (the page cannot see the answer): they must refuse them.
    await waitFor(
      () => api.stdout().includes('"audit":"cluster_join"'),
      10_000,
      'the join attempt in the audit log',
    );
    const joinAudit = api
      .stdout()
      .split('\n')
      .find((line) => line.includes('"audit":"cluster_join"'))!;
    expect(JSON.parse(joinAudit)).toMatchObject({ status: 403, role: 'anonymous' });
    const status = (await (await fetch(`${apiUrl}/status`)).json()) as { configuration: { id: string }[] };
    expect(status.configuration.map((member) => member.id)).toEqual(['dev']);
    const view = (await (await fetch(`${dashboard}/api/cluster`)).json()) as {
      nodes: { id: string; running: boolean }[];
    };
    expect(view.nodes.find((node) => node.id === 'n1')!.running).toBe(true);
    expect((await fetch(`${dashboard}/api/kv/stolen`)).status).toBe(404);
    expect((await fetch(`${apiUrl}/kv/stolen`)).status).toBe(404);
  });

  it('refuses a DNS-rebinding name, on the API and on the dashboard', async () => {
    for (const url of [
      `http://rebind.test:${new URL(apiUrl).port}/kv/secret`,
      `http://rebind.test:${ports[0]}/`,
    ]) {
      const response = await page.goto(url);
      expect(response?.status(), url).toBe(403);
      expect(await page.content()).not.toContain('do not read');
    }
  });

  /** The HTTP port of the demo's n1 (from the dashboard's view). */
  async function demoNodePort(): Promise<string> {
    const view = (await (await fetch(`${dashboard}/api/cluster`)).json()) as {
      nodes: { id: string; http: string }[];
    };
    return new URL(view.nodes.find((node) => node.id === 'n1')!.http).port;
  }
});
