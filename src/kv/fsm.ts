/**
 * The KV state machine: applies the contract's commands (see commands.ts) to an in-memory map and
 * snapshots it as one JSON object mapping each key to its base64 value.
 */
import type { Readable } from 'node:stream';
import {
  ErrDecode,
  ErrSnapshotCorrupt,
  ErrTooLarge,
  LogType,
  silentLogger,
  type FSM,
  type FSMSnapshot,
  type LogEntry,
  type Logger,
  type SnapshotSink,
} from '../index.js';
import {
  decodeBase64Strict,
  decodeCommand,
  encodeBase64,
  httpAddressKey,
  type KvCommand,
} from './commands.js';

export type KvApplyResult =
  | { ok: true }
  /** `current` is the base64 of the value found, or null when the key was absent. */
  | { ok: false; reason: 'cas-failed'; current: string | null }
  | { ok: false; reason: 'malformed'; error: string };

export interface KvFsmOptions {
  logger?: Logger;
  /** Largest snapshot `restore` accepts, in bytes (default 1 GiB): it is parsed in memory. */
  maxSnapshotBytes?: number;
  /** Snapshot bytes handed to the sink per write (default 64 KiB). */
  snapshotChunkBytes?: number;
}

export class KvFsm implements FSM {
  private state = new Map<string, Buffer>();
  private readonly logger: Logger;
  private readonly maxSnapshotBytes: number;
  private readonly snapshotChunkBytes: number;

  constructor(options: KvFsmOptions = {}) {
    this.logger = options.logger ?? silentLogger;
    this.maxSnapshotBytes = options.maxSnapshotBytes ?? 1 << 30;
    this.snapshotChunkBytes = options.snapshotChunkBytes ?? 64 * 1024;
  }

  get(key: string): Uint8Array | undefined {
    return this.state.get(key);
  }

  get size(): number {
    return this.state.size;
  }

  /** The HTTP base URL a member registered under its reserved key, if any. */
  httpAddress(serverId: string): string | undefined {
    return this.state.get(httpAddressKey(serverId))?.toString('utf8');
  }

  apply(log: LogEntry): KvApplyResult {
    if (log.type !== LogType.Command) return { ok: true };
    let command: KvCommand;
    try {
      command = decodeCommand(log.data);
    } catch (error) {
      // A log is forever: a bad entry must not stop this node from applying the ones after it.
      const message = error instanceof ErrDecode ? error.message : String(error);
      this.logger.warn({ index: log.index, error: message }, 'kv: ignoring malformed command');
      return { ok: false, reason: 'malformed', error: message };
    }
    return this.applyCommand(command);
  }

  private applyCommand(command: KvCommand): KvApplyResult {
    switch (command.op) {
      case 'put':
        this.state.set(command.key, Buffer.from(command.value));
        return { ok: true };
      case 'delete':
        this.state.delete(command.key);
        return { ok: true };
      case 'cas': {
        const current = this.state.get(command.key);
        const matches =
          command.prev === null
            ? current === undefined
            : current !== undefined && current.equals(command.prev);
        if (!matches) {
          return {
            ok: false,
            reason: 'cas-failed',
            current: current === undefined ? null : encodeBase64(current),
          };
        }
        this.state.set(command.key, Buffer.from(command.value));
        return { ok: true };
      }
    }
  }

  snapshot(): FSMSnapshot {
    // Values are never mutated in place, so a shallow copy is an immutable view.
    return new KvSnapshot(new Map(this.state), this.snapshotChunkBytes);
  }

  async restore(reader: Readable): Promise<void> {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of reader) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk as Uint8Array);
      total += bytes.length;
      if (total > this.maxSnapshotBytes) {
        reader.destroy();
        throw new ErrTooLarge(`kv snapshot exceeds ${this.maxSnapshotBytes} bytes`);
      }
      chunks.push(bytes);
    }
    this.state = parseSnapshot(Buffer.concat(chunks, total));
  }
}

function parseSnapshot(bytes: Buffer): Map<string, Buffer> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ErrSnapshotCorrupt('kv snapshot is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ErrSnapshotCorrupt('kv snapshot is not a JSON object');
  }
  const state = new Map<string, Buffer>();
  for (const [key, text] of Object.entries(parsed)) {
    const value = typeof text === 'string' ? decodeBase64Strict(text) : null;
    if (value === null)
      throw new ErrSnapshotCorrupt(`kv snapshot value of ${JSON.stringify(key)} is not base64`);
    state.set(key, value);
  }
  return state;
}

class KvSnapshot implements FSMSnapshot {
  constructor(
    private readonly state: Map<string, Buffer>,
    private readonly chunkBytes: number,
  ) {}

  async persist(sink: SnapshotSink): Promise<void> {
    try {
      // Pieces are gathered up to chunkBytes and written one chunk at a time, so a big map never
      // becomes one giant string and the sink's backpressure is honoured.
      let pieces: string[] = ['{'];
      let pending = 1;
      let first = true;
      for (const [key, value] of this.state) {
        const piece = `${first ? '' : ','}${JSON.stringify(key)}:"${encodeBase64(value)}"`;
        first = false;
        pieces.push(piece);
        pending += piece.length;
        if (pending >= this.chunkBytes) {
          await sink.write(Buffer.from(pieces.join(''), 'utf8'));
          pieces = [];
          pending = 0;
        }
      }
      pieces.push('}');
      await sink.write(Buffer.from(pieces.join(''), 'utf8'));
      await sink.close();
    } catch (error) {
      await sink.cancel();
      throw error;
    }
  }

  release(): void {
    this.state.clear();
  }
}
