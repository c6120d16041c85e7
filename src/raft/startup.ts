/**
 * NewRaft's loading order, the one way to read a server's stores: the hard state, then the newest
 * snapshot (restored into the FSM, skipping any that fails to open), then the log. Raft.create
 * (through startCore), recoverCluster and getConfiguration all read through it.
 */
import { ErrNoSnapshotOpens } from '../core/errors.js';
import { RaftCore } from '../core/raft.js';
import type { HardState } from '../core/ready.js';
import { LogType, type LogEntry, type SnapshotMeta } from '../core/types.js';
import { emptyEntryTerms, readEntryTerms } from '../storage/entry-terms.js';
import type { EntryTerms, LogStore, SnapshotStore, StableStore } from '../storage/types.js';
import { coreOptionsOf } from './config.js';
import type { FSM } from './fsm.js';
import { readHardState } from './hard-state.js';
import type { Logger } from './logger.js';
import type { RaftOptions } from './options.js';

/** Entries read per batch while reading the log. */
const READ_BATCH = 1024;

export interface ServerStores {
  logStore: LogStore;
  snapshotStore: SnapshotStore;
  /** Absent for tools that need no hard state (it then reads as all zeros). */
  stableStore?: StableStore;
}

export interface StoredState {
  hardState: HardState;
  /** The snapshot restored (or, without an FSM to restore into, the newest one), if any. */
  snapshot: SnapshotMeta | null;
  firstIndex: number;
  /** Where the usable log starts (see logStart): firstIndex, or past a stale log the snapshot replaced. */
  logStart: number;
  lastIndex: number;
  /** The stored log from `from` to its last entry, in batches. */
  entries(from: number): AsyncIterable<LogEntry[]>;
  /** What the core needs of the stored log from `from` on, without reading the other payloads. */
  index(from: number): Promise<LogIndex>;
}

/** The stored log from `first` on as the core sees it: every term, and the configuration entries. */
export interface LogIndex {
  first: number;
  /** Terms and types of first..lastIndex (from the store's index when it keeps one: WalStore does). */
  terms: EntryTerms;
  /** The configuration entries among them, oldest first (the only payloads read). */
  configurations: LogEntry[];
}

/**
 * Reads what a server's stores hold. With `restoreInto`, the newest snapshot that opens is restored
 * into that FSM; without one only the newest snapshot's metadata is read.
 */
export async function loadStoredState(
  stores: ServerStores,
  options: { restoreInto: FSM | null; logger: Logger },
): Promise<StoredState> {
  const hardState = stores.stableStore
    ? await readHardState(stores.stableStore)
    : { term: 0, vote: null, commit: 0 };
  const snapshot = options.restoreInto
    ? await restoreNewestSnapshot(stores.snapshotStore, options.restoreInto, options.logger)
    : ((await stores.snapshotStore.list())[0] ?? null);
  const firstIndex = await stores.logStore.firstIndex();
  const lastIndex = await stores.logStore.lastIndex();
  return {
    hardState,
    snapshot,
    firstIndex,
    logStart: await logStart(stores.logStore, firstIndex, snapshot),
    lastIndex,
    entries: (from) => readLog(stores.logStore, from, lastIndex),
    index: (from) => indexLog(stores.logStore, from, lastIndex),
  };
}

/**
 * NewRaft's core: built from the validated `config`, given the stored hard state, the newest
 * snapshot that opens (restored into the FSM unless config.noSnapshotRestoreOnStart) and the
 * index of the log, then started.
 */
export async function startCore(
  options: RaftOptions & Required<Pick<RaftOptions, 'clock' | 'random'>>,
  logger: Logger,
): Promise<{ core: RaftCore; stored: StoredState }> {
  const { config } = options;
  const core = new RaftCore(
    coreOptionsOf(config, options.transport.localAddr(), options.random, options.faults),
  );
  const now = options.clock.now();
  const restoreInto = config.noSnapshotRestoreOnStart ? null : options.fsm;
  const stored = await loadStoredState(options, { restoreInto, logger });
  core.restore({ now, hardState: stored.hardState, snapshot: stored.snapshot });
  const log = await stored.index(stored.logStart);
  core.loadLog(log.first, log.terms.terms, log.configurations);
  config.notifyCh?.claim();
  core.start();
  return { core, stored };
}

async function indexLog(logs: LogStore, from: number, last: number): Promise<LogIndex> {
  // An empty store's firstIndex is 0 as well.
  if (last <= 0 || from > last) return { first: from, terms: emptyEntryTerms(0), configurations: [] };
  const terms = await readEntryTerms(logs, from, last);
  const configurations: LogEntry[] = [];
  for (let i = 0; i < terms.types.length; i++) {
    if (terms.types[i] === LogType.Configuration) configurations.push(await logs.getLog(from + i));
  }
  return { first: from, terms, configurations };
}

/**
 * Where the usable log starts. Entries below the snapshot are kept only when the log holds the
 * snapshot's last entry with its term: otherwise they are what a snapshot install replaced, left
 * behind because the process stopped (a crash, a failed fsync) before the replacement was
 * durable, and later entries may follow a gap after them.
 */
async function logStart(logs: LogStore, first: number, snapshot: SnapshotMeta | null): Promise<number> {
  if (!snapshot || first === 0 || first > snapshot.index) return first;
  const entry = await logs.getLog(snapshot.index).catch(() => null);
  return entry?.term === snapshot.term ? first : snapshot.index + 1;
}

async function* readLog(logs: LogStore, from: number, last: number): AsyncIterable<LogEntry[]> {
  if (last <= 0) return; // an empty store: its firstIndex is 0 as well
  for (let lo = from; lo <= last; lo += READ_BATCH) {
    yield await logs.getLogs(lo, Math.min(last, lo + READ_BATCH - 1));
  }
}

/**
 * Restores the FSM from the newest snapshot that opens, newest first. A corrupt snapshot is
 * skipped with a warning naming it; if snapshots exist and none opens, that is an error.
 */
async function restoreNewestSnapshot(
  store: SnapshotStore,
  fsm: FSM,
  logger: Logger,
): Promise<SnapshotMeta | null> {
  const list = await store.list();
  for (const meta of list) {
    try {
      if (store.verify) await store.verify(meta.id);
      const { reader } = await store.open(meta.id);
      await fsm.restore(reader);
      logger.info({ id: meta.id, index: meta.index }, 'restored from snapshot');
      return meta;
    } catch (error) {
      logger.warn({ id: meta.id, err: error }, `failed to restore snapshot ${meta.id}; trying an older one`);
    }
  }
  if (list.length > 0) throw new ErrNoSnapshotOpens(list.map((meta) => meta.id).join(', '));
  return null;
}
