/**
 * A server's data directory: `<dir>/raft.lmdb` (log and stable store, the analog of raft-boltdb's
 * file), `<dir>/snapshots/` (FileSnapshotStore, two retained) and `<dir>/LOCK`, which keeps a
 * second process (or a second node in this one) from opening the same stores: LMDB itself would let
 * both write, and two Raft servers sharing one log break every guarantee.
 */
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../core/clock.js';
import { RaftError } from '../core/errors.js';
import { LmdbStore } from '../storage/lmdb.js';
import {
  newFileSnapshotStore,
  type FileSnapshotStore,
  type SnapshotStoreLogger,
} from '../storage/file-snapshot.js';

/** Snapshots kept in `<dir>/snapshots/` (raftKit's choice). */
export const SNAPSHOTS_RETAINED = 2;
export const LMDB_FILE = 'raft.lmdb';
const LOCK_FILE = 'LOCK';

/** The data directory cannot be used: not a directory, not writable, locked, or its stores fail to open. */
export class ErrDataDir extends RaftError {
  override name = 'ErrDataDir';
  constructor(detail: string) {
    super(`unusable data directory: ${detail}`);
  }
}

export interface NodeStorage {
  readonly dir: string;
  readonly logStore: LmdbStore;
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
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new ErrDataDir(`cannot create ${dir}: ${describe(error)}`);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes `<dir>/LOCK` (holding our pid); a lock left by a dead process is taken over. */
async function acquireLock(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return () => rm(path, { force: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw new ErrDataDir(`cannot write in ${dir}: ${describe(error)}`);
    }
    const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (Number.isSafeInteger(holder) && holder > 0 && processAlive(holder)) {
      const who = holder === process.pid ? 'another node in this process' : `process ${holder}`;
      throw new ErrDataDir(`${dir} is in use by ${who} (lock file ${path})`);
    }
    await rm(path, { force: true });
  }
  throw new ErrDataDir(`cannot take the lock ${path}`);
}

/** Opens (creating when absent) the stores of one server in `dir`. */
export async function openNodeStorage(
  dir: string,
  options: { clock: Clock; logger?: SnapshotStoreLogger },
): Promise<NodeStorage> {
  await ensureDirectory(dir);
  const unlock = await acquireLock(dir);
  let logStore: LmdbStore | undefined;
  try {
    logStore = await LmdbStore.open(join(dir, LMDB_FILE));
    const snapshotStore = await newFileSnapshotStore(dir, SNAPSHOTS_RETAINED, options);
    const opened = logStore;
    let closing: Promise<void> | undefined;
    return {
      dir,
      logStore: opened,
      snapshotStore,
      close: () => (closing ??= opened.close().finally(unlock)),
    };
  } catch (error) {
    await logStore?.close().catch(() => {});
    await unlock();
    throw error instanceof ErrDataDir
      ? error
      : new ErrDataDir(`cannot open the stores in ${dir}: ${describe(error)}`);
  }
}
