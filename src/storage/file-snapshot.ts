/**
 * FileSnapshotStore: snapshots on disk in hashicorp's FileSnapshotStore layout, so a directory
 * written by a Go node can be read here and the other way round.
 *
 *   <base>/snapshots/<term>-<index>-<unix ms>/state.bin   the bytes the FSM wrote
 *   <base>/snapshots/<term>-<index>-<unix ms>/meta.json   Go JSON of SnapshotMeta plus Size and CRC
 *
 * A snapshot is written under `<name>.tmp` and renamed into place only once state.bin and
 * meta.json are fsynced, so a crash never leaves a half-written snapshot under a listed name.
 * State is streamed both ways with bounded memory; readers verify size and CRC-64 as they go.
 *
 * Every snapshot operation opens files. When the process is out of descriptors (EMFILE/ENFILE),
 * the operation fails with ErrOutOfDescriptors and leaves nothing behind: a snapshot that cannot be
 * taken now is taken later, and a listing never leaves out a snapshot it merely could not open.
 * A failed read is ErrStoreRead. All file I/O goes through the `files` layer (file-system.ts).
 *
 * One store instance per directory: initialisation removes `.tmp` directories left by a crash.
 */
import { basename, join } from 'node:path';
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Clock } from '../core/clock.js';
import {
  ErrInvalidConfig,
  ErrOutOfDescriptors,
  ErrSnapshotCorrupt,
  ErrSnapshotNotFound,
  ErrSnapshotStore,
  ErrStoreRead,
  RaftError,
} from '../core/errors.js';
import type { SnapshotMeta } from '../core/types.js';
import { Crc64 } from './crc64.js';
import {
  O_CREATE_WRITE,
  O_READ,
  isDescriptorShortage,
  nodeFileSystem,
  readSmallFile,
  syncDirectory,
  writeAll,
  writeFileDurably,
  type DirectoryEntry,
  type FileSystem,
  type StoreFile,
} from './file-system.js';
import {
  SnapshotVersionMax,
  SnapshotVersionMin,
  compareNewestFirst,
  copySnapshotMeta,
  encodeMetaJson,
  newSnapshotMeta,
  parseMetaJson,
  sinkWriteRefusal,
  type FileSnapshotMeta,
  type SnapshotCreateArgs,
} from './snapshot-meta.js';
import type { OpenedSnapshot, SnapshotSink, SnapshotStore, StoreLogger } from './types.js';

export { encodeMetaJson, parseMetaJson, type FileSnapshotMeta } from './snapshot-meta.js';

const SNAPSHOTS_DIR = 'snapshots';
const PERM_TEST_FILE = 'permTest';
const META_FILE = 'meta.json';
const STATE_FILE = 'state.bin';
const TMP_SUFFIX = '.tmp';
const DIR_MODE = 0o755;
/** Like Go's bufio.Writer in front of state.bin: small FSM writes become few syscalls. */
const WRITE_BUFFER_BYTES = 1 << 20;
const READ_CHUNK_BYTES = 256 * 1024;
const MAX_NAME_ATTEMPTS = 1000;
/** A meta.json larger than this is refused unread (it holds a configuration, not data). */
const MAX_META_BYTES = 16 * 1024 * 1024;

/** The part of pino's interface the store uses. */
export type SnapshotStoreLogger = StoreLogger;

const silentLogger: StoreLogger = { info: () => {}, warn: () => {} };

/** Options of the FileSnapshotStore constructor and `newFileSnapshotStore`. */
export interface FileSnapshotStoreOptions {
  /** Its wallTime stamps snapshot names (`<term>-<index>-<unix ms>`). */
  clock: Clock;
  /** Where the store reports what it did (pino-compatible); silent by default. */
  logger?: StoreLogger;
  /** The file layer. Default: node:fs. Tests put faults here (raftkit/testing's FaultyFileSystem). */
  files?: FileSystem;
}

/** hashicorp's NewFileSnapshotStore: creates the directory and checks it is writable. */
export async function newFileSnapshotStore(
  baseDir: string,
  retain: number,
  options: FileSnapshotStoreOptions,
): Promise<FileSnapshotStore> {
  const store = new FileSnapshotStore(baseDir, retain, options);
  await store.init();
  return store;
}

/**
 * hashicorp's FileSnapshotStore, same layout: `<base>/snapshots/<term>-<index>-<ms>/` holding
 * `meta.json` and `state.bin` (with its CRC64), written under a `.tmp` name and renamed when
 * complete, streamed in both directions; the newest `retain` are kept. A Go node's snapshot
 * directory is readable and the other way round.
 */
export class FileSnapshotStore implements SnapshotStore {
  /** `<base>/snapshots`. */
  readonly dir: string;
  /** The file layer the store works through (node:fs unless the options gave another). */
  readonly files: FileSystem;
  private readonly clock: Clock;
  private readonly logger: StoreLogger;
  private ready: Promise<void> | undefined;

