/**
 * The bounds every number from the wire must keep before the node uses it. The msgpack decoder
 * already refuses anything outside the safe-integer range; these bounds leave room above every
 * accepted value so that the arithmetic a node does with it (term + 1, index + count, sizes
 * summed) stays exact. They are checked where the Go struct mirrors become core messages
 * (convert.ts), so the mirrors themselves still read every value Go can send.
 */
import { ErrOutOfRange } from '../core/bounds.js';
import { ErrTooLarge } from '../core/errors.js';

export { MAX_INDEX, MAX_TERM, ErrOutOfRange, checkIndex, checkTerm } from '../core/bounds.js';

/** Largest InstallSnapshot size accepted: 2^48 - 1 bytes (256 TiB); the body streams, so this only keeps arithmetic exact. */
export const MAX_SNAPSHOT_BYTES = 2 ** 48 - 1;

/**
 * Longest server ID or address accepted in an RPC header, in bytes. hashicorp sets no limit; IDs
 * are names or UUIDs and addresses host:port, so 1 KiB leaves ample room while keeping a hostile
 * header from putting megabytes into logs and vote records.
 */
export const MAX_PEER_BYTES = 1024;

/**
 * Bytes an AppendEntries request frame takes besides its entries, at most: the type byte, the keys,
 * the numbers and the three peer fields (header ID and address, leader), each up to MAX_PEER_BYTES.
 */
export const APPEND_ENTRIES_FRAME_OVERHEAD = 3 * MAX_PEER_BYTES + 1024;

/** Most servers a configuration may list (in InstallSnapshot and configuration log entries). */
export const MAX_CONFIGURATION_SERVERS = 4096;

/**
 * Most entries in one AppendEntries (the decode limit `maxEntries`): four times the largest
 * MaxAppendEntries hashicorp and raftkit accept (1024), so no correct leader comes near it.
 */
export const DEFAULT_MAX_ENTRIES = 4096;

/** Throws ErrOutOfRange when a snapshot size is negative or above MAX_SNAPSHOT_BYTES. */
export function checkSnapshotSize(value: number): number {
  if (value < 0 || value > MAX_SNAPSHOT_BYTES)
    throw new ErrOutOfRange(`snapshot Size ${value} is outside 0..2^48-1`);
  return value;
}

/** Throws ErrOutOfRange when a header's ID or address is longer than MAX_PEER_BYTES. */
export function checkPeerBytes(bytes: Uint8Array | null, field: string): Uint8Array | null {
  if (bytes !== null && bytes.length > MAX_PEER_BYTES)
    throw new ErrOutOfRange(`${field} of ${bytes.length} bytes is longer than ${MAX_PEER_BYTES}`);
  return bytes;
}

/** Throws ErrTooLarge before a configuration of more than MAX_CONFIGURATION_SERVERS servers is read. */
export function checkServerCount(count: number): number {
  if (count > MAX_CONFIGURATION_SERVERS)
    throw new ErrTooLarge(`configuration of ${count} servers (at most ${MAX_CONFIGURATION_SERVERS})`);
  return count;
}
