/**
 * One HTTP exchange with one member, over node:http or node:https (fetch can neither trust a
 * private CA nor present a client certificate without another package). It knows nothing of
 * leaders or retries: it sends the token and TLS credentials, bounds what it reads, honours an
 * AbortSignal, and says whether a failure happened before the request could have reached the
 * server — the fact the retry rules (client.ts) turn on.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { ProtocolError } from './errors.js';

/** TLS material for `https://` members (PEM). */
export interface ClientTlsOptions {
  /** Trust anchors instead of the system's CAs (a private cluster CA). */
  ca?: string | Buffer;
  /** A client certificate and its key, for members that require one (`--http-tls-ca`). */
  cert?: string | Buffer;
  /** The client certificate's private key. */
  key?: string | Buffer;
}

/** What one exchange answered. */
export interface HttpAnswer {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/**
 * A request that failed without an answer. `sent` is false when the connection was never
 * established (refused, unresolvable, TLS handshake failed): the server cannot have seen it.
 */
export class ExchangeFailure extends Error {
  override name = 'ExchangeFailure';
  constructor(
    message: string,
    readonly sent: boolean,
  ) {
    super(message);
  }
}

export interface ExchangeOptions {
  headers?: Record<string, string>;
  body?: Buffer;
  signal?: AbortSignal;
  /** Fail when the connection stays silent this many ms (connecting, or waiting for the answer's head). */
  idleMs?: number;
  /** Set to true once the connection is established (the request may then have reached the server). */
  connected?: { value: boolean };
}

export interface TransportOptions {
  token?: string;
  tls?: ClientTlsOptions;
  /** Largest answer body read, in bytes. */
  maxResponseBytes: number;
  /** Idle keep-alive connections close after this many ms (below the server's 5 s keep-alive). */
  idleConnectionMs: number;
  /** Connections per member at most. */
  maxSockets: number;
}

/** The HTTP side of one client: its keep-alive connection pools and credentials. */
export class Transport {
  private readonly httpAgent: HttpAgent;
  private readonly httpsAgent: HttpsAgent;

  constructor(private readonly options: TransportOptions) {
    const pool = { keepAlive: true, timeout: options.idleConnectionMs, maxSockets: options.maxSockets };
    this.httpAgent = new HttpAgent(pool);
    this.httpsAgent = new HttpsAgent({ ...pool, ...options.tls });
  }

  /** Sends one request and reads the whole answer (at most `maxResponseBytes`). */
  async exchange(url: URL, method: string, options: ExchangeOptions = {}): Promise<HttpAnswer> {
    return this.readAnswer(await this.open(url, method, options, true), options.signal);
  }

  /** Reads the rest of an answer opened with `open` (at most `maxResponseBytes`). */
  readAnswer(res: IncomingMessage, signal?: AbortSignal): Promise<HttpAnswer> {
    const chunks: Buffer[] = [];
    let total = 0;
    const limit = this.options.maxResponseBytes;
    return new Promise((resolve, reject) => {
      res.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (total > limit) res.destroy(new ProtocolError(`the answer is over ${limit} bytes`));
        else chunks.push(chunk);
      });
      res.once('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.once('error', (error) => reject(this.failure(error, signal, true)));
      res.once('close', () => {
        if (!res.complete) reject(this.failure(new Error('connection closed mid-answer'), signal, true));
      });
    });
  }

  /**
   * Sends one request and resolves with the answer's head; the caller reads (or destroys) the body.
   * `pooled` false uses a connection of its own (long-lived streams must not hold a pool slot).
   */
  open(url: URL, method: string, options: ExchangeOptions, pooled: boolean): Promise<IncomingMessage> {
    const https = url.protocol === 'https:';
    if (!https && url.protocol !== 'http:') {
      return Promise.reject(new ExchangeFailure(`${url.href} is not an http(s):// URL`, false));
    }
    const headers: Record<string, string | number> = { ...options.headers };
    if (this.options.token !== undefined) headers.Authorization = `Bearer ${this.options.token}`;
    if (options.body !== undefined) headers['Content-Length'] = options.body.length;
    const agent = pooled ? (https ? this.httpsAgent : this.httpAgent) : false;
    const tls = https && !pooled ? this.options.tls : undefined;
    const { signal } = options;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      let connected = false;
      const req = (https ? httpsRequest : httpRequest)(url, { method, headers, agent, ...tls }, (res) => {
        signal?.removeEventListener('abort', onAbort);
        if (signal !== undefined) {
          const abortBody = () => res.destroy(signal.reason as Error);
          signal.addEventListener('abort', abortBody, { once: true });
          res.once('close', () => signal.removeEventListener('abort', abortBody));
        }
        resolve(res);
      });
      req.once('socket', (socket) => {
        // A reused keep-alive socket is connected already; a new one says when it is.
        const established = () => {
          connected = true;
          if (options.connected !== undefined) options.connected.value = true;
        };
        if (!socket.connecting) established();
        else socket.once(https ? 'secureConnect' : 'connect', established);
      });
      if (options.idleMs !== undefined) {
        const idleMs = options.idleMs;
        req.setTimeout(idleMs, () =>
          req.destroy(new ExchangeFailure(`${url.origin} sent nothing for ${idleMs} ms`, connected)),
        );
      }
      const onAbort = () => req.destroy(signal!.reason as Error);
      signal?.addEventListener('abort', onAbort, { once: true });
      req.once('error', (error) => {
        signal?.removeEventListener('abort', onAbort);
        reject(this.failure(error, signal, connected));
      });
      req.end(options.body);
    });
  }

  /** Closes the pooled connections. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private failure(error: Error, signal: AbortSignal | undefined, sent: boolean): Error {
    if (signal?.aborted) return signal.reason as Error;
    if (error instanceof ProtocolError || error instanceof ExchangeFailure) return error;
    const code = (error as NodeJS.ErrnoException).code;
    // A TLS alert (a refused client certificate, with TLS 1.3 only after the client's first bytes)
    // means the server's TLS layer refused the connection: no request reached the service.
    const refusedByTls = code !== undefined && /^ERR_SSL_.*ALERT/.test(code);
    return new ExchangeFailure(
      code !== undefined ? `${code}: ${error.message}` : error.message,
      sent && !refusedByTls,
    );
  }
}
