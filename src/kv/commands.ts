/**
 * The KV service's log commands, exactly as docs/kv-contract.md states them: another implementation
 * (a Go hashicorp/raft node, say) must be able to replicate the same state. Each command is one JSON
 * object; values travel as standard padded base64 (Go's encoding of []byte), lease IDs as decimal
 * strings. put, delete and cas are version 1 and stay byte-identical. The same commands also have a
 * binary form (command-binary.ts), written only when every member reads it (command-formats.ts);
 * the first byte tells the two apart.
 */
import { ErrDecode } from '../index.js';
import {
  BINARY_V1,
  decodeBinary,
  encodeBinary,
  LAST_BINARY_VERSION_BYTE,
  UnknownBinaryOp,
} from './command-binary.js';
import {
  asArray,
  asObject,
  base64Field,
  encodeBase64,
  intField,
  keyField,
  leaseIdField,
  nullableBase64Field,
  parseObject,
  stringField,
  type JsonObject,
} from './json-fields.js';
import {
  COMPARE_OPS,
  MAX_TTL,
  MAX_TXN_COMPARES,
  MAX_TXN_OPS,
  MIN_TTL,
  type CompareOp,
  type KvCommand,
  type TxnCompare,
  type TxnOp,
} from './command-types.js';
import { keyProblem, RESERVED_PREFIX } from './validate.js';

export type { CompareOp, KvCommand, LeaseRevokeReason, TxnCompare, TxnOp } from './command-types.js';
export { MAX_TTL, MAX_TXN_COMPARES, MAX_TXN_OPS, MIN_TTL } from './command-types.js';

/**
 * A command with an `op` this replica does not know. Applying past it would make this replica
 * diverge from the ones that know it, so the state machine stops instead (see KvFsm.apply).
 */
export class ErrUnknownCommand extends Error {
  override name = 'ErrUnknownCommand';
  constructor(readonly op: string) {
    super(`unknown command op ${JSON.stringify(op)}: this server is older than the log it replicates`);
  }
}

const HTTP_ADDRESS_PREFIX = `${RESERVED_PREFIX}http/`;

/** The reserved key holding a member's HTTP base URL (needed to redirect clients to the leader). */
export function httpAddressKey(serverId: string): string {
  return HTTP_ADDRESS_PREFIX + serverId;
}

/**
 * Commands this process encoded ride on the bytes encodeCommand returned, under a symbol. On the
 * leader the runtime hands the state machine the very array that was proposed (from its entry
 * cache), so apply takes the object the HTTP handler built instead of parsing the entry again
 * (decodeCommand was 3% of the leader's CPU at c64, bench/PROFILE.md). A property rather than a
 * WeakMap: a WeakMap's set and get cost more than the encoding itself, and its entries are
 * ephemerons every garbage collection must trace. Only put and delete, the hot commands, and only
 * with a key decodeCommand accepts: the leader must find malformed exactly what its followers find
 * malformed. A copy of the bytes (a follower's, the WAL's) has no such property and is decoded.
 */
const ENCODED_HERE = Symbol('raftkit kv command encoded here');

/** Bytes encodeCommand returned, carrying the command they encode. */
type EncodedHere = Uint8Array & { [ENCODED_HERE]?: KvCommand };

/**
 * How commands are written to the log: `json` (the contract's JSON, which every implementation
 * reads) or `binary` (command-binary.ts, only when every member reads it).
 */
export type CommandFormat = 'json' | 'binary';

export function encodeCommand(command: KvCommand, format: CommandFormat = 'json'): Uint8Array {
  const data: EncodedHere =
    format === 'binary' ? encodeBinary(command) : Buffer.from(JSON.stringify(commandJson(command)), 'utf8');
  if ((command.op === 'put' || command.op === 'delete') && keyProblem(command.key, 'read') === null) {
    data[ENCODED_HERE] = command;
  }
  return data;
}

/** The command in a log entry's data: the one encoded here if it was, else decodeCommand's. */
export function commandOf(data: Uint8Array): KvCommand {
  return (data as EncodedHere)[ENCODED_HERE] ?? decodeCommand(data);
}

function commandJson(command: KvCommand): JsonObject {
  switch (command.op) {
    case 'put':
      return { op: 'put', key: command.key, value: encodeBase64(command.value) };
    case 'delete':
      return { op: 'delete', key: command.key };
    case 'cas':
      return {
        op: 'cas',
        key: command.key,
        prev: command.prev === null ? null : encodeBase64(command.prev),
        value: encodeBase64(command.value),
      };
    case 'txn':
      return {
        op: 'txn',
        compare: command.compare.map(compareJson),
        success: command.success.map(txnOpJson),
        failure: command.failure.map(txnOpJson),
      };
    case 'lease-grant':
      return { op: 'lease-grant', ttl: command.ttl };
    case 'lease-revoke':
      return { op: 'lease-revoke', id: String(command.id), reason: command.reason };
    case 'lock':
      return { op: 'lock', name: command.name, ttl: command.ttl };
    case 'lock-release':
      return { op: 'lock-release', name: command.name, token: command.token };
    case 'lock-cancel':
      return { op: 'lock-cancel', name: command.name, lease: String(command.lease) };
  }
}

