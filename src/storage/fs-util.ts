/** Small file-system helpers the durable stores share. */
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readFile, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p`: creates `path` and its missing parents; resolves to the first directory it created
 * (undefined if `path` existed), as `mkdir(path, { recursive: true })` does. Node's own recursive
 * mkdir spins forever at 100% CPU where a parent exists but refuses children with ENOENT (procfs:
 * `/proc/foo`), so this walks the path itself and fails with the error of the first directory
 * that cannot be made.
 */
export async function makeDirectory(path: string, mode?: number): Promise<string | undefined> {
  const missing: string[] = [];
  for (let dir = resolve(path); ;) {
    try {
      await stat(dir);
      break;
    } catch (error) {
      const parent = dirname(dir);
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === dir) throw error;
      missing.push(dir);
      dir = parent;
    }
  }
  let first: string | undefined;
  for (const dir of missing.reverse()) {
    try {
      await mkdir(dir, { mode });
      first ??= dir;
    } catch (error) {
      // Made meanwhile by someone else: fine if it is a directory.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || !(await stat(dir)).isDirectory()) throw error;
    }
  }
  return first;
}

/** fsync of a directory makes new, renamed and removed entries in it durable (POSIX). */
export async function syncDirectory(path: string): Promise<void> {
  const dir = await open(path, fsConstants.O_RDONLY);
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/**
 * Writes all of `data`, looping over short writes: at `position` when given, else at the file's
 * current position.
 */
export async function writeAll(file: FileHandle, data: Uint8Array, position?: number): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const at = position === undefined ? null : position + offset;
    const { bytesWritten } = await file.write(data, offset, data.length - offset, at);
    offset += bytesWritten;
  }
}

/** A lock file is held by a live process (this one included). */
export class LockHeld extends Error {
  override name = 'LockHeld';
  constructor(
    readonly path: string,
    readonly holder: number,
  ) {
    super(`${path} is held by ${holder === process.pid ? 'this process' : `process ${holder}`}`);
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

/**
 * Takes `path` as a lock file holding our pid; one left by a process that died (SIGKILL, power
 * cut) is taken over. Resolves to the function that releases it; rejects with LockHeld while a
 * live process holds it.
 */
export async function acquirePidLock(path: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return () => rm(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (Number.isSafeInteger(holder) && holder > 0 && processAlive(holder)) throw new LockHeld(path, holder);
    await rm(path, { force: true });
  }
  throw new Error(`cannot take the lock ${path}`);
}
