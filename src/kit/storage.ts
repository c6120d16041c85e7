/**
 * A server's data directory: the log and stable store, `<dir>/snapshots/` (FileSnapshotStore, two
 * retained) and `<dir>/LOCK`, which keeps a second process (or a second node in this one) from
 * opening the same stores: neither store stops a second writer, and two Raft servers sharing one
 * log break every guarantee.
 *
 * The log and stable store is `<dir>/wal/` (WalStore, the default: one sync per durable write) or
 * `<dir>/raft.lmdb` (LmdbStore, the analog of raft-boltdb's file: two syncs per commit). A
 * directory that already holds one keeps using it; the choice only applies to new directories.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../core/clock.js';
import { RaftError } from '../core/errors.js';
import { makeDirectory, type FileSystem } from '../storage/file-system.js';
import { acquirePidLock, LockHeld } from '../storage/fs-util.js';
import { ErrLmdbNotInstalled, LmdbStore } from '../storage/lmdb.js';
import { WalStore } from '../storage/wal.js';
import {
  newFileSnapshotStore,
  type FileSnapshotStore,
  type SnapshotStoreLogger,
} from '../storage/file-snapshot.js';

/** Snapshots kept in `<dir>/snapshots/` (raftKit's choice). */
export const SNAPSHOTS_RETAINED = 2;
export const LMDB_FILE = 'raft.lmdb';
export const WAL_DIR = 'wal';
/** The embedded log and stable stores a data directory can hold. */
export type LogStoreKind = 'wal' | 'lmdb';
export const LOG_STORE_KINDS: readonly LogStoreKind[] = ['wal', 'lmdb'];
const STORE_PATHS: Record<LogStoreKind, string> = { wal: WAL_DIR, lmdb: LMDB_FILE };
const LOCK_FILE = 'LOCK';

/** The data directory cannot be used: not a directory, not writable, locked, or its stores fail to open. */
export class ErrDataDir extends RaftError {
  /** `'ErrDataDir'`. */
  override name = 'ErrDataDir';
  constructor(detail: string) {
    super(`unusable data directory: ${detail}`);
  }
}

/** The opened stores of one data directory, held under its lock (see `openNodeStorage`). */
export interface NodeStorage {
  /** The data directory. */
  readonly dir: string;
  /** Which store the directory holds. */
  readonly logStoreKind: LogStoreKind;
  /** The log store, which is also the stable store. */
  readonly logStore: WalStore | LmdbStore;
  /** `<dir>/snapshots/`, two retained. */
  readonly snapshotStore: FileSnapshotStore;
  /** Closes the stores and releases the lock. Idempotent. */
  close(): Promise<void>;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Creates `dir` if absent; refuses anything that is not a directory. */
async function ensureDirectory(dir: string): Promise<void> {
  if (typeof dir !== 'string' || dir.length === 0)
    throw new ErrDataDir('data directory must be a non-empty path');
  try {
    if (!(await stat(dir)).isDirectory()) throw new ErrDataDir(`${dir} exists and is not a directory`);
    return;
  } catch (error) {
    if (error instanceof ErrDataDir) throw error;
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ErrDataDir(`cannot use ${dir}: ${describe(error)}`);
    }
  }
  try {
    await makeDirectory(dir);
  } catch (error) {
    throw new ErrDataDir(`cannot create ${dir}: ${describe(error)}`);
  }
}

/** Takes `<dir>/LOCK` (holding our pid); a lock left by a dead process is taken over. */
async function acquireLock(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_FILE);
  try {
    return await acquirePidLock(path);
  } catch (error) {
    if (!(error instanceof LockHeld)) throw new ErrDataDir(`cannot write in ${dir}: ${describe(error)}`);
    const who = error.holder === process.pid ? 'another node in this process' : `process ${error.holder}`;
    throw new ErrDataDir(`${dir} is in use by ${who} (lock file ${path})`);
  }
}

/**
 * The store `dir` already holds, else `requested` (default wal). Refuses a directory holding both,
 * or one that holds the other kind than requested: opening it would start an empty log beside
 * the real one.
 */
async function chooseLogStore(dir: string, requested: LogStoreKind | undefined): Promise<LogStoreKind> {
  const present: LogStoreKind[] = [];
  for (const kind of LOG_STORE_KINDS) {
    if (
      await stat(join(dir, STORE_PATHS[kind])).then(
        () => true,
        () => false,
      )
    )
      present.push(kind);
  }
  if (present.length > 1) {
    throw new ErrDataDir(`${dir} holds both ${WAL_DIR}/ and ${LMDB_FILE}; keep the one with the data`);
  }
  if (present.length === 1 && requested !== undefined && requested !== present[0]) {
    throw new ErrDataDir(
      `${dir} already holds a ${present[0]} log store, not the ${requested} one asked for`,
    );
  }
  return present[0] ?? requested ?? 'wal';
}

function openLogStore(
  dir: string,
  kind: LogStoreKind,
  walSegmentBytes?: number,
  files?: FileSystem,
): Promise<WalStore | LmdbStore> {
  const path = join(dir, STORE_PATHS[kind]);
  return kind === 'wal'
    ? WalStore.open(path, { segmentBytes: walSegmentBytes, files })
    : LmdbStore.open(path);
}

/** Opens (creating when absent) the stores of one server in `dir`. */
export async function openNodeStorage(
  dir: string,
  options: {
    clock: Clock;
    logger?: SnapshotStoreLogger;
    logStore?: LogStoreKind;
    /** The WAL's segmentBytes (WalStoreOptions); LMDB ignores it. */
    walSegmentBytes?: number;
    /**
     * The file layer of the WAL and the snapshot store (default node:fs; a chaos run puts
     * raftkit/testing's FaultyFileSystem here). LMDB does its own I/O and ignores it.
     */
    files?: FileSystem;
  },
): Promise<NodeStorage> {
  await ensureDirectory(dir);
  const unlock = await acquireLock(dir);
  let logStore: WalStore | LmdbStore | undefined;
  try {
    const logStoreKind = await chooseLogStore(dir, options.logStore);
    logStore = await openLogStore(dir, logStoreKind, options.walSegmentBytes, options.files);
    const snapshotStore = await newFileSnapshotStore(dir, SNAPSHOTS_RETAINED, options);
    const opened = logStore;
    let closing: Promise<void> | undefined;
    return {
      dir,
      logStoreKind,
      logStore: opened,
      snapshotStore,
      close: () => (closing ??= opened.close().finally(unlock)),
    };
  } catch (error) {
    await logStore?.close().catch(() => {});
    await unlock();
    // A missing optional package is not the directory's fault: its own error says what to install.
    throw error instanceof ErrDataDir || error instanceof ErrLmdbNotInstalled
      ? error
      : new ErrDataDir(`cannot open the stores in ${dir}: ${describe(error)}`);
  }
}
