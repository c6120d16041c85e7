/**
 * The peers.json convention of hashicorp/raft's users (Consul, Nomad, Vault): to recover a cluster
 * that lost quorum, stop every server, write the same `<data dir>/peers.json` on each survivor
 * (`[{"id","address","non_voter"}]`, or the legacy `["host:port", ...]`), and start them. On start
 * the kit forces that membership with recoverCluster and removes the file.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../raft/config.js';
import type { FSM } from '../raft/fsm.js';
import type { Logger } from '../raft/logger.js';
import { readPeersJson, recoverCluster } from '../raft/recovery.js';
import type { NodeStorage } from './storage.js';

/** The recovery file's name in a data directory: `<dir>/peers.json`. */
export const PEERS_JSON = 'peers.json';

/** Applies `<dir>/peers.json` if present; returns whether a recovery ran. */
export async function recoverFromPeersJson(
  storage: NodeStorage,
  config: Config,
  fsm: FSM,
  logger: Logger,
): Promise<boolean> {
  const path = join(storage.dir, PEERS_JSON);
  if (!existsSync(path)) return false;
  const configuration = await readPeersJson(path);
  await recoverCluster(
    config,
    fsm,
    storage.logStore,
    storage.logStore,
    storage.snapshotStore,
    null,
    configuration,
  );
  await rm(path);
  logger.warn(
    { path, servers: configuration.servers },
    'forced the cluster membership from peers.json (file removed)',
  );
  return true;
}