  /** Touches no disk: init() (or the first operation) prepares the directory. */
  constructor(
    baseDir: string,
    /** How many snapshots are kept; older ones are deleted after each new one. */
    readonly retain: number,
    options: FileSnapshotStoreOptions,
  ) {
    if (!Number.isSafeInteger(retain) || retain < 1) {
      throw new ErrInvalidConfig(`must retain at least one snapshot (retain = ${retain})`);
    }
    this.dir = join(baseDir, SNAPSHOTS_DIR);
    this.clock = options.clock;
    this.logger = options.logger ?? silentLogger;
    this.files = options.files ?? nodeFileSystem;
  }

  /** Creates `<base>/snapshots`, tests that it is writable and removes leftovers of a crash. Idempotent. */
  init(): Promise<void> {
    this.ready ??= this.prepareDirectory().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  async create(...args: SnapshotCreateArgs): Promise<SnapshotSink> {
    // Checks the version before touching the disk; the ID is the directory's name, found below.
    const meta = newSnapshotMeta('', ...args);
    await this.init();
    const { name, tmpDir } = await this.makeTmpDir(meta.term, meta.index);
    let state: StoreFile;
    try {
      state = await this.files.open(join(tmpDir, STATE_FILE), O_CREATE_WRITE, 0o644);
    } catch (err) {
      await this.files.removeTree(tmpDir).catch(() => {});
      throw storeError(`cannot create ${STATE_FILE} in ${tmpDir}`, err);
    }
    this.logger.info({ id: name }, 'creating new snapshot');
    return new FileSnapshotSink(this, { ...meta, id: name }, tmpDir, state);
  }

  /** Newest first by (term, index, id), at most `retain`. Unreadable or unknown-version snapshots are left out. */
  async list(): Promise<SnapshotMeta[]> {
    const all = await this.readAll();
    return all.slice(0, this.retain).map(({ meta }) => toSnapshotMeta(meta));
  }

  /**
   * Streams state.bin. Size and CRC are checked before (size) and while (both) it streams: a
   * mismatch makes the reader emit ErrSnapshotCorrupt at the end, after the bytes went through.
   * Call verify() first to reject a corrupt snapshot before consuming any of it.
   */
  async open(id: string): Promise<OpenedSnapshot> {
    await this.init();
    const { meta, state } = await this.openState(id);
    const verifier = new VerifyingStream(id, meta.size, meta.crc!);
    // pipeline forwards a read error to the verifier and closes the file if the reader is destroyed.
    pipeline(fileReader(state, join(this.dir, id, STATE_FILE)), verifier, () => {});
    return { meta: toSnapshotMeta(meta), reader: verifier };
  }

  /** Reads state.bin once, streaming; rejects with ErrSnapshotCorrupt on a size or CRC mismatch. */
  async verify(id: string): Promise<void> {
    const { reader } = await this.open(id);
    reader.resume();
    await finished(reader);
  }

  /**
   * Deletes snapshots beyond `retain`, oldest first. Failures are logged, not thrown: the new
   * snapshot is already safe, and the next close() tries again.
   */
  async reap(): Promise<void> {
    try {
      for (const { dirName } of (await this.readAll()).slice(this.retain)) {
        this.logger.info({ id: dirName }, 'reaping snapshot');
        await this.files.removeTree(join(this.dir, dirName));
      }
    } catch (err) {
      this.logger.warn({ err: errorText(err) }, 'failed to reap snapshots');
    }
  }

  private async prepareDirectory(): Promise<void> {
    try {
      await this.files.mkdir(this.dir, { recursive: true, mode: DIR_MODE });
    } catch (err) {
      throw storeError('snapshot path not accessible', err);
    }
    const probe = join(this.dir, PERM_TEST_FILE);
    try {
      await (await this.files.open(probe, O_CREATE_WRITE, 0o644)).close();
      await this.files.unlink(probe);
    } catch (err) {
      throw storeError('permissions test failed', err);
    }
    for (const entry of await this.listDirectory()) {
      if (entry.isDirectory() && entry.name.endsWith(TMP_SUFFIX)) {
        this.logger.warn({ dir: entry.name }, 'removing unfinished snapshot left by a crash');
        await this.files.removeTree(join(this.dir, entry.name));
      }
    }
  }

  /** The entries of `<base>/snapshots` (reading a directory takes a descriptor too). */
  private async listDirectory(): Promise<DirectoryEntry[]> {
    try {
      return await this.files.readdir(this.dir);
    } catch (err) {
      throw storeError(`cannot list ${this.dir}`, err);
    }
  }

  /** Reserves `<term>-<index>-<ms>.tmp`, moving ms forward until neither it nor the final name exists. */
  private async makeTmpDir(term: number, index: number): Promise<{ name: string; tmpDir: string }> {
    let ms = Math.floor(this.clock.wallTime());
    for (let attempt = 0; attempt < MAX_NAME_ATTEMPTS; attempt++, ms++) {
      const name = `${term}-${index}-${ms}`;
      if ((await this.files.stat(join(this.dir, name))) !== null) continue;
      const tmpDir = join(this.dir, name + TMP_SUFFIX);
      try {
        await this.files.mkdir(tmpDir, { mode: DIR_MODE });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw storeError(`cannot create snapshot directory ${tmpDir}`, err);
      }
      return { name, tmpDir };
    }
    throw new ErrSnapshotStore(`no free snapshot name for term ${term} index ${index}`);
  }

  /**
   * Every readable finished snapshot, newest first. A snapshot whose meta.json cannot be opened
   * for want of descriptors is not "unreadable": the listing fails with ErrOutOfDescriptors instead.
   */
  private async readAll(): Promise<{ dirName: string; meta: FileSnapshotMeta }[]> {
    await this.init();
    const found: { dirName: string; meta: FileSnapshotMeta }[] = [];
    for (const entry of await this.listDirectory()) {
      if (!entry.isDirectory()) continue;
      if (entry.name.endsWith(TMP_SUFFIX)) {
        this.logger.warn({ dir: entry.name }, 'found temporary snapshot');
        continue;
      }
      let meta: FileSnapshotMeta;
      try {
        meta = await this.readMeta(entry.name);
      } catch (err) {
        if (isDescriptorShortage(err)) throw storeError(`cannot read ${entry.name}/${META_FILE}`, err);
        this.logger.warn({ dir: entry.name, err: errorText(err) }, 'failed to read snapshot metadata');
        continue;
      }
      if (meta.version < SnapshotVersionMin || meta.version > SnapshotVersionMax) {
        this.logger.warn({ dir: entry.name, version: meta.version }, 'snapshot version not supported');
        continue;
      }
      found.push({ dirName: entry.name, meta });
    }
    return found.sort((a, b) => compareNewestFirst(a.meta, b.meta));
  }

  private async readMeta(dirName: string): Promise<FileSnapshotMeta> {
    const bytes = await readSmallFile(this.files, join(this.dir, dirName, META_FILE), MAX_META_BYTES);
    return parseMetaJson(bytes.toString('utf8'));
  }

  private async openState(id: string): Promise<{ meta: FileSnapshotMeta; state: StoreFile }> {
    if (!isPlainName(id)) throw new ErrSnapshotNotFound(`invalid snapshot id ${JSON.stringify(id)}`);
    if ((await this.files.stat(join(this.dir, id))) === null) throw new ErrSnapshotNotFound(id);
    let meta: FileSnapshotMeta;
    try {
      meta = await this.readMeta(id);
    } catch (err) {
      if (isDescriptorShortage(err)) throw storeError(`${id}: cannot open ${META_FILE}`, err);
      throw new ErrSnapshotCorrupt(`${id}: unreadable ${META_FILE}: ${errorText(err)}`);
    }
    if (meta.crc === null) throw new ErrSnapshotCorrupt(`${id}: ${META_FILE} has no CRC`);
    let state: StoreFile;
    try {
      state = await this.files.open(join(this.dir, id, STATE_FILE), O_READ);
    } catch (err) {
      if (isDescriptorShortage(err)) throw storeError(`${id}: cannot open ${STATE_FILE}`, err);
      throw new ErrSnapshotCorrupt(`${id}: cannot open ${STATE_FILE}: ${errorText(err)}`);
    }
    try {
      const actualSize = (await state.stat()).size;
      if (actualSize !== meta.size) {
        throw new ErrSnapshotCorrupt(
          `${id}: ${STATE_FILE} has ${actualSize} bytes, meta.json says ${meta.size}`,
        );
      }
    } catch (err) {
      await state.close();
      throw err;
    }
    return { meta, state };
  }
}

class FileSnapshotSink implements SnapshotSink {
  private readonly buffer = Buffer.allocUnsafe(WRITE_BUFFER_BYTES);
  private buffered = 0;
  private size = 0;
  private readonly crc = new Crc64();
  private finished = false;
  /** Writes run one after another; a failed one fails every later one. */
  private queue: Promise<void> = Promise.resolve();
  private failure: unknown;

