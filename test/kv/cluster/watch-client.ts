/**
 * A watch client for the cluster tests: an SSE stream that, when it ends or breaks, reconnects to
 * another member with `Last-Event-ID`, as EventSource would, and keeps every change it received.
 */
import type { KvFsm } from '../../../src/kv/fsm.js';
import { SseStream } from '../../support/sse.js';

export interface Change {
  revision: number;
  op: 'put' | 'delete';
  key: string;
  value: string | null;
}

export class ResumingWatch {
  readonly changes: Change[] = [];
  /** Every block's id, in the order received (to check one event per revision). */
  readonly ids: number[] = [];
  reconnects = 0;
  private stream: SseStream | null = null;
  private lastId: string;
  private stopped = false;
  private seenMessages = 0;
  private running: Promise<void>;

  /** `members()` lists the HTTP base URLs to try, in order, at each (re)connect. */
  constructor(
    private readonly members: () => string[],
    private readonly prefix: string,
    since: number,
  ) {
    this.lastId = String(since);
    this.running = this.run();
  }

  /** Drops the current connection (as a network failure would); the client reconnects. */
  breakConnection(): void {
    this.stream?.close();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stream?.close();
    await this.running;
  }

  get lastRevision(): number {
    return Number(this.lastId);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      for (const base of this.members()) {
        if (this.stopped) return;
        try {
          const stream = await SseStream.open(base, `/watch?prefix=${encodeURIComponent(this.prefix)}`, {
            'Last-Event-ID': this.lastId,
          });
          if (stream.status !== 200) {
            const body = await stream.json().catch(() => null);
            if (stream.status === 410) throw new Error(`watch answered 410: ${JSON.stringify(body)}`);
            continue;
          }
          this.stream = stream;
          this.seenMessages = 0;
          await this.pump(stream);
          this.reconnects++;
        } catch (error) {
          if ((error as Error).message.startsWith('watch answered 410')) throw error;
          // Not up: try the next member.
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private async pump(stream: SseStream): Promise<void> {
    for (;;) {
      while (this.seenMessages < stream.messages.length) {
        const message = stream.messages[this.seenMessages++];
        if (message.event !== undefined) continue;
        this.ids.push(Number(message.id));
        this.changes.push(...(message.data as Change[]));
        this.lastId = message.id!;
      }
      if (stream.ended || this.stopped) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** Checks a received stream: ids strictly increase (no duplicates), each change carries its block's revision. */
export function streamProblems(watch: ResumingWatch): string[] {
  const problems: string[] = [];
  for (let i = 1; i < watch.ids.length; i++) {
    if (watch.ids[i] <= watch.ids[i - 1]) problems.push(`id ${watch.ids[i]} after ${watch.ids[i - 1]}`);
  }
  return problems;
}

/** The changes under `prefix` after `since` that the state machine recorded, in the watch's shape. */
export function appliedHistory(fsm: KvFsm, prefix: string, since: number): Change[] {
  const changes: Change[] = [];
  for (let i = 0; i < fsm.history.length; i++) {
    const event = fsm.history.at(i);
    if (event.revision <= since || !event.key.startsWith(prefix)) continue;
    const value = event.value === null ? null : event.value.toString('base64');
    changes.push({ revision: event.revision, op: event.op, key: event.key, value });
  }
  return changes;
}

/** The revision of the last recorded change under `prefix` (0: none). */
export function lastChange(fsm: KvFsm, prefix: string): number {
  return appliedHistory(fsm, prefix, 0).at(-1)?.revision ?? 0;
}
