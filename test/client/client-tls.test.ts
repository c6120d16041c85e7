/**
 * raftkit/client over HTTPS: it trusts the CA it is given (and not the system's for a private
 * cluster), presents its client certificate, follows a redirect from http up to https, and never
 * follows one from https down to http.
 */
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { KvClient, ProtocolError, UnavailableError } from '../../src/client/index.js';
import { hasOpenssl, makeTestPki } from '../transport/certs.js';
import { json, ScriptedServer } from './scripted-server.js';

describe.skipIf(!hasOpenssl())('raftkit/client over HTTPS', () => {
  const pki = makeTestPki();
  const closers: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });
  afterAll(() => pki.cleanup());

  /** An https member that answers every request with `handler`; `requireClientCert` asks for a certificate signed by the CA. */
  async function httpsMember(
    handler: (url: string, res: import('node:http').ServerResponse, authorized: boolean) => void,
    requireClientCert = false,
  ): Promise<string> {
    const server: Server = createHttpsServer(
      {
        cert: pki.node.cert,
        key: pki.node.key,
        ca: pki.node.ca,
        requestCert: requireClientCert,
        rejectUnauthorized: requireClientCert,
      },
      (req, res) => handler(req.url!, res, (req.socket as import('node:tls').TLSSocket).authorized),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    });
    return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  function client(endpoints: string[], options: Partial<ConstructorParameters<typeof KvClient>[0]> = {}) {
    const made = new KvClient({ endpoints, timeout: 1500, backoffInitialMs: 1, backoffMaxMs: 5, ...options });
    closers.push(() => made.close());
    return made;
  }

  it('trusts the given CA, and refuses a server it cannot verify', async () => {
    const member = await httpsMember((_url, res) => json(res, 200, { index: 3, revision: 3 }));
    expect(await client([member], { tls: { ca: pki.node.ca } }).put('k', 'v')).toBe(3);
    await expect(client([member]).get('k')).rejects.toBeInstanceOf(UnavailableError);
  });

  it('presents its client certificate to a member that requires one', async () => {
    let served = 0;
    const member = await httpsMember((_url, res, authorized) => {
      served++;
      json(res, 200, { index: authorized ? 1 : 0, revision: 1 });
    }, true);
    const withCert = client([member], { tls: { ca: pki.node.ca, cert: pki.node.cert, key: pki.node.key } });
    expect(await withCert.put('k', 'v')).toBe(1);
    expect(served).toBe(1);
    await expect(client([member], { tls: { ca: pki.node.ca } }).get('k')).rejects.toThrow(
      /CERTIFICATE_REQUIRED|no member served/,
    );
    expect(served).toBe(1);
  });

  it('follows a redirect up to https, never one down to http', async () => {
    const secure = await httpsMember((_url, res) => json(res, 200, { index: 9, revision: 9 }));
    const plain = await new ScriptedServer((req, res) => {
      res.writeHead(307, { Location: `${secure}${req.url}` });
      res.end();
    }).start();
    closers.push(() => plain.close());
    expect(await client([plain.url], { tls: { ca: pki.node.ca } }).put('k', 'v')).toBe(9);
    const downgrading = await httpsMember((url, res) => {
      res.writeHead(307, { Location: `${plain.url}${url}` });
      res.end();
    });
    await expect(client([downgrading], { tls: { ca: pki.node.ca } }).put('k', 'v')).rejects.toBeInstanceOf(
      ProtocolError,
    );
  });
});
