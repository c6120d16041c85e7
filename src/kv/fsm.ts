/**
 * The KV state machine: decodes the contract's commands (commands.ts) and applies them to the
 * store (state/store.ts), snapshots it in the contract's NDJSON format (state/snapshot.ts), and
 * tells its observers (watches, lease countdowns, lock waiters) what each command changed.
 *
 * A malformed command changes nothing and is answered as such, on every replica alike. A command
 * with an unknown `op` halts the state machine: it throws ErrUnknownCommand for that entry and every
 * later one and refuses to snapshot, because a replica that skipped a command would diverge; the
 * service (service.ts) then shuts its Raft server down.
 */
import type { Readable } from 'node:stream';
import {
  ErrDecode,
  LogType,
  silentLogger,
  type FSM,
  type FSMSnapshot,
  type LogEntry,
  type Logger,
  type SnapshotSink,
} from '../index.js';
import { commandOf, ErrUnknownCommand, httpAddressKey, type KvCommand } from './commands.js';
import { encodeBase64 } from './json-fields.js';
import type { HistoryLimits, WatchHistory } from './state/history.js';
import type { KeyEntry, RangeQuery, RangeResult } from './state/keyspace.js';
import { captureState, type CapturedState } from './state/capture.js';
import { readSnapshot, writeSnapshot, type SnapshotFormat } from './state/snapshot.js';
import { compareKeys } from './state/sorted-keys.js';
import { KvStore, type ComparedKey, type Journal, type Lease, type LockState } from './state/store.js';

export type KvApplyResult =
  | { ok: true }
  /** A transaction (also a conditional write): which branch ran, and the compared keys as they were. */
  | { ok: true; succeeded: boolean; compared: ComparedKey[] }
  /** A lock request: its lease, and its token when it holds the lock at once (null: it waits). */
  | { ok: true; lease: number; token: number | null }
  /** `current` is the base64 of the value found, or null when the key was absent. */
  | { ok: false; reason: 'cas-failed'; current: string | null }
  | { ok: false; reason: 'lease-not-found'; lease: number }
  /** A lock release with a token that is not the holder's (`token`: the holder's, null when free). */
  | { ok: false; reason: 'not-holder'; token: number | null }
  | { ok: false; reason: 'malformed'; error: string };

/** Told about every change of the state machine, synchronously, in log order. */
export interface KvObserver {
  /** A command applied at `revision` (its changes in `journal`, possibly none). */
  applied?(revision: number, journal: Journal): void;
  /** The whole state was replaced from a snapshot. */
  restored?(): void;
  /** The state machine met a command it does not know and stopped applying. */
  halted?(error: ErrUnknownCommand): void;
}

export interface KvFsmOptions {
  logger?: Logger;
  /** Keep the changes of at least this many revisions for watches (default 10,000). */
  watchHistory?: number;
  /** ...but at most about this many bytes of them (default 64 MiB). */
  watchHistoryBytes?: number;
  /**
   * Longest line of a version 2 snapshot, or record of a version 3 one, that `restore` accepts, in
   * bytes (default 16 MiB): restore holds one at a time.
   */
  maxSnapshotLineBytes?: number;
  /** Largest version 1 snapshot `restore` accepts, in bytes (default 1 GiB): it is parsed in memory. */
  maxSnapshotBytes?: number;
  /** Snapshot bytes handed to the sink per write (default 64 KiB). */
  snapshotChunkBytes?: number;
  /**
   * The format snapshots are written in: 3 (binary, the default) or 2 (NDJSON, readable by raftkit
   * versions before format 3: for a cluster being upgraded one server at a time). Both restore.
   */
  snapshotFormat?: SnapshotFormat;
}

/** The answer of most commands, shared: an apply allocates nothing for it (results are read-only). */
const APPLIED: KvApplyResult = Object.freeze({ ok: true });

export const DEFAULT_WATCH_HISTORY = 10_000;
export const DEFAULT_WATCH_HISTORY_BYTES = 64 * 1024 * 1024;

