/**
 * An HTTP proxy in front of one KV member for the client tests, with faults that only a proxy can
 * make on a real cluster: after the member answered a write, drop the connection instead of
 * passing the answer on, or answer 504 in its place (the write was applied; the client cannot know).
 */
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { LocalHttpServer } from './scripted-server.js';

export type ProxyFault = 'none' | 'drop-after-answer' | 'gateway-timeout-after-answer';

export class FaultProxy extends LocalHttpServer {
  /** Applied to writes (anything but GET). */
  fault: ProxyFault = 'none';
  /** Writes that reached the member through the proxy. */
  writesForwarded = 0;

  /** `target()` is the member's base URL (asked per request, so a restarted member keeps working). */
  constructor(private readonly target: () => string) {
    super();
  }

  protected handle(req: IncomingMessage, body: Buffer, res: ServerResponse): void {
    const write = req.method !== 'GET';
    const fault = write ? this.fault : 'none';
    if (write) this.writesForwarded++;
    const base = this.target();
    const headers = { ...req.headers, host: new URL(base).host };
    const upstream = request(
      new URL(req.url!, base),
      { method: req.method, headers, agent: false },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          if (fault === 'drop-after-answer') return req.socket.destroy();
          if (fault === 'gateway-timeout-after-answer') {
            res.writeHead(504, { 'Content-Type': 'application/json' });
            return res.end(JSON.stringify({ error: 'outcome unknown: the proxy lost the answer' }));
          }
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          res.end(Buffer.concat(chunks));
        });
      },
    );
    upstream.on('error', () => req.socket.destroy());
    upstream.end(body);
  }
}