function compareJson(compare: TxnCompare): JsonObject {
  if ('revision' in compare) {
    const json: JsonObject = { key: compare.key, revision: compare.revision };
    if (compare.cmp !== '=') json.cmp = compare.cmp;
    return json;
  }
  if ('value' in compare) return { key: compare.key, value: encodeBase64(compare.value) };
  return { key: compare.key, exists: compare.exists };
}

function txnOpJson(op: TxnOp): JsonObject {
  if (op.op === 'delete') return { op: 'delete', key: op.key };
  const json: JsonObject = { op: 'put', key: op.key, value: encodeBase64(op.value) };
  if (op.lease !== 0) json.lease = String(op.lease);
  return json;
}

/**
 * Parses one log entry's data, in either form. Throws ErrDecode on anything the contract does not
 * allow (the command is then answered as malformed and changes nothing) and ErrUnknownCommand on
 * an `op` (or binary version) it does not know.
 */
export function decodeCommand(data: Uint8Array): KvCommand {
  const first = data.length === 0 ? -1 : data[0];
  if (first >= BINARY_V1 && first <= LAST_BINARY_VERSION_BYTE) {
    const command = decodeBinary(data);
    if (command instanceof UnknownBinaryOp) throw new ErrUnknownCommand(command.op);
    return command;
  }
  return decodeJson(data);
}

function decodeJson(data: Uint8Array): KvCommand {
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  const record = parseObject(text, 'command');
  const op = record.op;
  if (typeof op !== 'string') throw new ErrDecode('"op" must be a string');
  switch (op) {
    case 'put':
      return { op, key: keyField(record, 'key'), value: base64Field(record, 'value') };
    case 'delete':
      return { op, key: keyField(record, 'key') };
    case 'cas':
      return {
        op,
        key: keyField(record, 'key'),
        prev: nullableBase64Field(record, 'prev'),
        value: base64Field(record, 'value'),
      };
    case 'txn':
      return parseTxn(record);
    case 'lease-grant':
      return { op, ttl: intField(record, 'ttl', MIN_TTL, MAX_TTL) };
    case 'lease-revoke': {
      const reason = record.reason;
      if (reason !== 'revoke' && reason !== 'expire')
        throw new ErrDecode('"reason" must be "revoke" or "expire"');
      return { op, id: leaseIdField(record, 'id'), reason };
    }
    case 'lock':
      return { op, name: keyField(record, 'name'), ttl: intField(record, 'ttl', MIN_TTL, MAX_TTL) };
    case 'lock-release':
      return {
        op,
        name: keyField(record, 'name'),
        token: intField(record, 'token', 1, Number.MAX_SAFE_INTEGER),
      };
    case 'lock-cancel':
      return { op, name: keyField(record, 'name'), lease: leaseIdField(record, 'lease') };
    default:
      throw new ErrUnknownCommand(op);
  }
}

/**
 * A transaction as `POST /txn` sends it and the `txn` command logs it (the same JSON): bounded,
 * every key valid, each key at most once per branch.
 */
export function parseTxn(record: JsonObject): Extract<KvCommand, { op: 'txn' }> {
  const compare = asArray(record.compare ?? [], '"compare"', MAX_TXN_COMPARES).map((item, i) =>
    parseCompare(asObject(item, `compare[${i}]`)),
  );
  return {
    op: 'txn',
    compare,
    success: parseBranch(record.success, 'success'),
    failure: parseBranch(record.failure, 'failure'),
  };
}

function parseCompare(record: JsonObject): TxnCompare {
  const key = keyField(record, 'key');
  const kinds = ['revision', 'value', 'exists'].filter((field) => field in record);
  if (kinds.length !== 1)
    throw new ErrDecode('a compare needs exactly one of "revision", "value" or "exists"');
  if (record.cmp !== undefined && kinds[0] !== 'revision')
    throw new ErrDecode('"cmp" applies to revision compares only');
  switch (kinds[0]) {
    case 'revision': {
      const cmp = record.cmp ?? '=';
      if (!COMPARE_OPS.includes(cmp as CompareOp))
        throw new ErrDecode(`"cmp" must be one of ${COMPARE_OPS.join(' ')}`);
      return {
        key,
        revision: intField(record, 'revision', 0, Number.MAX_SAFE_INTEGER),
        cmp: cmp as CompareOp,
      };
    }
    case 'value':
      return { key, value: base64Field(record, 'value') };
    default: {
      const exists = record.exists;
      if (typeof exists !== 'boolean') throw new ErrDecode('"exists" must be a boolean');
      return { key, exists };
    }
  }
}

function parseBranch(value: unknown, name: string): TxnOp[] {
  const ops = asArray(value ?? [], `"${name}"`, MAX_TXN_OPS).map((item, i) =>
    parseTxnOp(asObject(item, `${name}[${i}]`)),
  );
  const keys = new Set<string>();
  for (const op of ops) {
    if (keys.has(op.key)) throw new ErrDecode(`key ${JSON.stringify(op.key)} appears twice in "${name}"`);
    keys.add(op.key);
  }
  return ops;
}

function parseTxnOp(record: JsonObject): TxnOp {
  const op = stringField(record, 'op');
  const key = keyField(record, 'key');
  if (op === 'delete') return { op, key };
  // A later version's operation: skipping it would diverge as much as skipping a command would.
  if (op !== 'put') throw new ErrUnknownCommand(`txn ${op}`);
  const lease = record.lease === undefined ? 0 : leaseIdField(record, 'lease');
  return { op, key, value: base64Field(record, 'value'), lease };
}
