/**
 * A fault-injecting file layer for tests, the simulator and chaos runs: it wraps a FileSystem
 * (node:fs by default) and makes chosen calls fail the way disks and kernels fail. The durable
 * stores take it as their `files` option (WalStore, FileSnapshotStore). Test-only: nothing in
 * production creates one.
 *
 * Fault spec: clauses separated by `;`, each `kind` or `kind:key=value,key=value`, plus an
 * optional `seed=N` clause (default 1) for the rules' dice. Example:
 *
 *   seed=7;fsync-fail:after=100;torn-write:p=0.01;eio-read:p=0.001;emfile-open:count=3
 *
 * Kinds (what they do to an eligible call):
 * - `fsync-fail`: fsync/fdatasync fails with EIO, and so does a write to a file opened O_DSYNC or
 *   O_SYNC (such a write is a write plus a sync; its bytes may or may not have reached the file,
 *   as after a real failed fsync). A store must fail-stop: never retry, never acknowledge.
 * - `torn-write`: a write stores only a seeded prefix of its bytes (possibly none), then the layer
 *   "crashes": the write and every later call fail (SimulatedCrash) and `onCrash` runs, as if the
 *   process died mid-write. Reopening over a fresh layer must find the torn write cut off.
 * - `eio-read`: a read fails with EIO, changing nothing.
 * - `emfile-open`: an open fails with EMFILE (the process is out of descriptors), and so does a
 *   readdir (which opens the directory).
 * Keys (all optional):
 * - `after=N`: the first N eligible calls pass untouched (default 0);
 * - `p=P`: after that, each eligible call faults with probability P, from the seeded dice (default 1);
 * - `count=N`: at most N faults from this clause (default unlimited);
 * - `path=TEXT`: only calls on paths containing TEXT (default all), e.g. `path=.wal` or `path=snapshots`.
 * So `fsync-fail:after=100` fails the 101st sync and every one after it; `emfile-open:count=3`
 * fails the next three opens; `eio-read:p=0.001` fails one read in a thousand.
 */
import { constants as fsConstants } from 'node:fs';
import {
  nodeFileSystem,
  type DirectoryEntry,
  type FileSystem,
  type PathInfo,
  type StoreFile,
} from '../storage/file-system.js';
import { SeededRandom } from './prng.js';
import type { WriteHold } from './store-conformance.js';

/** The faults a spec can name (see the module comment for what each does). */
export const FAULT_KINDS = ['fsync-fail', 'torn-write', 'eio-read', 'emfile-open'] as const;
/** One of FAULT_KINDS. */
export type FaultKind = (typeof FAULT_KINDS)[number];

/** One clause of a fault spec. */
export interface FaultRule {
  /** What goes wrong. */
  kind: FaultKind;
  /** Eligible calls that pass untouched before the rule may fire. */
  after: number;
  /** Chance that each eligible call after those faults (1: every one). */
  probability: number;
  /** Most faults the rule injects (Infinity: no limit). */
  count: number;
  /** Only calls on paths containing this ('' : all). */
  path: string;
}

/** A parsed fault spec: the seed of its dice and its rules. */
export interface FaultSpec {
  /** Seeds the draws of rules with p < 1 and the length of torn writes. */
  seed: number;
  /** The clauses, in spec order; the first that fires for a call wins. */
  rules: FaultRule[];
}

/** The layer crashed (a torn write): the process this layer stands for is gone. */
export class SimulatedCrash extends Error {
  /** `'SimulatedCrash'`. */
  override name = 'SimulatedCrash';
  /** Looks like an I/O error to code that checks `code`. */
  readonly code = 'EIO';
  constructor(what: string) {
    super(`simulated crash: ${what} after a torn write`);
  }
}

/** Parses a fault spec (see the module comment); throws a RangeError naming what is wrong. */
export function parseFaultSpec(spec: string): FaultSpec {
  let seed = 1;
  const rules: FaultRule[] = [];
  for (const clause of spec.split(';').map((part) => part.trim())) {
    if (clause === '') continue;
    if (clause.startsWith('seed=')) {
      seed = parseNumber(clause.slice(5), 'seed', Number.MAX_SAFE_INTEGER);
      continue;
    }
    const colon = clause.indexOf(':');
    const kind = colon < 0 ? clause : clause.slice(0, colon);
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) {
      throw new RangeError(`fault spec: unknown fault "${kind}" (known: ${FAULT_KINDS.join(', ')})`);
    }
    const rule: FaultRule = { kind: kind as FaultKind, after: 0, probability: 1, count: Infinity, path: '' };
    for (const pair of colon < 0 ? [] : clause.slice(colon + 1).split(',')) {
      const eq = pair.indexOf('=');
      const key = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (eq < 0 || value === '')
        throw new RangeError(`fault spec: "${pair}" in "${clause}" is not key=value`);
      if (key === 'after') rule.after = parseNumber(value, key, Number.MAX_SAFE_INTEGER);
      else if (key === 'count') rule.count = parseNumber(value, key, Number.MAX_SAFE_INTEGER);
      else if (key === 'path') rule.path = value;
      else if (key === 'p') {
        rule.probability = Number(value);
        if (!(rule.probability >= 0 && rule.probability <= 1)) {
          throw new RangeError(`fault spec: p must be a number in 0..1, got "${value}"`);
        }
      } else throw new RangeError(`fault spec: unknown key "${key}" in "${clause}" (after, p, count, path)`);
    }
    rules.push(rule);
  }
  return { seed, rules };
}

