/**
 * An HTTP proxy in front of one KV member for the client tests, with faults that only a proxy can
 * make on a real cluster: after the member answered a write, drop the connection instead of
 * passing the answer on, or answer 504 in its place (the write was applied; the client cannot know).
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ProxyFault = 'none' | 'drop-after-answer' | 'gateway-timeout-after-answer';

export class FaultProxy {
  /** Applied to writes (anything but GET). */
  fault: ProxyFault = 'none';
  /** Writes that reached the member through the proxy. */
  writesForwarded = 0;
  url = '';
  private readonly server = createServer((req, res) => this.forward(req, res));

  /** `target()` is the member's base URL (asked per request, so a restarted member keeps working). */
  constructor(private readonly target: () => string) {}

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const write = req.method !== 'GET';
      const fault = write ? this.fault : 'none';
      if (write) this.writesForwarded++;
      const base = this.target();
      const headers = { ...req.headers, host: new URL(base).host };
      const upstream = request(
        new URL(req.url!, base),
        { method: req.method, headers, agent: false },
        (answer) => {
          const body: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => body.push(chunk));
          answer.on('end', () => {
            if (fault === 'drop-after-answer') return req.socket.destroy();
            if (fault === 'gateway-timeout-after-answer') {
              res.writeHead(504, { 'Content-Type': 'application/json' });
              return res.end(JSON.stringify({ error: 'outcome unknown: the proxy lost the answer' }));
            }
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(body));
          });
        },
      );
      upstream.on('error', () => req.socket.destroy());
      upstream.end(Buffer.concat(chunks));
    });
  }
}
