/**
 * The KV service's log commands and key rules, exactly as the contract in DESIGN.md states them:
 * another implementation (a Go hashicorp/raft node, say) must be able to replicate the same state.
 * Each command is one JSON object; values travel as standard padded base64 (Go's encoding of []byte).
 */
import { ErrDecode } from '../index.js';

export type KvCommand =
  | { op: 'put'; key: string; value: Uint8Array }
  | { op: 'delete'; key: string }
  /** `prev: null` means "the key must be absent". */
  | { op: 'cas'; key: string; prev: Uint8Array | null; value: Uint8Array };

/** Keys under this prefix belong to the service itself; clients may not write them. */
export const RESERVED_PREFIX = '_raftkit/';
const HTTP_ADDRESS_PREFIX = `${RESERVED_PREFIX}http/`;

/** The reserved key holding a member's HTTP base URL (needed to redirect clients to the leader). */
export function httpAddressKey(serverId: string): string {
  return HTTP_ADDRESS_PREFIX + serverId;
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Standard padded base64 only; Node's decoder silently skips junk, so a round trip proves the input clean. */
export function decodeBase64Strict(text: string): Buffer | null {
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : null;
}

export function encodeCommand(command: KvCommand): Uint8Array {
  let json: object;
  switch (command.op) {
    case 'put':
      json = { op: 'put', key: command.key, value: encodeBase64(command.value) };
      break;
    case 'delete':
      json = { op: 'delete', key: command.key };
      break;
    case 'cas':
      json = {
        op: 'cas',
        key: command.key,
        prev: command.prev === null ? null : encodeBase64(command.prev),
        value: encodeBase64(command.value),
      };
      break;
  }
  return Buffer.from(JSON.stringify(json), 'utf8');
}

function base64Field(record: Record<string, unknown>, field: string): Buffer {
  const text = record[field];
  if (typeof text !== 'string') throw new ErrDecode(`"${field}" must be a base64 string`);
  const bytes = decodeBase64Strict(text);
  if (bytes === null) throw new ErrDecode(`"${field}" is not valid base64`);
  return bytes;
}

/** Parses one log entry's data; rejects with ErrDecode on anything the contract does not allow. */
export function decodeCommand(data: Uint8Array): KvCommand {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    throw new ErrDecode('command is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ErrDecode('command is not a JSON object');
  }
  const record = parsed as Record<string, unknown>;
  const key = record.key;
  if (typeof key !== 'string' || key.length === 0) throw new ErrDecode('"key" must be a non-empty string');
  switch (record.op) {
    case 'put':
      return { op: 'put', key, value: base64Field(record, 'value') };
    case 'delete':
      return { op: 'delete', key };
    case 'cas':
      if (!('prev' in record)) throw new ErrDecode('"prev" is required (null means absent)');
      return {
        op: 'cas',
        key,
        prev: record.prev === null ? null : base64Field(record, 'prev'),
        value: base64Field(record, 'value'),
      };
    default:
      throw new ErrDecode(`unknown op ${JSON.stringify(record.op)}`);
  }
}
