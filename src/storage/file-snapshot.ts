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
 * One store instance per directory: initialisation removes `.tmp` directories left by a crash.
 */
import * as fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Transform, pipeline, type TransformCallback } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Clock } from '../core/clock.js';
import {
  ErrInvalidConfig,
  ErrSnapshotCorrupt,
  ErrSnapshotNotFound,
  ErrSnapshotStore,
} from '../core/errors.js';
import { ServerSuffrage, type Configuration, type Server, type SnapshotMeta } from '../core/types.js';
import { decodePeers, encodePeers } from '../wire/configuration.js';
import { Crc64 } from './crc64.js';
import { syncDirectory, writeAll } from './fs-util.js';
import {
  SnapshotVersionMax,
  SnapshotVersionMin,
  checkCreateVersion,
  copyConfiguration,
  copySnapshotMeta,
} from './inmem-snapshot.js';
import type { OpenedSnapshot, SnapshotSink, SnapshotStore } from './types.js';

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

/** The part of pino's interface the store uses. */
export interface SnapshotStoreLogger {
  /** Routine events: a snapshot created or reaped. */
  info(obj: object, msg?: string): void;
  /** Trouble the store worked around: crash leftovers removed, unreadable snapshots skipped, a failed reap. */
  warn(obj: object, msg?: string): void;
}

const silentLogger: SnapshotStoreLogger = { info: () => {}, warn: () => {} };

/** Options of the FileSnapshotStore constructor and `newFileSnapshotStore`. */
export interface FileSnapshotStoreOptions {
  /** Its wallTime stamps snapshot names (`<term>-<index>-<unix ms>`). */
  clock: Clock;
  /** Where the store reports what it did (pino-compatible); silent by default. */
  logger?: SnapshotStoreLogger;
}

