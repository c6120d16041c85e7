/** Feeds a KvFsm log entries at consecutive indexes, as the runtime would (tests only). */
import { Readable } from 'node:stream';
import { LogType } from '../../../src/core/types.js';
import { encodeCommand, type KvCommand } from '../../../src/kv/commands.js';
import { KvFsm, type KvApplyResult, type KvFsmOptions } from '../../../src/kv/fsm.js';
import type { SnapshotSink } from '../../../src/storage/types.js';

export class LogDriver {
  /** The index the next entry gets. */
  next = 1;

  constructor(readonly fsm: KvFsm) {}

  /** Applies a command (or raw entry data) at the next index; its index and the state machine's answer. */
  apply(command: KvCommand | string): { index: number; result: KvApplyResult } {
    const index = this.next++;
    const data = typeof command === 'string' ? Buffer.from(command) : encodeCommand(command);
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

/** A state with every kind of record: keys with and without leases, leases, locks with waiters, history. */
export function richState(options: KvFsmOptions = {}): { fsm: KvFsm; log: LogDriver } {
  const fsm = new KvFsm(options);
  const log = new LogDriver(fsm);
  log.apply({ op: 'put', key: 'b', value: Buffer.from('2') }); // 1
  log.apply({ op: 'put', key: 'a', value: Buffer.from([0, 255]) }); // 2
  log.apply({ op: 'lease-grant', ttl: 30 }); // 3
  log.apply({
    op: 'txn',
    compare: [],
    success: [{ op: 'put', key: 'c', value: Buffer.from('3'), lease: 3 }],
    failure: [],
  }); // 4
  log.apply({ op: 'lock', name: 'db', ttl: 10 }); // 5 holds
  log.apply({ op: 'lock', name: 'db', ttl: 10 }); // 6 waits
  log.apply({ op: 'delete', key: 'b' }); // 7
  return { fsm, log };
}
