/**
 * Offline tools for a server's stores: hashicorp's RecoverCluster (forced membership after losing
 * quorum), GetConfiguration, and the peers.json files operators write for recovery.
 */
import { readFile } from 'node:fs/promises';
import { checkConfiguration } from '../core/configuration.js';
import { ErrCantBootstrap, ErrInvalidConfiguration } from '../core/errors.js';
import { LogType, ServerSuffrage, type Configuration } from '../core/types.js';
import { StableKeys, type LogStore, type SnapshotStore, type StableStore } from '../storage/types.js';
import type { Transport } from '../transport/types.js';
import { decodeConfiguration } from '../wire/configuration.js';
import { hasExistingState } from './bootstrap.js';
import { requireConfiguration } from './arguments.js';
import { validateConfig, type Config } from './config.js';
import type { FSM } from './fsm.js';
import { silentLogger } from './logger.js';
import type { IndexedConfiguration } from './options.js';
import { loadStoredState } from './startup.js';

/**
 * Forces a new membership on a server whose cluster lost quorum (hashicorp's RecoverCluster):
 * restores the newest snapshot into `fsm` (a throw-away instance), applies every command in the
 * log after it (which commits anything uncommitted), writes a snapshot of the result carrying
 * `configuration`, and deletes the log. Run it on every surviving server with the same
 * configuration, with the servers stopped, then start them normally.
 */
export async function recoverCluster(
  config: Config,
  fsm: FSM,
  logs: LogStore,
  stable: StableStore,
  snapshots: SnapshotStore,
  _transport: Transport | null,
  configuration: Configuration,
): Promise<void> {
  validateConfig(config);
  const checked = requireConfiguration('configuration', configuration);
  if (!(await hasExistingState(logs, stable, snapshots))) {
    throw new ErrCantBootstrap(
      'refused to recover cluster with no initial state, this is probably an operator error',
    );
  }
  const stored = await loadStoredState(
    { logStore: logs, snapshotStore: snapshots },
    { restoreInto: fsm, logger: config.logger ?? silentLogger },
  );
  let lastIndex = stored.snapshot?.index ?? 0;
  let lastTerm = stored.snapshot?.term ?? 0;
  for await (const entries of stored.entries(lastIndex + 1)) {
    for (const entry of entries) {
      if (entry.type === LogType.Command) {
        const result = fsm.apply(entry);
        if (result instanceof Promise) await result;
      }
      lastIndex = entry.index;
      lastTerm = entry.term;
    }
  }
  const fsmSnapshot = await fsm.snapshot();
  const sink = await snapshots.create(1, lastIndex, lastTerm, checked, 1);
  try {
    await fsmSnapshot.persist(sink);
  } finally {
    fsmSnapshot.release();
  }
  if (stored.lastIndex > 0) await logs.deleteRange(stored.firstIndex, stored.lastIndex);
  await stable.setUint64(StableKeys.commitIndex, lastIndex);
}

/** The latest configuration in the stores, without starting a server (hashicorp's GetConfiguration). */
export async function getConfiguration(
  logs: LogStore,
  snapshots: SnapshotStore,
): Promise<IndexedConfiguration> {
  const stored = await loadStoredState(
    { logStore: logs, snapshotStore: snapshots },
    { restoreInto: null, logger: silentLogger },
  );
  const newest = stored.snapshot;
  let configuration: Configuration = newest?.configuration ?? { servers: [] };
  let index = newest?.configurationIndex ?? 0;
  const log = await stored.index(Math.max(stored.firstIndex, (newest?.index ?? 0) + 1));
  const latest = log.configurations.at(-1);
  if (latest) {
    configuration = decodeConfiguration(latest.data);
    index = latest.index;
  }
  return { configuration, index };
}

/**
 * Reads a peers.json file in either form: the new `[{"id","address","non_voter"}]` (hashicorp's
 * ReadConfigJSON) or the legacy `["host:port", ...]` (ReadPeersJSON: ID = address, all voters).
 * The result passes the same sanity check as bootstrap.
 */
export async function readPeersJson(path: string): Promise<Configuration> {
  const text = await readFile(path, 'utf8');
  return parsePeersJson(text, path);
}

/**
 * Parses a peers.json (hashicorp's format: `[{"id","address","non_voter"}]`) into a Configuration;
 * throws ErrInvalidConfiguration naming `source` when it is malformed.
 */
export function parsePeersJson(text: string, source = 'peers.json'): Configuration {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ErrInvalidConfiguration(`${source}: not JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new ErrInvalidConfiguration(`${source}: expected a JSON array`);
  const servers = parsed.map((item: unknown, position) => {
    if (typeof item === 'string') return { id: item, address: item, suffrage: ServerSuffrage.Voter };
    if (typeof item !== 'object' || item === null) {
      throw new ErrInvalidConfiguration(`${source}: entry ${position} is neither an address nor an object`);
    }
    const { id, address, non_voter: nonVoter } = item as Record<string, unknown>;
    if (typeof id !== 'string' || typeof address !== 'string') {
      throw new ErrInvalidConfiguration(`${source}: entry ${position} needs string "id" and "address"`);
    }
    if (nonVoter !== undefined && typeof nonVoter !== 'boolean') {
      throw new ErrInvalidConfiguration(`${source}: entry ${position}: "non_voter" must be a boolean`);
    }
    return { id, address, suffrage: nonVoter ? ServerSuffrage.Nonvoter : ServerSuffrage.Voter };
  });
  const configuration = { servers };
  checkConfiguration(configuration);
  return configuration;
}
