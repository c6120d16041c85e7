/**
 * The KV API over HTTPS (KvHttpServer's `tls`): server certificates, required client certificates
 * with a CA, certificate rotation, and the project's client (src/cli/service-client.ts) on it.
 */
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { kvRequest, ServiceUnreachable, type ClientCredentials } from '../../../src/cli/service-client.js';
import { httpAddressKey } from '../../../src/kv/commands.js';
import { loadHttpsCredentials, type HttpsCredentials } from '../../../src/kv/credentials.js';
import { KvHttpServer } from '../../../src/kv/http/server.js';
import { hasOpenssl, makeTestPki } from '../../transport/certs.js';
import { FakeSingleNodeCluster } from '../fake-cluster.js';

describe.skipIf(!hasOpenssl())('HTTPS', () => {
  const pki = makeTestPki();
  const pem = (name: string) => join(pki.dir, name);
  const credentials = (leaf: string, ca?: string): HttpsCredentials =>
    loadHttpsCredentials(
      { cert: pem(`${leaf}.crt`), key: pem(`${leaf}.key`), ca: ca && pem(ca) },
      Date.now(),
    );
  const servers: KvHttpServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });
  afterAll(() => pki.cleanup());

  async function serve(tls: HttpsCredentials, cluster = new FakeSingleNodeCluster()): Promise<string> {
    const server = new KvHttpServer({ cluster, fsm: cluster.fsm, tls });
    servers.push(server);
    return server.listen(0);
  }

  const trusted: ClientCredentials = { ca: pki.node.ca };
  const status = (base: string, client: ClientCredentials) =>
    kvRequest(base, 'GET', '/status', { credentials: client }).then((res) => res.status);

  it('serves https:// with its certificate, and nothing over plain http', async () => {
    const base = await serve(credentials('node'));
    expect(base).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await status(base, trusted)).toBe(200);
    // Not trusting the private CA, the client refuses the server.
    await expect(status(base, {})).rejects.toThrow(ServiceUnreachable);
    await expect(status(base.replace('https:', 'http:'), {})).rejects.toThrow(ServiceUnreachable);
  });

  it('with a CA, serves only clients whose certificate that CA signed', async () => {
    const base = await serve(credentials('node', 'ca-a.crt'));
    await expect(status(base, trusted)).rejects.toThrow(ServiceUnreachable);
    const rogue = { ...trusted, cert: pki.rogue.cert, key: pki.rogue.key };
    await expect(status(base, rogue)).rejects.toThrow(ServiceUnreachable);
    expect(await status(base, { ...trusted, cert: pki.node.cert, key: pki.node.key })).toBe(200);
  });

  it('takes a new certificate for new connections (rotation)', async () => {
    const cluster = new FakeSingleNodeCluster();
    const server = new KvHttpServer({ cluster, fsm: cluster.fsm, tls: credentials('wrong-name') });
    servers.push(server);
    const base = await server.listen(0);
    // Its certificate names elsewhere.example, not 127.0.0.1.
    await expect(status(base, trusted)).rejects.toThrow(/does not match certificate/);
    server.setTls(credentials('node'));
    expect(await status(base, trusted)).toBe(200);
    expect(() => server.setTls(credentials('node', 'ca-a.crt'))).toThrow(/takes a restart/);
  });

  it('redirects to the https:// address the leader published, and the client follows it', async () => {
    const leader = new FakeSingleNodeCluster('n1');
    const leaderUrl = await serve(credentials('node'), leader);
    const follower = new FakeSingleNodeCluster('n2', '127.0.0.1:7002');
    follower.follow('n1', '127.0.0.1:7001');
    follower.seed(httpAddressKey('n1'), leaderUrl);
    const followerUrl = await serve(credentials('node'), follower);
    const res = await kvRequest(followerUrl, 'PUT', '/kv/a', {
      body: 'v',
      credentials: trusted,
      maxRedirects: 0,
    });
    expect(res.status).toBe(307);
    const put = await kvRequest(followerUrl, 'PUT', '/kv/a', { body: 'v', credentials: trusted });
    expect(put.status).toBe(200);
    expect(Buffer.from(leader.fsm.get('a')!).toString()).toBe('v');
  });

  it('the client refuses to follow a redirect from https:// down to http://', async () => {
    const plainLeader = new FakeSingleNodeCluster('n1');
    const plain = new KvHttpServer({ cluster: plainLeader, fsm: plainLeader.fsm });
    servers.push(plain);
    const plainUrl = await plain.listen(0);
    const follower = new FakeSingleNodeCluster('n2', '127.0.0.1:7002');
    follower.follow('n1', '127.0.0.1:7001');
    follower.seed(httpAddressKey('n1'), plainUrl);
    const followerUrl = await serve(credentials('node'), follower);
    const put = kvRequest(followerUrl, 'PUT', '/kv/a', {
      body: 'v',
      credentials: { ...trusted, token: 'a'.repeat(32) },
    });
    await expect(put).rejects.toThrow(/refusing to follow a redirect from https/);
    expect(plainLeader.applyCalls).toBe(0);
  });
});
