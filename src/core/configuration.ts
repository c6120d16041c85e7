/** Cluster membership: lookups, validation and hashicorp's single-server changes (quorums: quorum.ts). */
import { ErrConfigurationChanged, ErrInvalidConfiguration } from './errors.js';
import {
  ServerSuffrage,
  type Configuration,
  type Server,
  type ServerAddress,
  type ServerId,
} from './types.js';

export interface Configurations {
  committed: Configuration;
  committedIndex: number;
  latest: Configuration;
  latestIndex: number;
}

export const emptyConfiguration = (): Configuration => ({ servers: [] });

export function cloneConfiguration(configuration: Configuration): Configuration {
  return { servers: configuration.servers.map((server) => ({ ...server })) };
}

export function findServer(configuration: Configuration, id: ServerId): Server | undefined {
  return configuration.servers.find((server) => server.id === id);
}

export function findServerByAddress(
  configuration: Configuration,
  address: ServerAddress,
): Server | undefined {
  return configuration.servers.find((server) => server.address === address);
}

export function isVoter(configuration: Configuration, id: ServerId): boolean {
  return findServer(configuration, id)?.suffrage === ServerSuffrage.Voter;
}

export function voters(configuration: Configuration): Server[] {
  return configuration.servers.filter((server) => server.suffrage === ServerSuffrage.Voter);
}

/** hashicorp's checkConfiguration: non-empty unique IDs and addresses, at least one voter. */
export function checkConfiguration(configuration: Configuration): void {
  const ids = new Set<string>();
  const addresses = new Set<string>();
  let voterCount = 0;
  for (const server of configuration.servers) {
    if (!server.id)
      throw new ErrInvalidConfiguration(`empty ID in configuration: ${JSON.stringify(configuration)}`);
    if (!server.address) throw new ErrInvalidConfiguration(`empty address in configuration: ${server.id}`);
    if (server.address.includes('://'))
      throw new ErrInvalidConfiguration(`address ${server.address} must be host:port`);
    if (ids.has(server.id))
      throw new ErrInvalidConfiguration(`found duplicate ID in configuration: ${server.id}`);
    if (addresses.has(server.address)) {
      throw new ErrInvalidConfiguration(`found duplicate address in configuration: ${server.address}`);
    }
    ids.add(server.id);
    addresses.add(server.address);
    if (server.suffrage === ServerSuffrage.Voter) voterCount++;
  }
  if (voterCount === 0) throw new ErrInvalidConfiguration('need at least one voter in configuration');
}

export type ConfigurationChangeCommand = 'addVoter' | 'addNonvoter' | 'removeServer' | 'demoteVoter';

export interface ConfigurationChange {
  command: ConfigurationChangeCommand;
  id: ServerId;
  address: ServerAddress;
  /** If non-zero, the change is refused unless the latest configuration's index equals it. */
  prevIndex: number;
}

/** hashicorp's nextConfiguration: the configuration after applying one change to the latest. */
export function nextConfiguration(
  current: Configuration,
  currentIndex: number,
  change: ConfigurationChange,
): Configuration {
  if (change.prevIndex > 0 && change.prevIndex !== currentIndex) {
    throw new ErrConfigurationChanged(
      `configuration changed since ${change.prevIndex} (latest is ${currentIndex})`,
    );
  }
  const next = cloneConfiguration(current);
  const existing = next.servers.find((server) => server.id === change.id);
  switch (change.command) {
    case 'addVoter':
      if (existing) {
        existing.suffrage = ServerSuffrage.Voter;
        existing.address = change.address;
      } else {
        next.servers.push({ suffrage: ServerSuffrage.Voter, id: change.id, address: change.address });
      }
      break;
    case 'addNonvoter':
      if (existing) {
        // A voter stays a voter; only its address is updated (hashicorp semantics).
        existing.address = change.address;
      } else {
        next.servers.push({ suffrage: ServerSuffrage.Nonvoter, id: change.id, address: change.address });
      }
      break;
    case 'demoteVoter':
      if (existing) existing.suffrage = ServerSuffrage.Nonvoter;
      break;
    case 'removeServer':
      next.servers = next.servers.filter((server) => server.id !== change.id);
      break;
  }
  checkConfiguration(next);
  return next;
}