export class KvFsm implements FSM {
  private store: KvStore;
  private readonly observers = new Set<KvObserver>();
  private halt: ErrUnknownCommand | null = null;
  /** After a version 1 restore the history starts at the next command (its changes before are unknown). */
  private historyStartsNext = false;
  private readonly logger: Logger;
  private readonly historyLimits: HistoryLimits;
  private readonly options: Required<Omit<KvFsmOptions, 'logger' | 'watchHistory' | 'watchHistoryBytes'>>;

  constructor(options: KvFsmOptions = {}) {
    this.logger = options.logger ?? silentLogger;
    this.historyLimits = {
      maxRevisions: options.watchHistory ?? DEFAULT_WATCH_HISTORY,
      maxBytes: options.watchHistoryBytes ?? DEFAULT_WATCH_HISTORY_BYTES,
    };
    this.options = {
      maxSnapshotLineBytes: options.maxSnapshotLineBytes ?? 16 * 1024 * 1024,
      maxSnapshotBytes: options.maxSnapshotBytes ?? 1 << 30,
      snapshotChunkBytes: options.snapshotChunkBytes ?? 64 * 1024,
      snapshotFormat: options.snapshotFormat ?? 3,
    };
    if (this.options.snapshotFormat !== 2 && this.options.snapshotFormat !== 3)
      throw new RangeError(`snapshotFormat must be 2 or 3, got ${String(this.options.snapshotFormat)}`);
    this.store = new KvStore(this.historyLimits);
  }

  get(key: string): Uint8Array | undefined {
    return this.store.keys.get(key)?.value;
  }

  entry(key: string): KeyEntry | undefined {
    return this.store.keys.get(key);
  }

  /** Keys, reserved ones included. */
  get size(): number {
    return this.store.keys.size;
  }

  /** The store revision: the log index of the last command applied. */
  get revision(): number {
    return this.store.revision;
  }

  get history(): WatchHistory {
    return this.store.history;
  }

  range(query: RangeQuery): RangeResult {
    return this.store.keys.range(query);
  }

  lease(id: number): Lease | undefined {
    return this.store.leases.get(id);
  }

  leases(): IterableIterator<Lease> {
    return this.store.leases.values();
  }

  get leaseCount(): number {
    return this.store.leases.size;
  }

  lock(name: string): LockState | undefined {
    return this.store.locks.get(name);
  }

  /** Every lock with a holder or waiters, by name. */
  locks(): [string, LockState][] {
    return [...this.store.locks.entries()].sort((a, b) => compareKeys(a[0], b[0]));
  }

  get lockCount(): number {
    return this.store.locks.size;
  }

  /** The HTTP base URL a member registered under its reserved key, if any. */
  httpAddress(serverId: string): string | undefined {
    return this.store.keys.get(httpAddressKey(serverId))?.value.toString('utf8');
  }

  /** The IDs of every server that published an HTTP address, members or not. */
  httpAddressIds(): string[] {
    return this.reservedIds(httpAddressKey(''));
  }

  /** The server IDs under a reserved per-server prefix (`_raftkit/http/`, `_raftkit/formats/`). */
  reservedIds(prefix: string): string[] {
    const query = { prefix, limit: Number.MAX_SAFE_INTEGER, maxValueBytes: Number.MAX_SAFE_INTEGER };
    return this.store.keys.range(query).items.map(([key]) => key.slice(prefix.length));
  }

  /** Why the state machine stopped applying, or null while it runs. */
  get haltedBy(): ErrUnknownCommand | null {
    return this.halt;
  }

