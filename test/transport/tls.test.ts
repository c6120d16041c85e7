import { connect as tlsConnect } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RaftRequest } from '../../src/core/types.js';
import { ErrPeerIdentity } from '../../src/transport/identity.js';
import type { NetworkTransport } from '../../src/transport/net.js';
import { newTlsTransport } from '../../src/transport/tcp.js';
import { vote112 } from '../support/forged-frames.js';
import { hasOpenssl, makeTestPki, type Pem, type TestPki } from './certs.js';
import {
  collect,
  frameOf,
  patternStream,
  rawClient,
  recordingLogger,
  snapshotRequest,
  vote,
  waitFor,
} from './helpers.js';

let pki: TestPki;
const open: NetworkTransport[] = [];

async function tlsTransport(pem: Pem, logger = recordingLogger()) {
  const t = await newTlsTransport('127.0.0.1:0', null, 2, 2000, pem, { logger });
  open.push(t);
  return t;
}

/** A TLS server whose handler answers votes and reads snapshots, recording what reached it. */
async function server() {
  const logger = recordingLogger();
  const t = await tlsTransport(pki.node, logger);
  const seen: RaftRequest[] = [];
  t.setHandler((rpc) => {
    seen.push(rpc.request);
    if (rpc.request.kind === 'requestVote') return rpc.respond({ term: rpc.request.term, granted: true });
    if (!rpc.data) return rpc.respond(null, new Error('unexpected'));
    let bytes = 0;
    rpc.data.on('data', (chunk: Buffer) => (bytes += chunk.length));
    rpc.data.on('end', () => rpc.respond({ term: 1, success: bytes === 1_000_000 }));
  });
  return { t, seen, logger, target: { id: 's', address: t.localAddr() } };
}

