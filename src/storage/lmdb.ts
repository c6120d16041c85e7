/**
 * LmdbStore: the durable embedded LogStore + StableStore, raftkit's analog of hashicorp's
 * raft-boltdb. One LMDB environment (a file such as `<dir>/raft.lmdb`, or a directory) holds two
 * named databases: `logs` (key: 8-byte big-endian index, value: log-codec.ts) and `conf` (the
 * stable store: raw UTF-8 key, raw value; uint64s as 8-byte big-endian, as raft-boltdb does).
 *
 * Durability and group commit. Every write is queued with lmdb-js's asynchronous put/remove.
 * lmdb-js batches all writes issued in one event turn into one transaction (eventTurnBatching),
 * runs each transaction on a worker thread, and keeps queueing later writes while a commit is in
 * flight, then commits them together in the next transaction. So the log entries and stable
 * values the runtime writes in one turn land atomically in one transaction, and concurrent
 * writers share one fsync.
 *
 * overlappingSync is turned off on purpose. With it on (lmdb-js's default on Linux and macOS) a
 * write promise resolves when its transaction is committed and visible but not yet on disk; the
 * fsync runs afterwards and only the env-wide `flushed` thenable reports it, and which commit that
 * thenable follows depends on when it is read (lmdb-js resets it whenever a new transaction
 * starts). With it off, mdb_txn_commit fdatasyncs the data pages and writes the meta page through
 * an O_DSYNC descriptor before lmdb-js marks the transaction committed (WriteWorker::Write in
 * lmdb-js's src/writer.cpp), so the ordinary write promise already means durable: nothing to pair up,
 * no window in which a caller could act on a commit that is not on disk. Both modes pay the same
 * two sync points per commit (data fdatasync, then the meta write), so the price of turning it
 * off is only that the next transaction cannot write its pages while the previous one syncs; group
 * commit hides that, because everything queued during a sync goes into the next single commit.
 * bench/storage.ts prints the entries per commit and the rate against raw fdatasync.
 *
 * lmdb is an optional peer dependency with a native addon: it is imported on the first `open`, so
 * an application that never chooses LMDB never loads it (nor needs it installed).
 */
import type { Database, RootDatabase } from 'lmdb';
import { open as openFile, stat } from 'node:fs/promises';
import { endianness } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { ErrLogNotFound, ErrNotFound, ErrStoreClosed, ErrStoreCorrupt, RaftError } from '../core/errors.js';
import type { LogEntry } from '../core/types.js';
import { nodeFileSystem, syncDirectory } from './file-system.js';
import {
  decodeLogEntry,
  decodeLogEntryTerm,
  decodeUint64,
  deleteBounds,
  encodeLogEntry,
  encodeUint64,
  isLogIndex,
  stableKeyBytes,
} from './log-codec.js';
import { emptyEntryTerms } from './entry-terms.js';
import type { EntryTerms, LogStore, StableStore } from './types.js';

/** Options of `LmdbStore.open` / `newLmdbStore`. */
export interface LmdbStoreOptions {
  /**
   * raft-boltdb's NoSync: commits skip fsync, so writes resolve before they are durable. A killed
   * process loses nothing (the OS still holds the pages), an OS crash or power cut can lose
   * acknowledged writes and break Raft's guarantees. For tests and throwaway nodes only.
   * Default false.
   */
  noSync?: boolean;
}

/** lmdb-js's maximum key size with the default page size. */
const MAX_STABLE_KEY_BYTES = 1978;
/**
 * LMDB's meta page magic, at this offset of the data file's first page in lmdb-js 3's build (if
 * an upgrade moves it, every reopen test fails).
 */
const LMDB_MAGIC = 0xbeefc0de;
const LMDB_MAGIC_OFFSET = 24;

type Bytes = Database<Buffer, Buffer>;
type LmdbModule = typeof import('lmdb');

/**
 * LMDB was chosen (`LmdbStore.open`, `logStore: 'lmdb'`, `--log-store lmdb`, or a data directory
 * that already holds `raft.lmdb`) but the optional `lmdb` package is not installed.
 */
export class ErrLmdbNotInstalled extends RaftError {
  /** `'ErrLmdbNotInstalled'`. */
  override name = 'ErrLmdbNotInstalled';
  constructor(options?: ErrorOptions) {
    super('the LMDB log store needs the optional lmdb package: npm install lmdb', options);
  }
}

let lmdbModule: Promise<LmdbModule> | undefined;

/** Imports lmdb once, on first use; a missing package becomes ErrLmdbNotInstalled. */
function loadLmdb(): Promise<LmdbModule> {
  lmdbModule ??= import('lmdb').catch((error: unknown) => {
    throw isMissingLmdb(error) ? new ErrLmdbNotInstalled({ cause: error }) : error;
  });
  return lmdbModule;
}

/** Node's "package not found" for lmdb itself (not for a package lmdb imports, nor a broken addon). */
function isMissingLmdb(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return code === 'ERR_MODULE_NOT_FOUND' && typeof message === 'string' && message.includes("'lmdb'");
}