  constructor(
    private readonly store: FileSnapshotStore,
    private readonly meta: SnapshotMeta,
    private readonly tmpDir: string,
    private readonly state: StoreFile,
  ) {}

  get id(): string {
    return this.meta.id;
  }

  write(chunk: Uint8Array): Promise<void> {
    const refusal = sinkWriteRefusal(this.id, this.finished, chunk);
    if (refusal) return Promise.reject(refusal);
    const done = this.queue
      .then(() => this.append(chunk))
      .catch((err: unknown) => {
        throw storeError(`snapshot ${this.id}`, err);
      });
    this.queue = done.catch((err: unknown) => {
      this.failure ??= err;
    });
    return done;
  }

  /** Makes the snapshot durable and visible: fsync state.bin, write meta.json, rename, fsync the parent. */
  async close(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    const files = this.store.files;
    try {
      await this.queue;
      if (this.failure !== undefined) throw this.failure;
      await this.flush();
      await this.state.sync();
      await this.state.close();
      const meta = { ...this.meta, size: this.size, crc: this.crc.digest() };
      await writeFileDurably(files, join(this.tmpDir, META_FILE), Buffer.from(encodeMetaJson(meta), 'utf8'));
      await syncDirectory(files, this.tmpDir);
      await files.rename(this.tmpDir, join(this.store.dir, this.id));
      await syncDirectory(files, this.store.dir);
    } catch (err) {
      await this.discard();
      throw storeError(`snapshot ${this.id}`, err);
    }
    await this.store.reap();
  }