  /** Adds an observer; returns the function that removes it. */
  observe(observer: KvObserver): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  apply(log: LogEntry): KvApplyResult {
    if (log.type !== LogType.Command) return APPLIED;
    if (this.halt !== null) throw this.halt;
    let command: KvCommand | null = null;
    let refusal: KvApplyResult | null = null;
    try {
      command = commandOf(log.data);
    } catch (error) {
      if (error instanceof ErrUnknownCommand) return this.stop(log.index, error);
      const message = error instanceof ErrDecode ? error.message : String(error);
      // A log is forever: a bad entry must not stop this node from applying the ones after it.
      this.logger.warn({ index: log.index, error: message }, 'kv: ignoring malformed command');
      refusal = { ok: false, reason: 'malformed', error: message };
    }
    if (this.historyStartsNext) {
      this.historyStartsNext = false;
      this.store.history.compactRevision = Math.max(this.store.history.compactRevision, log.index - 1);
    }
    this.store.begin(log.index);
    const result = refusal ?? this.execute(command!);
    const journal = this.store.end();
    this.notify((observer) => observer.applied?.(log.index, journal));
    return result;
  }

  private execute(command: KvCommand): KvApplyResult {
    const { store } = this;
    switch (command.op) {
      case 'put':
        store.put(command.key, Buffer.from(command.value), 0);
        return APPLIED;
      case 'delete':
        store.delete(command.key);
        return APPLIED;
      case 'cas': {
        const current = store.keys.get(command.key)?.value;
        const matches =
          command.prev === null
            ? current === undefined
            : current !== undefined && current.equals(command.prev);
        if (!matches)
          return {
            ok: false,
            reason: 'cas-failed',
            current: current === undefined ? null : encodeBase64(current),
          };
        store.put(command.key, Buffer.from(command.value), 0);
        return APPLIED;
      }
      case 'txn':
        return store.txn(command.compare, command.success, command.failure);
      case 'lease-grant':
        store.grantLease(command.ttl);
        return APPLIED;
      case 'lease-revoke':
        return store.revokeLease(command.id, command.reason)
          ? APPLIED
          : { ok: false, reason: 'lease-not-found', lease: command.id };
      case 'lock':
        return { ok: true, ...store.lock(command.name, command.ttl) };
      case 'lock-release': {
        const outcome = store.releaseLock(command.name, command.token);
        return outcome.released ? APPLIED : { ok: false, reason: 'not-holder', token: outcome.token };
      }
      case 'lock-cancel':
        store.cancelLock(command.name, command.lease);
        return APPLIED;
    }
  }

  private stop(index: number, error: ErrUnknownCommand): never {
    this.halt = error;
    this.logger.error(
      { index, op: error.op },
      'kv: FATAL: the log holds a command this server does not know; it stops applying (upgrade it)',
    );
    this.notify((observer) => observer.halted?.(error));
    throw error;
  }

  snapshot(): FSMSnapshot {
    if (this.halt !== null) throw this.halt;
    return new KvSnapshot(
      captureState(this.store),
      this.options.snapshotChunkBytes,
      this.options.snapshotFormat,
    );
  }

  async restore(reader: Readable): Promise<void> {
    const { store, version } = await readSnapshot(reader, this.historyLimits, {
      maxLineBytes: this.options.maxSnapshotLineBytes,
      maxV1Bytes: this.options.maxSnapshotBytes,
    });
    this.store = store;
    // A version 1 snapshot has no revision: its keys are at revision 0 and its history unknown.
    this.historyStartsNext = version === 1;
    this.notify((observer) => observer.restored?.());
  }

  private notify(call: (observer: KvObserver) => void): void {
    for (const observer of this.observers) {
      try {
        call(observer);
      } catch (error) {
        this.logger.error({ error: String(error) }, 'kv: a state machine observer failed');
      }
    }
  }
}

class KvSnapshot implements FSMSnapshot {
  constructor(
    private state: CapturedState | null,
    private readonly chunkBytes: number,
    private readonly format: SnapshotFormat,
  ) {}

  async persist(sink: SnapshotSink): Promise<void> {
    try {
      await writeSnapshot(sink, this.state!, this.chunkBytes, this.format);
      await sink.close();
    } catch (error) {
      await sink.cancel();
      throw error;
    }
  }

  release(): void {
    this.state?.keys.release();
    this.state = null;
  }
}
