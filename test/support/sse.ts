/** A Server-Sent Events client for tests: opens a stream, parses it as it arrives, can stop reading. */
import { request, type IncomingMessage } from 'node:http';
import { waitFor } from './wait.js';

export interface SseMessage {
  /** The `id:` of the block (undefined when it had none). */
  id: string | undefined;
  /** `event:` (undefined: a plain message). */
  event: string | undefined;
  /** Each `data:` line, parsed as JSON. */
  data: unknown[];
}

export class SseStream {
  /** Blocks with data, in order. */
  readonly messages: SseMessage[] = [];
  /** Blocks with an id and no data (the stream's starting position). */
  readonly positions: string[] = [];
  readonly comments: string[] = [];
  ended = false;
  private buffer = '';
  private block: string[] = [];

  private constructor(readonly response: IncomingMessage) {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => this.feed(chunk));
    response.on('end', () => (this.ended = true));
    response.on('close', () => (this.ended = true));
  }

  get status(): number {
    return this.response.statusCode ?? 0;
  }

  /** Opens `path`; resolves once the response headers arrived (any status). */
  static open(base: string, path: string, headers: Record<string, string> = {}): Promise<SseStream> {
    const url = new URL(base);
    return new Promise((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path, headers, agent: false }, (res) =>
        resolve(new SseStream(res)),
      );
      req.on('error', reject);
      req.end();
    });
  }

  /** The body of a refusal (a non-200 answer), as JSON. */
  async json(): Promise<unknown> {
    await waitFor(() => this.ended, 5000, 'the end of the answer');
    return JSON.parse(this.buffer);
  }

  /** Every change received, flattened, in order. */
  changes<T = { revision: number; op: string; key: string; value: string | null }>(): T[] {
    return this.messages.filter((m) => m.event === undefined).flatMap((m) => m.data as T[]);
  }

  /** The last id the stream set (what EventSource would send as Last-Event-ID). */
  lastId(): string | undefined {
    let last: string | undefined;
    for (const position of this.positions) last = position;
    for (const message of this.messages) if (message.id !== undefined) last = message.id;
    return last;
  }

  waitForChanges(count: number, ms = 10_000): Promise<void> {
    return waitFor(
      () => this.changes().length >= count,
      ms,
      `${count} changes (have ${this.changes().length})`,
    ).then(() => {});
  }

  /** Stops reading: the server's socket buffer fills up. */
  pause(): void {
    this.response.pause();
    this.response.socket.pause();
  }

  resume(): void {
    this.response.socket.resume();
    this.response.resume();
  }

  close(): void {
    this.response.destroy();
  }

  private feed(chunk: string): void {
    if (this.status !== 200) {
      this.buffer += chunk;
      return;
    }
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (line === '') this.dispatch();
      else this.block.push(line);
    }
  }

  private dispatch(): void {
    const block = this.block;
    this.block = [];
    let id: string | undefined;
    let event: string | undefined;
    const data: unknown[] = [];
    for (const line of block) {
      if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
      else if (line.startsWith('id: ')) id = line.slice(4);
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(JSON.parse(line.slice(6)));
      else throw new Error(`unexpected SSE line ${JSON.stringify(line)}`);
    }
    if (data.length > 0) this.messages.push({ id, event, data });
    else if (id !== undefined) this.positions.push(id);
  }
}
