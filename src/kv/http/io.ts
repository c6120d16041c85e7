/**
 * The HTTP plumbing every server of the project shares (the KV API here, the demo's dashboard in
 * src/cli): JSON answers, bounded bodies, listening and closing.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request the server refuses, with the status, message, headers and more JSON fields to answer. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    /** Fields the JSON answer carries beside `error` (the contract's `revision`, `compactRevision`, ...). */
    readonly fields: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers?: Record<string, string>,
): void {
  sendJsonText(res, status, JSON.stringify(body), headers);
}

/**
 * `text` (JSON already serialized) as the answer. Without extra headers the header object is a
 * literal, not a spread: this runs once per request (bench/PROFILE.md).
 */
export function sendJsonText(
  res: ServerResponse,
  status: number,
  text: string,
  headers?: Record<string, string>,
): void {
  const length = Buffer.byteLength(text);
  res.writeHead(
    status,
    headers === undefined
      ? { 'Content-Type': 'application/json', 'Content-Length': length }
      : { ...headers, 'Content-Type': 'application/json', 'Content-Length': length },
  );
  res.end(text);
}

/** The 413 for a body over `limit` bytes; the connection closes since the rest of the body is unread. */
export function bodyTooLarge(limit: number): HttpError {
  return new HttpError(413, `request body exceeds ${limit} bytes`, { Connection: 'close' });
}

/**
 * Buffers the body up to `limit` bytes and rejects with a 413 the moment a chunk crosses it (a
 * chunked upload included), without waiting for the rest. The rest is discarded unread; the 413
 * carries `Connection: close`, so the connection ends once it is sent.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total <= limit) return void chunks.push(chunk);
      req.off('data', onData);
      chunks.length = 0;
      req.resume();
      reject(bodyTooLarge(limit));
    };
    req.on('data', onData);
    // One chunk (a small body) is the body: no copy.
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.once('error', reject);
    req.once('close', () => {
      if (!req.complete) reject(new HttpError(400, 'the client closed the connection mid-body'));
    });
  });
}

/** A JSON object body, or a 400. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HttpError(400, 'body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/** Listens on host:port; resolves with the address it got (port 0 picks a free one). */
export async function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}

/** Stops listening and drops every open connection (keep-alive ones would hold close() open). */
export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
