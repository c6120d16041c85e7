/**
 * Offline tools for a server's stores: hashicorp's RecoverCluster (forced membership after losing
 * quorum), GetConfiguration, and the peers.json files operators write for recovery.
 */
import { readFile } from 'node:fs/promises';
import { checkConfiguration } from '../core/configuration.js';
import { ErrCantBootstrap, ErrInvalidConfiguration, ErrNoSnapshotOpens } from '../core/errors.js';
import { LogType, ServerSuffrage, type Configuration, type SnapshotMeta } from '../core/types.js';
import { StableKeys, type LogStore, type SnapshotStore, type StableStore } from '../storage/types.js';
import type { Transport } from '../transport/types.js';
import { decodeConfiguration } from '../wire/configuration.js';
import { hasExistingState } from './bootstrap.js';
import { validateConfig, type Config } from './config.js';
import type { FSM } from './fsm.js';

/** Entries read per batch while scanning the log. */
const SCAN_BATCH = 1024;

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
  checkConfiguration(configuration);
  if (!(await hasExistingState(logs, stable, snapshots))) {
    throw new ErrCantBootstrap(
      'refused to recover cluster with no initial state, this is probably an operator error',
    );
  }
  const snapshot = await restoreNewest(snapshots, fsm);
  let lastIndex = snapshot?.index ?? 0;
  let lastTerm = snapshot?.term ?? 0;
  const last = await logs.lastIndex();
  for (let lo = lastIndex + 1; lo <= last; lo += SCAN_BATCH) {
    for (const entry of await logs.getLogs(lo, Math.min(last, lo + SCAN_BATCH - 1))) {
      if (entry.type === LogType.Command) {
        const result = fsm.apply(entry);
        if (result instanceof Promise) await result;
      }
      lastIndex = entry.index;
      lastTerm = entry.term;
    }
  }
  const fsmSnapshot = await fsm.snapshot();
  const sink = await snapshots.create(1, lastIndex, lastTerm, configuration, 1);
  try {
    await fsmSnapshot.persist(sink);
  } finally {
    fsmSnapshot.release();
  }
  const first = await logs.firstIndex();
  if (last > 0) await logs.deleteRange(first, last);
  await stable.setUint64(StableKeys.commitIndex, lastIndex);
}

/** The latest configuration in the stores, without starting a server (hashicorp's GetConfiguration). */
export async function getConfiguration(
  logs: LogStore,
  snapshots: SnapshotStore,
): Promise<{ configuration: Configuration; index: number }> {
  const [newest] = await snapshots.list();
  let configuration: Configuration = newest?.configuration ?? { servers: [] };
  let index = newest?.configurationIndex ?? 0;
  const first = Math.max(await logs.firstIndex(), (newest?.index ?? 0) + 1);
  const last = await logs.lastIndex();
  for (let lo = first; lo <= last; lo += SCAN_BATCH) {
    for (const entry of await logs.getLogs(lo, Math.min(last, lo + SCAN_BATCH - 1))) {
      if (entry.type === LogType.Configuration) {
        configuration = decodeConfiguration(entry.data);
        index = entry.index;
      }
    }
  }
  return { configuration, index };
}

async function restoreNewest(snapshots: SnapshotStore, fsm: FSM): Promise<SnapshotMeta | null> {
  const list = await snapshots.list();
  for (const meta of list) {
    try {
      if (snapshots.verify) await snapshots.verify(meta.id);
      const { reader } = await snapshots.open(meta.id);
      await fsm.restore(reader);
      return meta;
    } catch {
      // Try the next older one, as NewRaft does.
    }
  }
  if (list.length > 0) throw new ErrNoSnapshotOpens(list.map((meta) => meta.id).join(', '));
  return null;
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
