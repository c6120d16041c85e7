/** Feeds a KvFsm log entries at consecutive indexes, as the runtime would (tests only). */
import { Readable } from 'node:stream';
import { expect } from 'vitest';
import { ErrTooLarge } from '../../../src/core/errors.js';
import { LogType } from '../../../src/core/types.js';
import { encodeCommand, type KvCommand } from '../../../src/kv/commands.js';
import { KvFsm, type KvApplyResult, type KvFsmOptions } from '../../../src/kv/fsm.js';
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

/** A machine holding 8,000 keys of 150 bytes (a snapshot of about 1-2 MB). */
export function filledFsm(options: KvFsmOptions = {}): KvFsm {
  const fsm = new KvFsm(options);
  const log = new LogDriver(fsm);
  for (let i = 0; i < 8000; i++) log.apply({ op: 'put', key: `key-${i}`, value: Buffer.alloc(150, i) });
  return fsm;
}

/** `bytes` in chunks of `size`, as a stream delivers them. */
export function chunksOf(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return chunks;
}

/**
 * A snapshot of 8,000 keys (written with `options`) restores through a 4 KiB record limit; then a
 * stream that starts with `start` (announcing something longer) and never ends is refused with
 * ErrTooLarge after reading little of it, the restored state kept.
 */
export async function expectBoundedRestore(options: KvFsmOptions, start: Buffer): Promise<void> {
  const bytes = await snapshotBytes(filledFsm(options));
  expect(bytes.length).toBeGreaterThan(1_000_000);
  const restored = new KvFsm({ maxSnapshotLineBytes: 4096 });
  await restored.restore(Readable.from(chunksOf(bytes, 65_536)));
  expect(restored.size).toBe(8000);
  let produced = 0;
  const endless = new Readable({
    read() {
      produced += 1000;
      this.push(produced === 1000 ? start : Buffer.alloc(1000, 0x41));
    },
  });
  await expect(restored.restore(endless)).rejects.toBeInstanceOf(ErrTooLarge);
  expect(produced).toBeLessThan(20_000);
  expect(restored.size).toBe(8000);
}
