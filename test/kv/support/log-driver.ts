/** Feeds a KvFsm log entries at consecutive indexes, as the runtime would (tests only). */
import { Readable } from 'node:stream';
import { LogType } from '../../../src/core/types.js';
import { encodeCommand, type KvCommand } from '../../../src/kv/commands.js';
import type { KvApplyResult, KvFsm } from '../../../src/kv/fsm.js';
import type { SnapshotSink } from '../../../src/storage/types.js';

export class LogDriver {
  /** The index the next entry gets. */
  next = 1;

  constructor(readonly fsm: KvFsm) {}

  /**
   * Applies a command (or raw entry data) at the next index; its index and the state machine's
   * answer. A command is applied from a copy of its encoding, as a follower applies what it
   * received (the leader's shortcut, commandOf, would skip decoding it); raw bytes as they are.
   */
  apply(command: KvCommand | string | Uint8Array): { index: number; result: KvApplyResult } {
    const index = this.next++;
    const data =
      typeof command === 'string'
        ? Buffer.from(command)
        : command instanceof Uint8Array
          ? command
          : Uint8Array.from(encodeCommand(command));
    const result = this.fsm.apply({
      index,
      term: 1,
      type: LogType.Command,
      data,
      extensions: new Uint8Array(),
      appendedAt: 0,
    }) as KvApplyResult;
    return { index, result };
  }

  /** Skips indexes that hold no command (no-ops, configurations): the runtime never shows them to the FSM. */
  skip(count: number): void {
    this.next += count;
  }
}

/** A snapshot sink kept in memory. */
export class MemorySink implements SnapshotSink {
  readonly id = 'mem-1';
  chunks: Buffer[] = [];
  closed = false;
  cancelled = false;
  async write(chunk: Uint8Array): Promise<void> {
    this.chunks.push(Buffer.from(chunk));
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  async cancel(): Promise<void> {
    this.cancelled = true;
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
  reader(): Readable {
    return Readable.from(this.chunks);
  }
}

/** The state machine's snapshot, as bytes. */
export async function snapshotBytes(fsm: KvFsm): Promise<Buffer> {
  const sink = new MemorySink();
  const snapshot = fsm.snapshot();
  await snapshot.persist(sink);
  snapshot.release();
  return sink.bytes();
}

export const b64 = (text: string) => Buffer.from(text).toString('base64');
export const text = (value: Uint8Array | undefined) =>
  value === undefined ? undefined : Buffer.from(value).toString();
