/**
 * The simulated disk of one node process: writes become durable (visible in the shared "physical"
 * InmemStore) only when their scheduled completion fires, in issue order. A crash kills the
 * process's view: pending writes never land and nothing it issues later does either.
 */
import { ErrLogNotFound, ErrStoreCorrupt, RaftError } from '../core/errors.js';
import type { LogEntry, SnapshotMeta } from '../core/types.js';
import type { SnapshotCreateArgs } from '../storage/snapshot-meta.js';
import { InmemStore } from '../storage/inmem.js';
import type {
  EntryTerms,
  LogStore,
  OpenedSnapshot,
  SnapshotSink,
  SnapshotStore,
  StableStore,
} from '../storage/types.js';
import type { Timer } from '../core/clock.js';
import type { SeededRandom } from './prng.js';
import type { Scheduler } from './scheduler.js';
import { chainHash } from './sim-fsm.js';

const RESOLVED = Promise.resolve();

/** A simulated fsync failure: the runtime must fail-stop (never retry the write). */
export class SimDiskError extends RaftError {
  override name = 'SimDiskError';
}

/**
 * One node's physical disk: an InmemStore whose log records carry a checksum, as the WAL's records
 * do (wal-format.ts), so that a record damaged at rest is found when it is read.
 */
export class SimMedium extends InmemStore {
  private readonly sums = new Map<number, number>();

  override storeLogsSync(entries: readonly LogEntry[]): void {
    super.storeLogsSync(entries);
    for (const entry of entries) this.sums.set(entry.index, recordSum(entry));
  }

  override deleteRangeSync(min: number, max: number): void {
    super.deleteRangeSync(min, max);
    for (const index of this.sums.keys()) if (index >= min && index <= max) this.sums.delete(index);
  }

  /**
   * Damages a record strictly inside the log (neither its first nor its last: damage there is no
   * torn tail), `pick(lo, hi)` choosing its index in [lo, hi); null when the log is too short.
   */
  damageMiddle(pick: (lo: number, hi: number) => number): LogEntry | null {
    let first = Infinity;
    let last = 0;
    for (const index of this.logs.keys()) {
      first = Math.min(first, index);
      last = Math.max(last, index);
    }
    return last - first < 2 ? null : this.damage(pick(first + 1, last));
  }

  /**
   * Damages the record at `index` at rest (one byte of its data flipped, or a stray byte given to
   * a record without data, as a damaged length field would), leaving its checksum as it was;
   * returns the damaged entry, or null when there is none. The damage must give a record that no
   * honest node writes: the integrity invariant recognises it by content, and a noop whose term
   * was bumped instead is exactly the noop the next leader writes at the same index.
   */
  damage(index: number): LogEntry | null {
    const entry = this.logs.get(index);
    if (!entry) return null;
    const data = entry.data.length > 0 ? Uint8Array.from(entry.data) : Uint8Array.of(0); // a copy (Buffer.slice is a view)
    data[Math.floor(data.length / 2)] ^= 0xff;
    const damaged = { ...entry, data };
    this.logs.set(index, damaged);
    return damaged;
  }

  /** The term of the record at `index`, or undefined when there is none. */
  termAt(index: number): number | undefined {
    return this.logs.get(index)?.term;
  }

  /**
   * Loses every record from `from` on though they were synced (a disk or a controller that lies
   * about fsync, or a log restored from an older copy); the stable store keeps what it held.
   */
  loseTail(from: number): void {
    let last = 0;
    for (const index of this.logs.keys()) last = Math.max(last, index);
    if (last >= from) this.deleteRangeSync(from, last);
  }

  /** Throws ErrStoreCorrupt when `entry` does not match the checksum stored with it. */
  verify(entry: LogEntry): void {
    if (this.sums.get(entry.index) !== recordSum(entry))
      throw new ErrStoreCorrupt(`simulated log record ${entry.index}: checksum mismatch`);
  }

  /** What the WAL's open does: every record's checksum is checked (ErrStoreCorrupt on damage). */
  verifyAll(): void {
    for (const entry of this.logs.values()) this.verify(entry);
  }
}

/** A record's checksum: FNV-1a over its index, term, type and data (one flipped byte always shows). */
function recordSum(entry: LogEntry): number {
  return chainHash(chainHash(entry.term, entry.type, entry.data), entry.index, entry.extensions);
}

