/** A raw HTTP client for tests: sends the path exactly as given (fetch would normalize it). */
import { request } from 'node:http';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
  json: () => unknown;
}

export function rawRequest(
  base: string,
  method: string,
  path: string,
  options: { body?: string | Buffer; chunks?: Buffer[]; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const url = new URL(base);
  // Node sends GET/DELETE bodies without framing unless the length is given.
  const headers =
    options.body === undefined
      ? options.headers
      : { 'Content-Length': String(Buffer.byteLength(options.body)), ...options.headers };
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method, path, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          const text = body.toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            text,
            json: () => JSON.parse(text),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (options.chunks !== undefined) {
      for (const chunk of options.chunks) req.write(chunk);
      req.end();
    } else {
      req.end(options.body);
    }
  });
}