function parseNumber(text: string, what: string, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value > max) {
    throw new RangeError(`fault spec: ${what} must be a non-negative integer, got "${text}"`);
  }
  return value;
}

function ioError(code: 'EIO' | 'EMFILE', syscall: string, path: string): NodeJS.ErrnoException {
  const text = code === 'EIO' ? 'i/o error' : 'too many open files';
  return Object.assign(new Error(`${code}: ${text} (injected), ${syscall} '${path}'`), {
    code,
    errno: code === 'EIO' ? -5 : -24,
    syscall,
    path,
  });
}

/** Options of FaultyFileSystem and `faultyFileSystem`. */
export interface FaultyFileSystemOptions {
  /** The layer underneath. Default: node:fs. */
  base?: FileSystem;
  /** Runs once when a torn write crashes the layer (a chaos run exits the process here). */
  onCrash?: () => void;
  /** Runs after each injected fault, with its kind and path (a chaos server tells its parent). */
  onFault?: (kind: FaultKind, path: string) => void;
  /**
   * Deliberately broken: an injected sync failure is swallowed and the sync reported done, as
   * storage code that ignores a failed fsync would see it. Only for a negative control that must
   * be caught (`raftkit chaos --break ignore-fsync`); default false.
   */
  ignoreSyncFailures?: boolean;
}

/** A FileSystem that injects the faults of a spec; see the module comment. */
export class FaultyFileSystem implements FileSystem {
  /** Faults injected so far, by kind. */
  readonly injected: Record<FaultKind, number> = {
    'fsync-fail': 0,
    'torn-write': 0,
    'eio-read': 0,
    'emfile-open': 0,
  };
  private readonly base: FileSystem;
  private readonly random: SeededRandom;
  private readonly seen: number[];
  private readonly fired: number[];
  private crashed = false;
  private stall: { parked: () => void; released: Promise<void> } | null = null;

  constructor(
    /** The rules in force (addRules extends them). */
    readonly spec: FaultSpec,
    private readonly options: FaultyFileSystemOptions = {},
  ) {
    this.base = options.base ?? nodeFileSystem;
    this.random = new SeededRandom(spec.seed);
    this.seen = spec.rules.map(() => 0);
    this.fired = spec.rules.map(() => 0);
  }

  /** Adds rules from now on (a test arms a fault once its store is open). */
  addRules(spec: string): void {
    for (const rule of parseFaultSpec(spec).rules) {
      this.spec.rules.push(rule);
      this.seen.push(0);
      this.fired.push(0);
    }
  }

  /** Drops every rule (faults already injected stay counted). */
  clearRules(): void {
    this.spec.rules.length = 0;
    this.seen.length = 0;
    this.fired.length = 0;
  }

  /** Whether a torn write has crashed the layer. */
  get isCrashed(): boolean {
    return this.crashed;
  }