/** What SimDisk checks besides latency and faults. */
export interface SimDiskOptions {
  /** Test-only: read records without checking their checksums (a store that misses damage). */
  skipChecksums?: boolean;
  /** Told of every batch of entries the node writes (the checker's integrity check). */
  onStore?: (entries: readonly LogEntry[]) => void;
}

/**
 * The writes a process issues in one synchronous turn: one disk event completes them together, as
 * the WAL makes them one group and one fsync (a storage-writer batch: deleteRange, storeLogs and
 * the hard state's sets). Every op of the group shares its one promise.
 */
interface WriteGroup {
  /** Each write in issue order: `op` lands it whole, `torn` lands a prefix of it (null: none). */
  readonly ops: (() => void)[];
  readonly torn: ((() => void) | null)[];
  /** Its fsync fails (failNextWrite). */
  readonly fail: boolean;
  /** When it completes: each write draws a latency, and the group lands with the slowest. */
  at: number;
  /** Its completion event (moved when a later write of the turn is slower). */
  completion: Timer | null;
  readonly done: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * One simulated process's view of a durable InmemStore: writes land after a random latency, in
 * order, and a crash (`alive = false`) loses every write still pending. The writes issued in one
 * synchronous turn complete as one event (a group commit). Disk faults: `crash(true)` tears the
 * group in flight (a prefix of its writes lands, the next one torn: a prefix of its entries),
 * `failNextWrite()` makes the next group's fsync fail (its data may or may not have landed; every
 * later write fails too).
 */
export class SimDisk implements LogStore, StableStore {
  /** False once the process crashed: pending and later writes never land. */
  alive = true;
  private lastCompletion = 0;
  private readonly pending: WriteGroup[] = [];
  /** The group of the current synchronous turn, closed by a microtask. */
  private turn: WriteGroup | null = null;
  private readonly closeTurn = (): void => {
    this.turn = null;
  };
  private failNext = false;
  private failed = false;

  constructor(
    private readonly durable: SimMedium,
    private readonly scheduler: Scheduler,
    private readonly random: SeededRandom,
    private readonly latency: { min: number; max: number },
    private readonly options: SimDiskOptions = {},
  ) {}

  /** Opening the store checks every record, as the WAL's replay does (ErrStoreCorrupt on damage). */
  open(): void {
    if (!this.options.skipChecksums) this.durable.verifyAll();
  }
  /** `entries` as read: each checked against its checksum (ErrStoreCorrupt on damage). */
  private checked<T extends LogEntry | LogEntry[]>(entries: T): T {
    if (this.options.skipChecksums) return entries;
    if (Array.isArray(entries)) for (const entry of entries) this.durable.verify(entry);
    else this.durable.verify(entries as LogEntry);
    return entries;
  }

  /** The next write's fsync fails. */
  failNextWrite(): void {
    this.failNext = true;
  }

  /** The process dies; with `tear`, the group in flight lands torn (a prefix of it). */
  crash(tear: boolean): void {
    this.alive = false;
    const inflight = this.pending[0];
    if (tear && inflight) this.tear(inflight);
    this.pending.length = 0;
    this.turn = null;
  }

  /** Lands a prefix of `group`'s writes and a torn prefix of the next one. */
  private tear(group: WriteGroup): void {
    const whole = this.random.int(0, group.ops.length);
    for (let i = 0; i < whole; i++) group.ops[i]();
    group.torn[whole]?.();
  }

  /**
   * Adds a write to this turn's group (opening one, completing after the previous group and after
   * its slowest write's random latency); the promise never settles if the process died first.
   */
  private write(op: () => void, torn: (() => void) | null = null): Promise<void> {
    if (!this.alive) return new Promise(() => {});
    if (this.failed) return Promise.reject(new SimDiskError('simulated disk: failed before'));
    let group = this.turn;
    if (group === null) {
      group = this.openGroup();
      this.turn = group;
      // A microtask ends the turn (a resolved promise's: queueMicrotask costs an async resource).
      void RESOLVED.then(this.closeTurn);
    }
    group.ops.push(op);
    group.torn.push(torn);
    const at = Math.max(
      this.lastCompletion,
      this.scheduler.now + this.random.int(this.latency.min, this.latency.max + 1),
    );
    this.lastCompletion = at;
    if (group.completion === null || at > group.at) {
      // Its slowest write so far sets when it lands (moving the event is no step of the run).
      group.completion?.cancel();
      group.at = at;
      group.completion = this.scheduler.at(at, () => this.complete(group));
    }
    return group.done;
  }

