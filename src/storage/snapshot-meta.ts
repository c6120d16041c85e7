/**
 * What every snapshot store shares about snapshot metadata: the format versions, the checks and
 * the metadata of a new snapshot, the listing order, the guard on sink writes, and meta.json
 * exactly as Go's encoding/json writes hashicorp's fileSnapshotMeta (FileSnapshotStore's file,
 * kept here so that a directory written by a Go node reads back the same).
 */
import { ErrSnapshotStore, ErrUnsupportedSnapshotVersion } from '../core/errors.js';
import { ServerSuffrage, type Configuration, type Server, type SnapshotMeta } from '../core/types.js';
import { decodePeers, encodePeers } from '../wire/configuration.js';
import type { SnapshotStore } from './types.js';

/** Snapshot format versions a store can read (hashicorp's SnapshotVersionMin/Max); create() writes Max. */
export const SnapshotVersionMin = 0;
export const SnapshotVersionMax = 1;

/** The arguments of SnapshotStore.create: version, index, term, configuration, configurationIndex. */
export type SnapshotCreateArgs = Parameters<SnapshotStore['create']>;

/**
 * The metadata of a snapshot being created (size 0 until its sink closes), with its own copy of
 * the configuration. Stores only create snapshots of the current format version, as hashicorp's do.
 */
export function newSnapshotMeta(id: string, ...args: SnapshotCreateArgs): SnapshotMeta {
  const [version, index, term, configuration, configurationIndex] = args;
  if (version !== SnapshotVersionMax) {
    throw new ErrUnsupportedSnapshotVersion(`${version} (only ${SnapshotVersionMax} can be created)`);
  }
  return {
    version,
    id,
    index,
    term,
    configuration: copyConfiguration(configuration),
    configurationIndex,
    size: 0,
  };
}

/** A copy, so that callers cannot change a stored configuration through an alias. */
export function copyConfiguration(configuration: Configuration): Configuration {
  return { servers: configuration.servers.map((server) => ({ ...server })) };
}

export function copySnapshotMeta(meta: SnapshotMeta): SnapshotMeta {
  return { ...meta, configuration: copyConfiguration(meta.configuration) };
}

/** hashicorp's order: by term, then index, then ID; newest first. */
export function compareNewestFirst(a: SnapshotMeta, b: SnapshotMeta): number {
  if (a.term !== b.term) return b.term - a.term;
  if (a.index !== b.index) return b.index - a.index;
  return a.id === b.id ? 0 : a.id < b.id ? 1 : -1;
}

/** Why a sink refuses a write: it is closed or cancelled, or the chunk is not bytes; else null. */
export function sinkWriteRefusal(id: string, finished: boolean, chunk: unknown): Error | null {
  if (finished) return new ErrSnapshotStore(`snapshot ${id} is already closed`);
  if (!(chunk instanceof Uint8Array)) return new ErrSnapshotStore('snapshot data must be a Uint8Array');
  return null;
}

// ---------------------------------------------------------------------------------------------
// meta.json, exactly as Go's encoding/json writes hashicorp's fileSnapshotMeta.

/** Metadata as stored in meta.json: SnapshotMeta plus the CRC of state.bin (null if Go wrote none). */
export interface FileSnapshotMeta extends SnapshotMeta {
  crc: Uint8Array | null;
}

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

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
}
