/**
 * The file layer the durable stores (WalStore, FileSnapshotStore) do all their file I/O through,
 * so that a test, the simulator or a chaos run can put faults under them (src/testing/fault-files.ts:
 * failed syncs, torn writes, EIO on read, EMFILE on open) without touching the stores' code.
 *
 * Production pays nothing for it: `nodeFileSystem` hands out node:fs/promises' own FileHandle,
 * which has exactly the methods of `StoreFile`, so a write is the same call it always was.
 */
import { constants as fsConstants } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/** What a read did. */
export interface ReadResult {
  /** Bytes read: fewer than asked only at the end of the file. */
  bytesRead: number;
}

/** What a write did. */
export interface WriteResult {
  /** Bytes written: a short write is continued by the caller. */
  bytesWritten: number;
}

/** What fstat tells about an open file. */
export interface FileInfo {
  /** Bytes in the file. */
  size: number;
}

/** An open file: the subset of node:fs/promises' FileHandle the stores use. */
export interface StoreFile {
  /** Reads up to `length` bytes at `position` into `buffer` at `offset`. */
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<ReadResult>;
  /** Writes up to `length` bytes from `buffer` at `offset`; `position` null writes at the file's current position. */
  write(buffer: Uint8Array, offset: number, length: number, position: number | null): Promise<WriteResult>;
  /** fsync. */
  sync(): Promise<void>;
  /** fdatasync. */
  datasync(): Promise<void>;
  /** Cuts (or extends) the file to `length` bytes. */
  truncate(length: number): Promise<void>;
  /** The file's size. */
  stat(): Promise<FileInfo>;
  /** Releases the descriptor. */
  close(): Promise<void>;
}

/** A directory entry as readdir reports it. */
export interface DirectoryEntry {
  /** The entry's name (no directory part). */
  name: string;
  /** Whether it is a directory. */
  isDirectory(): boolean;
}

/** What `stat` tells about a path. */
export interface PathInfo {
  /** Whether it is a directory. */
  isDirectory(): boolean;
}

/** The file-system calls the durable stores make. */
export interface FileSystem {
  /** Opens `path`; `flags` are node:fs constants (O_RDWR | O_CREAT | ...). */
  open(path: string, flags: number, mode?: number): Promise<StoreFile>;
  /** The entries of a directory. */
  readdir(path: string): Promise<DirectoryEntry[]>;
  /** Like fs.mkdir: returns the first directory created with `recursive`, else undefined. */
  mkdir(path: string, options?: { recursive?: boolean; mode?: number }): Promise<string | undefined>;
  /** rename(2). */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file. */
  unlink(path: string): Promise<void>;
  /** Removes a file or a whole directory tree; a missing path is not an error. */
  removeTree(path: string): Promise<void>;
  /** What is at `path`, or null when nothing is. */
  stat(path: string): Promise<PathInfo | null>;
}

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
      await fsp.stat(dir);
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
      await fsp.mkdir(dir, { mode });
      first ??= dir;
    } catch (error) {
      // Made meanwhile by someone else: fine if it is a directory.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || !(await fsp.stat(dir)).isDirectory())
        throw error;
    }
  }
  return first;
}

/** node:fs, called directly (recursive mkdir through makeDirectory). */
export const nodeFileSystem: FileSystem = {
  open: (path, flags, mode) => fsp.open(path, flags, mode),
  readdir: (path) => fsp.readdir(path, { withFileTypes: true }),
  mkdir: (path, options) =>
    options?.recursive ? makeDirectory(path, options.mode) : fsp.mkdir(path, options),
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  removeTree: (path) => fsp.rm(path, { recursive: true, force: true }),
  stat: async (path) => {
    try {
      return await fsp.stat(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  },
};

export const O_READ = fsConstants.O_RDONLY;
/** Create or truncate, write only: a new file written from the start. */
export const O_CREATE_WRITE = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC;

/**
 * The process (EMFILE) or the system (ENFILE) has no descriptor to spare: a shortage that passes
 * once others close files, unlike damage or a missing file.
 */
export function isDescriptorShortage(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}

/** fsync of a directory makes new, renamed and removed entries in it durable (POSIX). */
export async function syncDirectory(files: FileSystem, path: string): Promise<void> {
  const dir = await files.open(path, O_READ);
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
export async function writeAll(file: StoreFile, data: Uint8Array, position?: number): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const at = position === undefined ? null : position + offset;
    const { bytesWritten } = await file.write(data, offset, data.length - offset, at);
    offset += bytesWritten;
  }
}

/**
 * Reads `length` bytes at `position` into `buffer` (from `offset`), looping over short reads;
 * returns how many it got (fewer only at the end of the file).
 */
export async function readFully(
  file: StoreFile,
  buffer: Uint8Array,
  offset: number,
  length: number,
  position: number,
): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(buffer, offset + done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/** Whether bytes [from, to) of `file` are all zero (read in chunks; a short file is not). */
export async function holdsOnlyZeros(file: StoreFile, from: number, to: number): Promise<boolean> {
  const chunk = Buffer.allocUnsafe(Math.min(1024 * 1024, Math.max(0, to - from)));
  for (let at = from; at < to; at += chunk.length) {
    const length = Math.min(chunk.length, to - at);
    if ((await readFully(file, chunk, 0, length, at)) !== length) return false;
    for (let i = 0; i < length; i++) if (chunk[i] !== 0) return false;
  }
  return true;
}

/** The whole of a small file (meta.json, a lock): refuses one over `maxBytes` before reading it. */
export async function readSmallFile(files: FileSystem, path: string, maxBytes: number): Promise<Buffer> {
  const file = await files.open(path, O_READ);
  try {
    const { size } = await file.stat();
    if (size > maxBytes) throw new RangeError(`${path} has ${size} bytes, more than the ${maxBytes} allowed`);
    const buffer = Buffer.allocUnsafe(size);
    return buffer.subarray(0, await readFully(file, buffer, 0, size, 0));
  } finally {
    await file.close();
  }
}

/** Creates `path` with `data`, durably (written, then fsynced). */
export async function writeFileDurably(files: FileSystem, path: string, data: Uint8Array): Promise<void> {
  const file = await files.open(path, O_CREATE_WRITE, 0o644);
  try {
    await writeAll(file, data);
    await file.sync();
  } finally {
    await file.close();
  }
}