// openssl makes the test certificates; Debian images ship it, but a bare container may not.
describe.skipIf(!hasOpenssl())('NetworkTransport over mutual TLS', () => {
  beforeAll(() => {
    pki = makeTestPki();
  });
  afterAll(() => pki?.cleanup());
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });

  it('carries RPCs and snapshots between nodes with certificates from the shared CA', async () => {
    const { seen, target } = await server();
    const client = await tlsTransport(pki.node);
    expect(await client.requestVote(target, vote)).toEqual({ term: 4, granted: true });
    expect(
      await client.installSnapshot(target, snapshotRequest(1_000_000), patternStream(1_000_000)),
    ).toEqual({ term: 1, success: true });
    expect(seen.map((r) => r.kind)).toEqual(['requestVote', 'installSnapshot']);
  });

  it('accepts PEM file paths as well as PEM text', async () => {
    const { target } = await server();
    const files = { cert: `${pki.dir}/node.crt`, key: `${pki.dir}/node.key`, ca: `${pki.dir}/ca-a.crt` };
    const client = await tlsTransport(files as Pem);
    expect(await client.requestVote(target, vote)).toEqual({ term: 4, granted: true });
  });

  it('refuses a client whose certificate comes from another CA', async () => {
    const { seen, target, logger } = await server();
    const rogue = await tlsTransport(pki.rogue);
    await expect(rogue.requestVote(target, vote)).rejects.toThrow();
    expect(seen).toEqual([]);
    await waitFor(() => logger.records.some((r) => r.msg?.includes('tls handshake failed')));
  });

  it('refuses a client without a certificate', async () => {
    const { seen, t } = await server();
    const [host, port] = t.localAddr().split(':');
    const socket = tlsConnect({ host, port: Number(port), ca: pki.node.ca });
    const received = collect(socket as never);
    socket.on('error', () => {});
    socket.write(frameOf(vote));
    await received;
    expect(seen).toEqual([]);
  });

  it('refuses a server whose certificate does not name the dialled address', async () => {
    const wrong = await tlsTransport(pki.wrongName);
    const seen: RaftRequest[] = [];
    wrong.setHandler((rpc) => (seen.push(rpc.request), rpc.respond({ term: 1, granted: true })));
    const client = await tlsTransport(pki.node);
    await expect(client.requestVote({ id: 'w', address: wrong.localAddr() }, vote)).rejects.toThrow(
      /IP: 127\.0\.0\.1 is not in the cert's list/,
    );
    expect(seen).toEqual([]);
  });

  it('lets nothing from a plaintext client through', async () => {
    const { seen, t } = await server();
    const socket = await rawClient(t.localAddr());
    const received = collect(socket);
    socket.write(frameOf(vote));
    const bytes = await received;
    expect(seen).toEqual([]);
    // Whatever came back (a TLS alert at most) is no RPC reply: those start with a msgpack str.
    expect(bytes.length === 0 || bytes[0] === 0x15).toBe(true);
  });
  // A certificate bound to a server ID (URI SAN raftkit://server/<id>) speaks only for that server.
  describe('certificate identities', () => {
    async function identityServer(pem: Pem, options: { requirePeerIdentity?: boolean } = {}) {
      const logger = recordingLogger();
      const t = await newTlsTransport('127.0.0.1:0', null, 2, 2000, pem, { logger, ...options });
      open.push(t);
      const seen: RaftRequest[] = [];
      t.setHandler((rpc) => (seen.push(rpc.request), rpc.respond({ term: 4, granted: true })));
      return { t, seen, logger };
    }

    async function identityClient(pem: Pem, options: { requirePeerIdentity?: boolean } = {}) {
      const t = await newTlsTransport('127.0.0.1:0', null, 2, 2000, pem, options);
      open.push(t);
      return t;
    }

    /** Sends raw frames over TLS with `pem`'s certificate; resolves with what came back before the close. */
    async function rawTls(address: string, pem: Pem, frames: Uint8Array[]): Promise<Buffer> {
      const [host, port] = address.split(':');
      const socket = tlsConnect({ host, port: Number(port), ...pem });
      socket.on('error', () => {});
      const received = collect(socket as never);
      await new Promise((resolve) => socket.once('secureConnect', resolve));
      for (const frame of frames) socket.write(frame);
      setTimeout(() => socket.end(), 200);
      return received;
    }

    it("refuses a request whose sender ID is not the one in the client's certificate", async () => {
      const { t, seen, logger } = await identityServer(pki.n1);
      const n2 = await identityClient(pki.n2);
      const target = { id: 'n1', address: t.localAddr() };
      const asN3 = { ...vote, candidate: { id: 'n3', address: '127.0.0.1:7003' } };
      const refused = await n2.requestVote(target, asN3).catch((e: Error) => e);
      expect(refused).toBeInstanceOf(Error);
      expect(seen).toEqual([]);
      const record = logger.records.find(
        (r) => r.msg === 'closing connection: sender not named by its certificate',
      )!;
      expect(record.obj).toMatchObject({ error: 'ErrPeerIdentity' });
      expect(String(record.obj.reason)).toContain('server ID "n3" is not in its certificate ("n2")');
      expect(t.stats().refusedRequests).toBe(1);

      const asN2 = { ...vote, candidate: { id: 'n2', address: '127.0.0.1:7002' } };
      expect(await n2.requestVote(target, asN2)).toEqual({ term: 4, granted: true });
      expect(seen).toEqual([asN2]);
    });

    it('checks a hashicorp 1.1.2 header (no ID) by address: only on a host the certificate names', async () => {
      const { t, seen } = await identityServer(pki.n1);
      const refused = await rawTls(t.localAddr(), pki.n2, [vote112({ term: 5, candidate: '10.1.2.3:7000' })]);
      expect(refused.length).toBe(0);
      expect(seen).toEqual([]);
      const answered = await rawTls(t.localAddr(), pki.n2, [
        vote112({ term: 5, candidate: '127.0.0.1:7002' }),
      ]);
      expect(answered.length).toBeGreaterThan(0);
      expect(seen).toMatchObject([{ kind: 'requestVote', candidate: { id: '', address: '127.0.0.1:7002' } }]);
    });

    it('refuses to talk to a server whose certificate names another ID than the one dialled', async () => {
      const { t, seen } = await identityServer(pki.n1);
      const n2 = await identityClient(pki.n2);
      const asN2 = { ...vote, candidate: { id: 'n2', address: '127.0.0.1:7002' } };
      await expect(n2.requestVote({ id: 'n3', address: t.localAddr() }, asN2)).rejects.toThrow(
        ErrPeerIdentity,
      );
      await expect(n2.requestVote({ id: 'n3', address: t.localAddr() }, asN2)).rejects.toThrow(
        'dialled as "n3": server ID "n3" is not in its certificate ("n1")',
      );
      expect(seen).toEqual([]);
      expect(await n2.requestVote({ id: 'n1', address: t.localAddr() }, asN2)).toEqual({
        term: 4,
        granted: true,
      });
    });

    it('lets certificates without identities through unless requirePeerIdentity is set', async () => {
      const asN2 = { ...vote, candidate: { id: 'n2', address: '127.0.0.1:7002' } };
      const lenient = await identityServer(pki.n1);
      const plain = await identityClient(pki.node);
      expect(await plain.requestVote({ id: 'n1', address: lenient.t.localAddr() }, asN2)).toEqual({
        term: 4,
        granted: true,
      });

      const strict = await identityServer(pki.n1, { requirePeerIdentity: true });
      await expect(plain.requestVote({ id: 'n1', address: strict.t.localAddr() }, asN2)).rejects.toThrow();
      expect(strict.seen).toEqual([]);
      const record = strict.logger.records.find(
        (r) => r.msg === 'closing connection: sender not named by its certificate',
      )!;
      expect(String(record.obj.reason)).toContain('the certificate names no raftkit server ID');
      const n2 = await identityClient(pki.n2);
      expect(await n2.requestVote({ id: 'n1', address: strict.t.localAddr() }, asN2)).toEqual({
        term: 4,
        granted: true,
      });

      // Outbound too: a strict client does not talk to a server whose certificate names nobody.
      const plainServer = await identityServer(pki.node);
      const strictClient = await identityClient(pki.n2, { requirePeerIdentity: true });
      await expect(
        strictClient.requestVote({ id: 'n1', address: plainServer.t.localAddr() }, asN2),
      ).rejects.toThrow(ErrPeerIdentity);
    });
  });
});
