/**
 * The bounds of the KV API's HTTP server (src/kv/http/server.ts, io.ts): a body that crosses the
 * limit is refused the moment it does, chunked or not; open connections are capped; a client
 * that sends its headers or its body too slowly is cut off; the server keeps serving throughout.
 */
import { connect, type Server, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/raft/logger.js';
import { ManualClock } from '../../transport/helpers.js';
import { useKvApi } from './api-harness.js';

const api = useKvApi();

/** A raw connection to the server, collecting everything it sends back. */
async function open(
  base: string,
): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const url = new URL(base);
  const socket = connect(Number(url.port), url.hostname);
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => text, closed };
}

/** Polls until `condition` holds; fails with `what` after `ms`. */
async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('the body limit', () => {
  it('answers 413 as soon as a chunked upload crosses the limit, before the upload ends', async () => {
    await api.restart({ maxBodyBytes: 1000 });
    const { socket, received, closed } = await open(api.base);
    const chunk = Buffer.alloc(600, 'x');
    const frame = (bytes: Buffer) => `${bytes.length.toString(16)}\r\n${bytes.toString('latin1')}\r\n`;
    socket.write('PUT /kv/a HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n');
    socket.write(frame(chunk));
    socket.write(frame(chunk)); // 1200 bytes: over the limit; the upload never ends
    await until(() => received().includes('\r\n\r\n'), 'the 413');
    expect(received()).toMatch(/^HTTP\/1\.1 413 /);
    expect(received().toLowerCase()).toContain('connection: close');
    await closed;
    expect(api.cluster.applyCalls).toBe(0);
    expect((await api.req('GET', '/status')).status).toBe(200);
  });

  it('refuses a declared Content-Length over the limit before reading the body', async () => {
    await api.restart({ maxBodyBytes: 1000 });
    const { socket, received } = await open(api.base);
    socket.write('PUT /kv/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 536870912\r\n\r\n');
    await until(() => received().includes('\r\n\r\n'), 'the 413');
    expect(received()).toMatch(/^HTTP\/1\.1 413 /);
    socket.destroy();
  });
});

describe('connections and timeouts', () => {
  it('closes connections beyond the cap as they arrive, and serves again once they go', async () => {
    await api.restart({ limits: { maxConnections: 2 } });
    const held = [await open(api.base), await open(api.base)];
    const third = await open(api.base);
    await third.closed;
    expect(third.received()).toBe('');
    for (const connection of held) connection.socket.destroy();
    await Promise.all(held.map((connection) => connection.closed));
    // The server learns of the closed connections on its own schedule: ask until it answers.
    let status = 0;
    for (let attempt = 0; attempt < 100 && status !== 200; attempt++) {
      status = (await api.req('GET', '/status').catch(() => ({ status: 0 }))).status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(status).toBe(200);
  });

  it('cuts off a client that does not finish its headers in time (408)', async () => {
    await api.restart({ limits: { headersTimeout: 300, requestTimeout: 1000 } });
    const { socket, received, closed } = await open(api.base);
    socket.write('GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n'); // and never the blank line
    await closed;
    expect(received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('cuts off a client that does not finish its body in time (408)', async () => {
    await api.restart({ limits: { headersTimeout: 300, requestTimeout: 600 } });
    const { socket, received, closed } = await open(api.base);
    socket.write('PUT /kv/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\nabc');
    await closed;
    expect(received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(api.cluster.applyCalls).toBe(0);
  });

  it('refuses a request head over the header limit (431)', async () => {
    await api.restart({ limits: { maxHeaderBytes: 1024 } });
    const res = await api.req('GET', '/status', undefined, { 'X-Padding': 'x'.repeat(2048) });
    expect(res.status).toBe(431);
  });
});

describe('out of file descriptors', () => {
  it('pauses accepting when accept fails with EMFILE and listens again after 5 ms, doubling, on the same port', async () => {
    const clock = new ManualClock();
    const warnings: Record<string, unknown>[] = [];
    await api.restart({ clock, logger: { ...silentLogger, warn: (obj) => warnings.push(obj as never) } });
    const listener = (api.server as unknown as { server: Server }).server;
    const emfile = Object.assign(new Error('accept EMFILE'), {
      code: 'EMFILE',
      errno: -24,
      syscall: 'accept',
    });
    for (const delay of [5, 10, 20]) {
      // node:net would throw this from emit() without an 'error' listener: the process would die.
      listener.emit('error', emfile);
      expect(listener.listening).toBe(false);
      clock.advance(delay - 1);
      expect(listener.listening).toBe(false);
      clock.advance(1);
      await until(() => listener.listening, 'listening again');
    }
    expect(warnings.map((warning) => warning.retryInMs)).toEqual([5, 10, 20]);
    expect((await api.req('GET', '/status')).status).toBe(200);
    // A connection accepted since starts the back-off over.
    listener.emit('error', emfile);
    expect(warnings.at(-1)!.retryInMs).toBe(5);
  });
});