/** Metadata as stored in meta.json: SnapshotMeta plus the CRC of state.bin (null if Go wrote none). */
export interface FileSnapshotMeta extends SnapshotMeta {
  crc: Uint8Array | null;
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
  private readonly clock: Clock;
  private readonly logger: SnapshotStoreLogger;
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
  }

  /** Creates `<base>/snapshots`, tests that it is writable and removes leftovers of a crash. Idempotent. */
  init(): Promise<void> {
    this.ready ??= this.prepareDirectory().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  async create(
    version: number,
    index: number,
    term: number,
    configuration: Configuration,
    configurationIndex: number,
  ): Promise<SnapshotSink> {
    checkCreateVersion(version);
    await this.init();
    const { name, tmpDir } = await this.makeTmpDir(term, index);
    let state: FileHandle;
    try {
      state = await fs.open(join(tmpDir, STATE_FILE), 'w');
    } catch (err) {
      await fs.rm(tmpDir, { recursive: true, force: true });
      throw new ErrSnapshotStore(`cannot create ${STATE_FILE} in ${tmpDir}: ${errorText(err)}`);
    }
    const meta: SnapshotMeta = {
      version,
      id: name,
      index,
      term,
      configuration: copyConfiguration(configuration),
      configurationIndex,
      size: 0,
    };
    this.logger.info({ id: name }, 'creating new snapshot');
    return new FileSnapshotSink(this, meta, tmpDir, state);
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
    const file = state.createReadStream({ highWaterMark: READ_CHUNK_BYTES });
    const verifier = new VerifyingStream(id, meta.size, meta.crc!);
    // pipeline forwards a read error to the verifier and closes the file if the reader is destroyed.
    pipeline(file, verifier, () => {});
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
        await fs.rm(join(this.dir, dirName), { recursive: true, force: true });
      }
    } catch (err) {
      this.logger.warn({ err: errorText(err) }, 'failed to reap snapshots');
    }
  }

  private async prepareDirectory(): Promise<void> {
    try {
      await fs.mkdir(this.dir, { recursive: true, mode: DIR_MODE });
    } catch (err) {
      throw new ErrSnapshotStore(`snapshot path not accessible: ${errorText(err)}`);
    }
    const probe = join(this.dir, PERM_TEST_FILE);
    try {
      await fs.writeFile(probe, '');
      await fs.unlink(probe);
    } catch (err) {
      throw new ErrSnapshotStore(`permissions test failed: ${errorText(err)}`);
    }
    for (const entry of await fs.readdir(this.dir, { withFileTypes: true })) {
      if (entry.isDirectory() && entry.name.endsWith(TMP_SUFFIX)) {
        this.logger.warn({ dir: entry.name }, 'removing unfinished snapshot left by a crash');
        await fs.rm(join(this.dir, entry.name), { recursive: true, force: true });
      }
    }
  }

  /** Reserves `<term>-<index>-<ms>.tmp`, moving ms forward until neither it nor the final name exists. */
  private async makeTmpDir(term: number, index: number): Promise<{ name: string; tmpDir: string }> {
    let ms = Math.floor(this.clock.wallTime());
    for (let attempt = 0; attempt < MAX_NAME_ATTEMPTS; attempt++, ms++) {
      const name = `${term}-${index}-${ms}`;
      if (await exists(join(this.dir, name))) continue;
      const tmpDir = join(this.dir, name + TMP_SUFFIX);
      try {
        await fs.mkdir(tmpDir, { mode: DIR_MODE });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw new ErrSnapshotStore(`cannot create snapshot directory ${tmpDir}: ${errorText(err)}`);
      }
      return { name, tmpDir };
    }
    throw new ErrSnapshotStore(`no free snapshot name for term ${term} index ${index}`);
  }

  /** Every readable finished snapshot, newest first. */
  private async readAll(): Promise<{ dirName: string; meta: FileSnapshotMeta }[]> {
    await this.init();
    const found: { dirName: string; meta: FileSnapshotMeta }[] = [];
    for (const entry of await fs.readdir(this.dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      if (entry.name.endsWith(TMP_SUFFIX)) {
        this.logger.warn({ dir: entry.name }, 'found temporary snapshot');
        continue;
      }
      let meta: FileSnapshotMeta;
      try {
        meta = await this.readMeta(entry.name);
      } catch (err) {
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
    return parseMetaJson(await fs.readFile(join(this.dir, dirName, META_FILE), 'utf8'));
  }

  private async openState(id: string): Promise<{ meta: FileSnapshotMeta; state: FileHandle }> {
    if (!isPlainName(id)) throw new ErrSnapshotNotFound(`invalid snapshot id ${JSON.stringify(id)}`);
    if (!(await exists(join(this.dir, id)))) throw new ErrSnapshotNotFound(id);
    let meta: FileSnapshotMeta;
    try {
      meta = await this.readMeta(id);
    } catch (err) {
      throw new ErrSnapshotCorrupt(`${id}: unreadable ${META_FILE}: ${errorText(err)}`);
    }
    if (meta.crc === null) throw new ErrSnapshotCorrupt(`${id}: ${META_FILE} has no CRC`);
    let state: FileHandle;
    try {
      state = await fs.open(join(this.dir, id, STATE_FILE), 'r');
    } catch (err) {
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
    private readonly state: FileHandle,
  ) {}

  get id(): string {
    return this.meta.id;
  }

  write(chunk: Uint8Array): Promise<void> {
    if (this.finished) return Promise.reject(new ErrSnapshotStore(`snapshot ${this.id} is already closed`));
    if (!(chunk instanceof Uint8Array)) {
      return Promise.reject(new ErrSnapshotStore('snapshot data must be a Uint8Array'));
    }
    const done = this.queue
      .then(() => this.append(chunk))
      .catch((err: unknown) => {
        throw asStoreError(this.id, err);
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
    try {
      await this.queue;
      if (this.failure !== undefined) throw this.failure;
      await this.flush();
      await this.state.sync();
      await this.state.close();
      const meta = { ...this.meta, size: this.size, crc: this.crc.digest() };
      await writeDurably(join(this.tmpDir, META_FILE), encodeMetaJson(meta));
      await syncDirectory(this.tmpDir);
      await fs.rename(this.tmpDir, join(this.store.dir, this.id));
      await syncDirectory(this.store.dir);
    } catch (err) {
      await this.discard();
      throw asStoreError(this.id, err);
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
    await fs.rm(this.tmpDir, { recursive: true, force: true });
  }
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

// ---------------------------------------------------------------------------------------------
// meta.json, exactly as Go's encoding/json writes hashicorp's fileSnapshotMeta.

interface GoServer {
  Suffrage: number;
  ID: string;
  Address: string;
}

/** Go's json.Encoder output: struct field order, []byte as base64, HTML-safe escapes, trailing newline. */
export function encodeMetaJson(meta: FileSnapshotMeta): string {
  const voters = meta.configuration.servers.filter((s) => s.suffrage === ServerSuffrage.Voter);
  const servers: GoServer[] = meta.configuration.servers.map((s) => ({
    Suffrage: s.suffrage,
    ID: s.id,
    Address: s.address,
  }));
  const json = JSON.stringify({
    Version: meta.version,
    ID: meta.id,
    Index: meta.index,
    Term: meta.term,
    Peers: base64(encodePeers(voters.map((s) => s.address))),
    Configuration: { Servers: servers.length === 0 ? null : servers },
    ConfigurationIndex: meta.configurationIndex,
    Size: meta.size,
    CRC: meta.crc === null ? null : base64(meta.crc),
  });
  return (
    json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) + '\n'
  );
}

/** Parses meta.json strictly enough that a damaged file is refused rather than misread. */
export function parseMetaJson(text: string): FileSnapshotMeta {
  const root = asObject(JSON.parse(text), 'meta.json');
  const configurationField = root.Configuration ?? null;
  let configuration: Configuration = { servers: [] };
  if (configurationField !== null) {
    const servers = asObject(configurationField, 'Configuration').Servers ?? null;
    if (servers !== null) {
      if (!Array.isArray(servers)) throw new Error('Configuration.Servers is not an array');
      configuration = { servers: servers.map(parseServer) };
    }
  }
  const peers = optionalBytes(root.Peers, 'Peers');
  // Version 0 snapshots carry only the legacy peers list; hashicorp turns it into all-voter servers.
  if (configuration.servers.length === 0 && peers !== null && peers.length > 0) {
    configuration = {
      servers: decodePeers(peers).map((address) => ({
        suffrage: ServerSuffrage.Voter,
        id: address,
        address,
      })),
    };
  }
  const crc = optionalBytes(root.CRC, 'CRC');
  if (crc !== null && crc.length !== 8) throw new Error(`CRC has ${crc.length} bytes, expected 8`);
  if (typeof root.ID !== 'string') throw new Error('ID is not a string');
  return {
    version: uint(root.Version ?? 0, 'Version'),
    id: root.ID,
    index: uint(root.Index, 'Index'),
    term: uint(root.Term, 'Term'),
    configuration,
    configurationIndex: uint(root.ConfigurationIndex ?? 0, 'ConfigurationIndex'),
    size: uint(root.Size, 'Size'),
    crc,
  };
}

function parseServer(value: unknown, position: number): Server {
  const server = asObject(value, `Servers[${position}]`);
  const suffrage = uint(server.Suffrage ?? 0, 'Suffrage');
  if (suffrage > ServerSuffrage.Staging) throw new Error(`unknown suffrage ${suffrage}`);
  if (typeof server.ID !== 'string' || typeof server.Address !== 'string') {
    throw new Error(`Servers[${position}] needs string ID and Address`);
  }
  return { suffrage, id: server.ID, address: server.Address };
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`${what} is not an object`);
  return value as Record<string, unknown>;
}

function uint(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new Error(`${what} is not an unsigned safe integer`);
  }
  return value;
}

/** A Go []byte field: base64 text, or null for a nil slice. */
function optionalBytes(value: unknown, what: string): Uint8Array | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new Error(`${what} is not base64 text`);
  const bytes = Buffer.from(value, 'base64');
  if (bytes.toString('base64') !== value) throw new Error(`${what} is not valid base64`);
  return bytes;
}

function toSnapshotMeta(meta: FileSnapshotMeta): SnapshotMeta {
  const { crc: _crc, ...rest } = meta;
  return copySnapshotMeta(rest);
}

/** hashicorp's order: by term, then index, then ID; newest first. */
function compareNewestFirst(a: SnapshotMeta, b: SnapshotMeta): number {
  if (a.term !== b.term) return b.term - a.term;
  if (a.index !== b.index) return b.index - a.index;
  return a.id === b.id ? 0 : a.id < b.id ? 1 : -1;
}

// ---------------------------------------------------------------------------------------------
// File system helpers.

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

async function exists(path: string): Promise<boolean> {
  try {
    await fs.stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function writeDurably(path: string, text: string): Promise<void> {
  const file = await fs.open(path, 'w');
  try {
    await writeAll(file, Buffer.from(text, 'utf8'));
    await file.sync();
  } finally {
    await file.close();
  }
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

function asStoreError(id: string, err: unknown): Error {
  return err instanceof ErrSnapshotStore ? err : new ErrSnapshotStore(`snapshot ${id}: ${errorText(err)}`);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