  /** Abandons the snapshot: nothing of it stays on disk. */
  async cancel(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await this.queue;
    await this.discard();
  }

  private async append(chunk: Uint8Array): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    this.crc.update(chunk);
    this.size += chunk.length;
    if (this.buffered + chunk.length > this.buffer.length) await this.flush();
    if (chunk.length >= this.buffer.length) {
      await writeAll(this.state, chunk);
      return;
    }
    // Copied: the caller may reuse its buffer as soon as this resolves.
    this.buffer.set(chunk, this.buffered);
    this.buffered += chunk.length;
  }

  private async flush(): Promise<void> {
    if (this.buffered === 0) return;
    await writeAll(this.state, this.buffer.subarray(0, this.buffered));
    this.buffered = 0;
  }

  private async discard(): Promise<void> {
    await this.state.close().catch(() => {});
    await this.store.files.removeTree(this.tmpDir).catch(() => {});
  }
}

/** Streams a whole file through the file layer, closing it at the end or when destroyed. */
function fileReader(file: StoreFile, path: string): Readable {
  let position = 0;
  return new Readable({
    highWaterMark: READ_CHUNK_BYTES,
    read() {
      const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
      file.read(buffer, 0, buffer.length, position).then(
        ({ bytesRead }) => {
          position += bytesRead;
          this.push(bytesRead === 0 ? null : buffer.subarray(0, bytesRead));
        },
        (err: unknown) => this.destroy(new ErrStoreRead(`${path} at offset ${position}: ${errorText(err)}`)),
      );
    },
    destroy(err, callback) {
      file.close().then(
        () => callback(err),
        () => callback(err),
      );
    },
  });
}

/** Passes state.bin through, checking its length and CRC against meta.json. */
class VerifyingStream extends Transform {
  private readonly crc = new Crc64();
  private seen = 0;

  constructor(
    private readonly id: string,
    private readonly expectedSize: number,
    private readonly expectedCrc: Uint8Array,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.expectedSize) {
      callback(new ErrSnapshotCorrupt(`${this.id}: ${STATE_FILE} is longer than ${this.expectedSize} bytes`));
      return;
    }
    this.crc.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.seen !== this.expectedSize) {
      callback(
        new ErrSnapshotCorrupt(
          `${this.id}: ${STATE_FILE} has ${this.seen} bytes, expected ${this.expectedSize}`,
        ),
      );
      return;
    }
    const computed = this.crc.digest();
    if (!Buffer.from(computed).equals(this.expectedCrc)) {
      callback(
        new ErrSnapshotCorrupt(
          `${this.id}: CRC mismatch (stored ${hex(this.expectedCrc)}, computed ${hex(computed)})`,
        ),
      );
      return;
    }
    callback();
  }
}

function toSnapshotMeta(meta: FileSnapshotMeta): SnapshotMeta {
  const { crc: _crc, ...rest } = meta;
  return copySnapshotMeta(rest);
}

function isPlainName(id: string): boolean {
  return (
    id.length > 0 &&
    id !== '.' &&
    id !== '..' &&
    !id.endsWith(TMP_SUFFIX) &&
    basename(id) === id &&
    !id.includes('\\') &&
    !id.includes('\0')
  );
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/**
 * The typed error for a failed snapshot operation: ErrOutOfDescriptors when descriptors ran out
 * (retry later), a RaftError as it is, anything else ErrSnapshotStore.
 */
function storeError(context: string, err: unknown): Error {
  if (isDescriptorShortage(err)) return new ErrOutOfDescriptors(`${context}: ${errorText(err)}`);
  if (err instanceof RaftError) return err;
  return new ErrSnapshotStore(`${context}: ${errorText(err)}`);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
