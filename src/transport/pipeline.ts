/**
 * AppendEntries pipelining (hashicorp's netPipeline): one dedicated connection per follower with
 * up to `depth` requests written ahead of their replies. The server handles one connection's
 * requests strictly in order, so replies come back in order and each settles the oldest request.
 * Calls beyond the depth wait their turn, in call order. Any connection failure fails the
 * requests in flight and those waiting (the runtime retries), and the next call dials afresh.
 */
import type { AppendEntriesRequest, AppendEntriesResponse } from '../core/types.js';
import { mark, tracing } from '../platform/trace.js';
import type { IncomingResponse } from '../wire/codec.js';
import type { ClientConn } from './client-conn.js';

interface Queued {
  request: AppendEntriesRequest;
  resolve(response: AppendEntriesResponse): void;
  reject(error: Error): void;
}

export interface PipelineDeps {
  /** The server ID the pipeline's connections are dialled as. */
  serverId: string;
  depth: number;
  timeoutMs: number;
  dial(): Promise<ClientConn>;
  encode(request: AppendEntriesRequest): Uint8Array;
  /** Turns a decoded reply into the response, or throws the remote error it carries. */
  settle(reply: IncomingResponse<'appendEntries'>): AppendEntriesResponse;
}

export class AppendPipeline {
  private conn: ClientConn | null = null;
  private dialing = false;
  private closedWith: Error | null = null;
  private readonly queue: Queued[] = [];

  constructor(private readonly deps: PipelineDeps) {}

  get serverId(): string {
    return this.deps.serverId;
  }

  send(request: AppendEntriesRequest): Promise<AppendEntriesResponse> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.pump();
    });
  }

  /** Fails everything in flight and waiting; the pipeline refuses further sends. */
  close(error: Error): void {
    this.closedWith ??= error;
    this.conn?.destroy(error);
    this.failQueued(error);
  }

  /** The connection the pipeline uses right now, if any. */
  get connection(): ClientConn | null {
    return this.conn;
  }

  private pump(): void {
    if (this.conn?.failure) this.conn = null;
    const conn = this.conn;
    if (!conn) {
      if (!this.dialing && this.queue.length > 0 && !this.closedWith) this.dial();
      return;
    }
    while (conn.pendingReplies < this.deps.depth && this.queue.length > 0) {
      const item = this.queue.shift()!;
      let frame: Uint8Array;
      try {
        frame = this.deps.encode(item.request);
      } catch (error) {
        item.reject(error as Error);
        continue;
      }
      conn.write(frame);
      if (tracing && item.request.entries.length > 0)
        mark('ae.written', item.request.entries[item.request.entries.length - 1].index);
      conn.expect('appendEntries', this.deps.timeoutMs).then(
        (reply) => {
          try {
            item.resolve(this.deps.settle(reply));
          } catch (error) {
            item.reject(error as Error);
          }
          this.pump();
        },
        (error: Error) => {
          item.reject(error);
          this.failQueued(error);
        },
      );
    }
  }

  private dial(): void {
    this.dialing = true;
    this.deps.dial().then(
      (conn) => {
        this.dialing = false;
        if (this.closedWith) return conn.destroy(this.closedWith);
        this.conn = conn;
        this.pump();
      },
      (error: Error) => {
        this.dialing = false;
        this.failQueued(error);
      },
    );
  }

  private failQueued(error: Error): void {
    for (const item of this.queue.splice(0)) item.reject(error);
  }
}