  /**
   * Holds every write from now on until `release()` (a test's way to keep a commit in flight for
   * as long as it likes, instead of hoping a disk is slow). `parked` resolves once a write waits.
   */
  holdWrites(): WriteHold {
    let parked!: () => void;
    let release!: () => void;
    const parkedPromise = new Promise<void>((resolve) => (parked = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.stall = { parked, released };
    return {
      parked: parkedPromise,
      release: () => {
        this.stall = null;
        release();
      },
    };
  }

  /** Opens a file whose calls go through the rules; `emfile-open` rules apply to the open itself. */
  async open(path: string, flags: number, mode?: number): Promise<StoreFile> {
    this.checkAlive('open');
    if (this.roll('emfile-open', path)) throw ioError('EMFILE', 'open', path);
    const file = await this.base.open(path, flags, mode);
    const syncWrites = (flags & (fsConstants.O_DSYNC | fsConstants.O_SYNC)) !== 0;
    return new FaultyFile(this, file, path, syncWrites);
  }

  /** Lists a directory; it opens the directory, so `emfile-open` rules apply. */
  async readdir(path: string): Promise<DirectoryEntry[]> {
    this.checkAlive('readdir');
    if (this.roll('emfile-open', path)) throw ioError('EMFILE', 'scandir', path);
    return this.base.readdir(path);
  }

  /** Creates a directory, unless crashed. */
  mkdir(path: string, options?: { recursive?: boolean; mode?: number }): Promise<string | undefined> {
    return this.alive('mkdir', () => this.base.mkdir(path, options));
  }

  /** Renames, unless crashed. */
  rename(from: string, to: string): Promise<void> {
    return this.alive('rename', () => this.base.rename(from, to));
  }

  /** Removes a file, unless crashed. */
  unlink(path: string): Promise<void> {
    return this.alive('unlink', () => this.base.unlink(path));
  }

  /** Removes a tree, unless crashed. */
  removeTree(path: string): Promise<void> {
    return this.alive('removeTree', () => this.base.removeTree(path));
  }

  /** What is at `path`, unless crashed. */
  stat(path: string): Promise<PathInfo | null> {
    return this.alive('stat', () => this.base.stat(path));
  }

  /** @internal Whether the next eligible call of `kind` on `path` faults (counting it). */
  roll(kind: FaultKind, path: string): boolean {
    let fault = false;
    this.spec.rules.forEach((rule, i) => {
      if (fault || rule.kind !== kind || !path.includes(rule.path)) return;
      this.seen[i]++;
      if (this.seen[i] <= rule.after || this.fired[i] >= rule.count) return;
      if (rule.probability < 1 && !this.random.chance(rule.probability)) return;
      this.fired[i]++;
      fault = true;
    });
    if (fault) {
      this.injected[kind]++;
      this.options.onFault?.(kind, path);
    }
    return fault;
  }

  /** @internal Whether a failed sync is to be swallowed (the deliberately broken mode). */
  get ignoresSyncFailures(): boolean {
    return this.options.ignoreSyncFailures === true;
  }

  /** @internal How many of a torn write's `length` bytes reach the file (0..length-1, seeded). */
  tornPrefix(length: number): number {
    return Math.floor(this.random.next() * length);
  }

  /** @internal */
  checkAlive(what: string): void {
    if (this.crashed) throw new SimulatedCrash(what);
  }

  /** @internal Marks the layer crashed and tells the owner. */
  crash(): void {
    if (this.crashed) return;
    this.crashed = true;
    this.options.onCrash?.();
  }

  /** @internal Waits while writes are held. */
  async stalled(): Promise<void> {
    const stall = this.stall;
    if (stall === null) return;
    stall.parked();
    await stall.released;
  }

  private async alive<T>(what: string, call: () => Promise<T>): Promise<T> {
    this.checkAlive(what);
    return call();
  }
}

class FaultyFile implements StoreFile {
  constructor(
    private readonly layer: FaultyFileSystem,
    private readonly file: StoreFile,
    private readonly path: string,
    /** Opened O_DSYNC or O_SYNC: every write is also a sync. */
    private readonly syncWrites: boolean,
  ) {}

  async read(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesRead: number }> {
    this.layer.checkAlive('read');
    if (this.layer.roll('eio-read', this.path)) throw ioError('EIO', 'read', this.path);
    return this.file.read(buffer, offset, length, position);
  }

  async write(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number | null,
  ): Promise<{ bytesWritten: number }> {
    this.layer.checkAlive('write');
    await this.layer.stalled();
    this.layer.checkAlive('write');
    if (this.layer.roll('torn-write', this.path)) {
      const kept = this.layer.tornPrefix(length);
      if (kept > 0) await this.file.write(buffer, offset, kept, position);
      this.layer.crash();
      throw new SimulatedCrash('write');
    }
    const written = await this.file.write(buffer, offset, length, position);
    if (this.syncWrites && this.layer.roll('fsync-fail', this.path) && !this.layer.ignoresSyncFailures)
      throw ioError('EIO', 'write', this.path);
    return written;
  }

  async sync(): Promise<void> {
    await this.syncOrFail('fsync', () => this.file.sync());
  }

  async datasync(): Promise<void> {
    await this.syncOrFail('fdatasync', () => this.file.datasync());
  }

  async truncate(length: number): Promise<void> {
    this.layer.checkAlive('truncate');
    await this.file.truncate(length);
  }

  async stat(): Promise<{ size: number }> {
    this.layer.checkAlive('stat');
    return this.file.stat();
  }

  /** Closing always releases the descriptor, even after a crash (the process would have too). */
  close(): Promise<void> {
    return this.file.close();
  }

  private async syncOrFail(syscall: string, sync: () => Promise<void>): Promise<void> {
    this.layer.checkAlive(syscall);
    if (this.layer.roll('fsync-fail', this.path)) {
      if (this.layer.ignoresSyncFailures) return;
      throw ioError('EIO', syscall, this.path);
    }
    await sync();
  }
}

/** A fault-injecting file layer from a spec string (see the module comment). */
export function faultyFileSystem(spec: string, options?: FaultyFileSystemOptions): FaultyFileSystem {
  return new FaultyFileSystem(parseFaultSpec(spec), options);
}