/**
 * A durable LogStore + StableStore in one LMDB environment (the analog of hashicorp's
 * raft-boltdb). Needs the optional `lmdb` package (`npm install lmdb`), loaded on the first open;
 * without it, open rejects with ErrLmdbNotInstalled. Two syncs per commit, so about half the
 * WAL's durable write rate.
 */
export class LmdbStore implements LogStore, StableStore {
  private closing: Promise<void> | undefined;
  /**
   * Bounds that contain every log index present once all issued writes have executed (0, 0 when
   * none can be). deleteRange removes index by index inside them, as plain queued removes, so that
   * it stays ordered with the puts issued before and after it in the same turn; lmdb-js would run
   * a transaction callback after all queued puts instead.
   */
  private lowIndex: number;
  private highIndex: number;

  private constructor(
    /** The path given to open. */
    readonly path: string,
    private readonly env: RootDatabase<Buffer, Buffer>,
    private readonly logs: Bytes,
    private readonly conf: Bytes,
  ) {
    this.lowIndex = this.edgeIndex(false);
    this.highIndex = this.edgeIndex(true);
  }

  /**
   * Opens (creating if needed) the store at `path`: a file when the name has an extension
   * (`<dir>/raft.lmdb`, next to a `-lock` file), otherwise a directory. Open one store per path
   * per process.
   */
  static async open(path: string, options: LmdbStoreOptions = {}): Promise<LmdbStore> {
    const noSync = options.noSync ?? false;
    const subdir = extname(path) === '';
    const { open: openLmdb } = await loadLmdb();
    await assertLmdbFile(subdir ? join(path, 'data.mdb') : path);
    const env = openLmdb<Buffer, Buffer>({
      path,
      noSubdir: !subdir,
      overlappingSync: false,
      noSync,
      maxDbs: 4,
      keyEncoding: 'binary',
      encoding: 'binary',
    });
    try {
      const logs = env.openDB<Buffer, Buffer>({ name: 'logs', keyEncoding: 'binary', encoding: 'binary' });
      const conf = env.openDB<Buffer, Buffer>({ name: 'conf', keyEncoding: 'binary', encoding: 'binary' });
      if (!noSync) {
        // A new file's directory entry must be durable too, or a power cut could take the file.
        await syncDirectory(nodeFileSystem, subdir ? path : dirname(path));
        if (subdir) await syncDirectory(nodeFileSystem, dirname(path));
      }
      return new LmdbStore(path, env, logs, conf);
    } catch (error) {
      await env.close();
      throw error;
    }
  }

  async firstIndex(): Promise<number> {
    this.assertOpen();
    return this.edgeIndex(false);
  }

  async lastIndex(): Promise<number> {
    this.assertOpen();
    return this.edgeIndex(true);
  }

  async getLog(index: number): Promise<LogEntry> {
    this.assertOpen();
    if (!isLogIndex(index)) throw new ErrLogNotFound();
    const value = this.logs.getBinary(encodeUint64(index));
    if (value === undefined) throw new ErrLogNotFound();
    return decodeLogEntry(value, index);
  }

  async getLogs(lo: number, hi: number): Promise<LogEntry[]> {
    this.assertOpen();
    if (lo > hi) return [];
    if (!isLogIndex(lo) || !isLogIndex(hi)) throw new ErrLogNotFound();
    const out: LogEntry[] = [];
    const range = this.logs.getRange({ start: encodeUint64(lo), end: encodeUint64(hi), inclusiveEnd: true });
    for (const { key, value } of range) {
      const index = decodeUint64(key, 'log key');
      if (index !== lo + out.length) throw new ErrLogNotFound();
      out.push(decodeLogEntry(value, index));
    }
    if (out.length !== hi - lo + 1) throw new ErrLogNotFound();
    return out;
  }

  /** Terms and types of lo..hi, read from the stored values without decoding their payloads. */
  async entryTerms(lo: number, hi: number): Promise<EntryTerms> {
    this.assertOpen();
    if (lo > hi) return emptyEntryTerms(0);
    if (!isLogIndex(lo) || !isLogIndex(hi)) throw new ErrLogNotFound();
    const out = emptyEntryTerms(hi - lo + 1);
    let count = 0;
    const range = this.logs.getRange({ start: encodeUint64(lo), end: encodeUint64(hi), inclusiveEnd: true });
    for (const { key, value } of range) {
      const index = decodeUint64(key, 'log key');
      if (index !== lo + count) throw new ErrLogNotFound();
      const { term, type } = decodeLogEntryTerm(value, index);
      out.terms[count] = term;
      out.types[count] = type;
      count++;
    }
    if (count !== out.terms.length) throw new ErrLogNotFound();
    return out;
  }

  storeLog(entry: LogEntry): Promise<void> {
    return this.storeLogs([entry]);
  }