  private openGroup(): WriteGroup {
    const fail = this.failNext;
    this.failNext = false;
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const done = new Promise<void>((settle, refuse) => {
      resolve = settle;
      reject = refuse;
    });
    const group: WriteGroup = { ops: [], torn: [], fail, at: 0, completion: null, done, resolve, reject };
    this.pending.push(group);
    return group;
  }

  private complete(group: WriteGroup): void {
    const { resolve, reject } = group;
    if (!this.alive) return;
    // Queued behind a failed write: it fails too (its caller must hear, not wait forever).
    if (this.failed) return reject(new SimDiskError('simulated disk: failed before'));
    this.pending.shift();
    if (group.fail) {
      // The writes queued behind a failed one never land (a checksummed log ends at the first bad
      // record), and the runtime fail-stops.
      this.failed = true;
      this.pending.length = 0;
      // After a failed fsync the data may be on disk, torn, or absent.
      const landed = this.random.int(0, 3);
      if (landed === 1) for (const op of group.ops) op();
      else if (landed === 2) this.tear(group);
      return reject(new SimDiskError('simulated fsync failure'));
    }
    for (const op of group.ops) op();
    resolve();
  }

  firstIndex(): Promise<number> {
    return this.durable.firstIndex();
  }

  lastIndex(): Promise<number> {
    return this.durable.lastIndex();
  }

  async getLog(index: number): Promise<LogEntry> {
    return this.checked(await this.durable.getLog(index));
  }

  async getLogs(lo: number, hi: number): Promise<LogEntry[]> {
    if (!this.alive) throw new ErrLogNotFound();
    return this.checked(await this.durable.getLogs(lo, hi));
  }

  entryTerms(lo: number, hi: number): Promise<EntryTerms> {
    if (!this.alive) return Promise.reject(new ErrLogNotFound());
    return this.durable.entryTerms(lo, hi);
  }

  storeLog(entry: LogEntry): Promise<void> {
    return this.storeLogs([entry]);
  }

  storeLogs(entries: readonly LogEntry[]): Promise<void> {
    this.options.onStore?.(entries);
    const copy = entries.slice();
    const torn =
      copy.length > 1
        ? () => this.durable.storeLogsSync(copy.slice(0, this.random.int(1, copy.length)))
        : null;
    return this.write(() => this.durable.storeLogsSync(copy), torn);
  }

  deleteRange(min: number, max: number): Promise<void> {
    return this.write(() => this.durable.deleteRangeSync(min, max));
  }

  set(key: string, value: Uint8Array): Promise<void> {
    return this.write(() => void this.durable.set(key, value));
  }

  get(key: string): Promise<Uint8Array> {
    return this.durable.get(key);
  }

  setUint64(key: string, value: number): Promise<void> {
    return this.write(() => void this.durable.setUint64(key, value));
  }

  getUint64(key: string): Promise<number> {
    return this.durable.getUint64(key);
  }
}

/**
 * A node process's view of its snapshot store: every chunk written takes virtual time, so a crash
 * can land in the middle of a snapshot; a dead process's snapshot never becomes visible.
 */
export class SimSnapshotStore implements SnapshotStore {
  alive = true;

  constructor(
    private readonly durable: SnapshotStore,
    private readonly scheduler: Scheduler,
    private readonly random: SeededRandom,
  ) {}

  async create(...args: SnapshotCreateArgs): Promise<SnapshotSink> {
    const sink = await this.durable.create(...args);
    const delay = (): Promise<void> =>
      new Promise((resolve) => {
        if (this.alive) this.scheduler.after(this.random.int(1, 6), () => this.alive && resolve());
      });
    return {
      id: sink.id,
      write: async (chunk) => {
        await delay();
        await sink.write(chunk);
      },
      close: async () => {
        await delay();
        await sink.close();
      },
      cancel: () => sink.cancel(),
    };
  }

  list(): Promise<SnapshotMeta[]> {
    return this.durable.list();
  }

  open(id: string): Promise<OpenedSnapshot> {
    return this.durable.open(id);
  }
}
