/** NewRaft's loading: hard state, the newest snapshot that opens, and the log. */
import type { Logger } from './logger.js';
import { ErrNoSnapshotOpens } from '../core/errors.js';
import type { RaftCore } from '../core/raft.js';
import type { SnapshotMeta } from '../core/types.js';
import type { LogStore, SnapshotStore, StableStore } from '../storage/types.js';
import type { FSM } from './fsm.js';
import type { AppliedConfiguration } from './fsm-runner.js';
import { readHardState } from './storage-writer.js';

/** Entries read per batch while loading the log at start. */
const LOAD_BATCH = 1024;

export interface StartState {
  storeLastIndex: number;
  applied: { index: number; term: number; configuration: AppliedConfiguration };
}

interface Stores {
  fsm: FSM;
  logStore: LogStore;
  stableStore: StableStore;
  snapshotStore: SnapshotStore;
  config: { noSnapshotRestoreOnStart: boolean };
}

export async function loadStartState(
  stores: Stores,
  core: RaftCore,
  now: number,
  logger: Logger,
): Promise<StartState> {
  const hardState = await readHardState(stores.stableStore);
  const snapshot = await restoreNewestSnapshot(stores, logger);
  core.restore({
    now,
    hardState,
    snapshot: snapshot && {
      index: snapshot.index,
      term: snapshot.term,
      configuration: snapshot.configuration,
      configurationIndex: snapshot.configurationIndex,
    },
  });
  const first = await stores.logStore.firstIndex();
  const last = await stores.logStore.lastIndex();
  if (last > 0) {
    for (let lo = first; lo <= last; lo += LOAD_BATCH) {
      core.loadEntries(await stores.logStore.getLogs(lo, Math.min(last, lo + LOAD_BATCH - 1)));
    }
  }
  return {
    storeLastIndex: last,
    applied: snapshot
      ? {
          index: snapshot.index,
          term: snapshot.term,
          configuration: { configuration: snapshot.configuration, index: snapshot.configurationIndex },
        }
      : { index: 0, term: 0, configuration: { configuration: { servers: [] }, index: 0 } },
  };
}

/**
 * Restores the FSM from the newest snapshot that opens, newest first. A corrupt snapshot is
 * skipped with a warning naming it; if snapshots exist and none opens, that is an error.
 */
async function restoreNewestSnapshot(stores: Stores, logger: Logger): Promise<SnapshotMeta | null> {
  const list = await stores.snapshotStore.list();
  for (const meta of list) {
    try {
      if (stores.config.noSnapshotRestoreOnStart) return meta;
      if (stores.snapshotStore.verify) await stores.snapshotStore.verify(meta.id);
      const { reader } = await stores.snapshotStore.open(meta.id);
      await stores.fsm.restore(reader);
      logger.info({ id: meta.id, index: meta.index }, 'restored from snapshot');
      return meta;
    } catch (error) {
      logger.warn({ id: meta.id, err: error }, `failed to restore snapshot ${meta.id}; trying an older one`);
    }
  }
  if (list.length > 0) throw new ErrNoSnapshotOpens(list.map((meta) => meta.id).join(', '));
  return null;
}
