/**
 * Local HTTP servers for the client's protocol tests. `ScriptedServer` answers each request with
 * the test's handler and records every request: it stands in for a member that misbehaves in ways
 * a real cluster will not on demand (a hostile answer, a 410, an overflow, a redirect loop).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An HTTP server on a free loopback port that buffers each request's body before handling it. */
export abstract class LocalHttpServer {
  url = '';
  private readonly server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => this.handle(req, Buffer.concat(chunks), res));
  });

  protected abstract handle(req: IncomingMessage, body: Buffer, res: ServerResponse): void;

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

export interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export type Handler = (req: Recorded, res: ServerResponse) => void;

export class ScriptedServer extends LocalHttpServer {
  readonly requests: Recorded[] = [];

  constructor(public handler: Handler) {
    super();
  }

  protected handle(req: IncomingMessage, body: Buffer, res: ServerResponse): void {
    const recorded = { method: req.method!, url: req.url!, headers: req.headers, body: body.toString() };
    this.requests.push(recorded);
    this.handler(recorded, res);
  }
}

export function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