  /** Writes all entries in one transaction; resolves once it is durable. */
  async storeLogs(entries: readonly LogEntry[]): Promise<void> {
    this.assertOpen();
    if (entries.length === 0) return;
    // Encode everything first: a bad entry must not leave the ones before it queued.
    const keys: Buffer[] = [];
    const values: Buffer[] = [];
    for (const entry of entries) {
      if (!isLogIndex(entry.index)) throw new RangeError(`log index must be >= 1, got ${entry.index}`);
      keys.push(encodeUint64(entry.index));
      values.push(encodeLogEntry(entry));
    }
    const commits = new CommitSet();
    for (let i = 0; i < keys.length; i++) {
      commits.add(this.logs.put(keys[i], values[i]));
      this.widenBounds(entries[i].index);
    }
    await commits.all();
  }

  /** Deletes min..max inclusive in one transaction; resolves once it is durable. */
  async deleteRange(min: number, max: number): Promise<void> {
    this.assertOpen();
    const bounds = deleteBounds(min, max, this.lowIndex, this.highIndex);
    if (bounds === null) return;
    const { from, to } = bounds;
    const commits = new CommitSet();
    for (let index = from; index <= to; index++) commits.add(this.logs.remove(encodeUint64(index)));
    this.narrowBounds(from, to);
    try {
      await commits.all();
    } catch (error) {
      // The removes did not happen: the indexes may still be there.
      this.widenBounds(from);
      this.widenBounds(to);
      throw error;
    }
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    this.assertOpen();
    // Copied: lmdb-js reads the value on its worker thread, after the caller may have reused it.
    await this.conf.put(stableKeyBytes(key, MAX_STABLE_KEY_BYTES), Buffer.from(value));
  }

  async get(key: string): Promise<Uint8Array> {
    this.assertOpen();
    const value = this.conf.getBinary(stableKeyBytes(key, MAX_STABLE_KEY_BYTES));
    if (value === undefined) throw new ErrNotFound();
    return value;
  }

  async setUint64(key: string, value: number): Promise<void> {
    this.assertOpen();
    await this.conf.put(stableKeyBytes(key, MAX_STABLE_KEY_BYTES), encodeUint64(value));
  }

  async getUint64(key: string): Promise<number> {
    this.assertOpen();
    const value = this.conf.getBinary(stableKeyBytes(key, MAX_STABLE_KEY_BYTES));
    if (value === undefined) throw new ErrNotFound();
    return decodeUint64(value, `stable value ${JSON.stringify(key)}`);
  }

  /**
   * LMDB's id of the last committed write transaction. It grows by one per commit, and each
   * durable commit costs one round of syncs, so its growth over a run counts the fsyncs that group
   * commit left (for metrics, tests and benchmarks).
   */
  lastTransactionId(): number {
    this.assertOpen();
    return (this.env.getStats() as { lastTxnId: number }).lastTxnId;
  }

  /** Waits for queued writes to finish, then closes. Idempotent (the runtime closes both roles). */
  close(): Promise<void> {
    this.closing ??= this.env.close();
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closing) throw new ErrStoreClosed();
  }

  /** The first or last committed log index, 0 when the log is empty. */
  private edgeIndex(last: boolean): number {
    for (const key of this.logs.getKeys({ reverse: last, limit: 1 })) return decodeUint64(key, 'log key');
    return 0;
  }

  private widenBounds(index: number): void {
    if (this.highIndex === 0) {
      this.lowIndex = index;
      this.highIndex = index;
      return;
    }
    if (index < this.lowIndex) this.lowIndex = index;
    if (index > this.highIndex) this.highIndex = index;
  }

  /** Called with from..to within the bounds; a hole in the middle leaves them unchanged. */
  private narrowBounds(from: number, to: number): void {
    if (from === this.lowIndex && to === this.highIndex) {
      this.lowIndex = 0;
      this.highIndex = 0;
    } else if (from === this.lowIndex) {
      this.lowIndex = to + 1;
    } else if (to === this.highIndex) {
      this.highIndex = from - 1;
    }
  }
}

/** hashicorp-style constructor name. */
export function newLmdbStore(path: string, options?: LmdbStoreOptions): Promise<LmdbStore> {
  return LmdbStore.open(path, options);
}

/**
 * The distinct commit promises of one operation's writes. lmdb-js hands every unconditional write
 * of a transaction the same promise, so this is usually a single one.
 */
class CommitSet {
  private readonly promises: Promise<boolean>[] = [];

  add(promise: Promise<boolean>): void {
    if (this.promises[this.promises.length - 1] !== promise) this.promises.push(promise);
  }

  async all(): Promise<void> {
    await Promise.all(this.promises);
  }
}

/**
 * lmdb-js crashes the process (SIGSEGV) when asked to open a file that is not an LMDB
 * environment, so a non-empty file must show LMDB's magic before it is handed over.
 */
async function assertLmdbFile(file: string): Promise<void> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (size === 0) return;
  const handle = await openFile(file, 'r');
  try {
    const head = Buffer.alloc(LMDB_MAGIC_OFFSET + 4);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const magic =
      endianness() === 'LE' ? head.readUInt32LE(LMDB_MAGIC_OFFSET) : head.readUInt32BE(LMDB_MAGIC_OFFSET);
    if (bytesRead < head.length || magic !== LMDB_MAGIC) {
      throw new ErrStoreCorrupt(`${file} is not an LMDB file`);
    }
  } finally {
    await handle.close();
  }
}
