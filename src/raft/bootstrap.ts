/** Offline operations on a server's stores: hashicorp's BootstrapCluster and HasExistingState. */
import { ErrCantBootstrap } from '../core/errors.js';
import { LogType, type Configuration } from '../core/types.js';
import { StableKeys, type LogStore, type SnapshotStore, type StableStore } from '../storage/types.js';
import { encodeConfiguration } from '../wire/configuration.js';
import { requireConfiguration } from './arguments.js';
import { validateConfig, type Config } from './config.js';
import { getUint64OrZero } from './hard-state.js';

/** True if the stores hold a term, a log entry or a snapshot. */
export async function hasExistingState(
  logs: LogStore,
  stable: StableStore,
  snapshots: SnapshotStore,
): Promise<boolean> {
  if ((await getUint64OrZero(stable, StableKeys.currentTerm)) > 0) return true;
  if ((await logs.lastIndex()) > 0) return true;
  return (await snapshots.list()).length > 0;
}

/**
 * Writes the initial configuration of a new cluster: term 1 and one Configuration entry at index 1.
 * Refuses (ErrCantBootstrap) if any state exists, and a malformed configuration as
 * `raft.bootstrapCluster` does. Call it on one server, or on every voter with the identical
 * configuration.
 */
export async function bootstrapCluster(
  config: Config,
  logs: LogStore,
  stable: StableStore,
  snapshots: SnapshotStore,
  configuration: Configuration,
): Promise<void> {
  validateConfig(config);
  const checked = requireConfiguration('configuration', configuration);
  if (await hasExistingState(logs, stable, snapshots)) throw new ErrCantBootstrap();
  await Promise.all([
    stable.setUint64(StableKeys.currentTerm, 1),
    logs.storeLogs([
      {
        index: 1,
        term: 1,
        type: LogType.Configuration,
        data: encodeConfiguration(checked),
        extensions: new Uint8Array(0),
        appendedAt: 0,
      },
    ]),
  ]);
}
