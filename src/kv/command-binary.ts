/**
 * The binary form of the KV log commands (docs/kv-contract.md, "Binary form"): the same commands
 * as the JSON form, without JSON.parse or base64, because decoding the JSON was the followers'
 * largest single cost under write load (bench/PROFILE.md). A leader writes it only when every
 * member reads it (command-formats.ts); decodeCommand accepts both forms forever.
 *
 * Layout, big-endian: u8 version (1), u8 op, then the op's fields. A string is a u16 byte length
 * and UTF-8 bytes (keys and lock names, at most MAX_KEY_BYTES); bytes are a u32 length and the raw
 * bytes; an integer is a u64 that must be a safe integer. Every length is checked against what is
 * left of the entry before anything is read or allocated; trailing bytes are refused.
 */
import { isUtf8 } from 'node:buffer';
import { ErrDecode } from '../index.js';
import {
  COMPARE_OPS,
  MAX_TTL,
  MAX_TXN_COMPARES,
  MAX_TXN_OPS,
  MIN_TTL,
  type KvCommand,
  type LeaseRevokeReason,
  type TxnCompare,
  type TxnOp,
} from './command-types.js';
import { keyProblem, MAX_KEY_BYTES } from './validate.js';

/** The first byte of a version 1 binary command (a JSON command starts with `{`). */
export const BINARY_V1 = 0x01;
/**
 * First bytes 0x01..0x08 are binary versions (those after 1 reserved: a replica that meets one must
 * stop, it would diverge). They stop below 0x09, the first byte JSON may start with (whitespace).
 */
export const LAST_BINARY_VERSION_BYTE = 0x08;

const OPS = [
  'put',
  'delete',
  'cas',
  'txn',
  'lease-grant',
  'lease-revoke',
  'lock',
  'lock-release',
  'lock-cancel',
] as const satisfies readonly KvCommand['op'][];
const OP_CODES = new Map<string, number>(OPS.map((op, i) => [op, i + 1]));
const REASONS: readonly LeaseRevokeReason[] = ['revoke', 'expire'];
const COMPARE_REVISION = 1;
const COMPARE_VALUE = 2;
const COMPARE_EXISTS = 3;
const TXN_PUT = 1;
const TXN_DELETE = 2;
const TWO_32 = 2 ** 32;
/** The largest high word of a safe integer (2^53 - 1 = 0x1fffff_ffffffff). */
const MAX_SAFE_HIGH = 0x1f_ffff;

/** The op of a binary command this version does not know (op code or version byte). */
export class UnknownBinaryOp {
  constructor(readonly op: string) {}
}

/** Encodes `command` in binary version 1: its size is computed first, then one buffer is filled. */
export function encodeBinary(command: KvCommand): Buffer {
  const writer = new Writer(Buffer.allocUnsafe(sizeOf(command)));
  writer.u8(BINARY_V1);
  writer.u8(OP_CODES.get(command.op)!);
  switch (command.op) {
    case 'put':
      writer.string(command.key);
      writer.bytes(command.value);
      break;
    case 'delete':
      writer.string(command.key);
      break;
    case 'cas':
      writer.string(command.key);
      writer.u8(command.prev === null ? 0 : 1);
      if (command.prev !== null) writer.bytes(command.prev);
      writer.bytes(command.value);
      break;
    case 'txn':
      writer.u16(command.compare.length);
      for (const compare of command.compare) writeCompare(writer, compare);
      for (const branch of [command.success, command.failure]) {
        writer.u16(branch.length);
        for (const op of branch) writeTxnOp(writer, op);
      }
      break;
    case 'lease-grant':
      writer.int(command.ttl);
      break;
    case 'lease-revoke':
      writer.int(command.id);
      writer.u8(REASONS.indexOf(command.reason) + 1);
      break;
    case 'lock':
      writer.string(command.name);
      writer.int(command.ttl);
      break;
    case 'lock-release':
      writer.string(command.name);
      writer.int(command.token);
      break;
    case 'lock-cancel':
      writer.string(command.name);
      writer.int(command.lease);
      break;
  }
  return writer.done();
}

function sizeOf(command: KvCommand): number {
  const head = 2;
  switch (command.op) {
    case 'put':
      return head + stringSize(command.key) + 4 + command.value.byteLength;
    case 'delete':
      return head + stringSize(command.key);
    case 'cas':
      return (
        head +
        stringSize(command.key) +
        1 +
        (command.prev === null ? 0 : 4 + command.prev.byteLength) +
        4 +
        command.value.byteLength
      );
    case 'txn': {
      let size = head + 6;
      for (const compare of command.compare) size += compareSize(compare);
      for (const op of command.success) size += txnOpSize(op);
      for (const op of command.failure) size += txnOpSize(op);
      return size;
    }
    case 'lease-grant':
      return head + 8;
    case 'lease-revoke':
      return head + 9;
    case 'lock':
    case 'lock-release':
    case 'lock-cancel':
      return head + stringSize(command.name) + 8;
  }
}

function stringSize(text: string): number {
  return 2 + Buffer.byteLength(text, 'utf8');
}

function compareSize(compare: TxnCompare): number {
  const base = 1 + stringSize(compare.key);
  if ('revision' in compare) return base + 1 + 8;
  if ('value' in compare) return base + 4 + compare.value.byteLength;
  return base + 1;
}

function txnOpSize(op: TxnOp): number {
  const base = 1 + stringSize(op.key);
  return op.op === 'delete' ? base : base + 8 + 4 + op.value.byteLength;
}

function writeCompare(writer: Writer, compare: TxnCompare): void {
  if ('revision' in compare) {
    writer.u8(COMPARE_REVISION);
    writer.string(compare.key);
    writer.u8(COMPARE_OPS.indexOf(compare.cmp));
    writer.int(compare.revision);
  } else if ('value' in compare) {
    writer.u8(COMPARE_VALUE);
    writer.string(compare.key);
    writer.bytes(compare.value);
  } else {
    writer.u8(COMPARE_EXISTS);
    writer.string(compare.key);
    writer.u8(compare.exists ? 1 : 0);
  }
}

function writeTxnOp(writer: Writer, op: TxnOp): void {
  if (op.op === 'delete') {
    writer.u8(TXN_DELETE);
    writer.string(op.key);
    return;
  }
  writer.u8(TXN_PUT);
  writer.string(op.key);
  writer.int(op.lease);
  writer.bytes(op.value);
}

/**
 * Fills the buffer sizeOf measured, with plain index stores: Buffer's writeUInt* re-check every
 * offset, which the exact size already guarantees (done() checks it). Values are still checked.
 */
class Writer {
  private offset = 0;
  constructor(private readonly buffer: Buffer) {}

  u8(value: number): void {
    this.buffer[this.offset++] = value;
  }

  u16(value: number): void {
    if (value > 0xffff) throw new RangeError(`${value} does not fit a binary command's u16`);
    const { buffer, offset } = this;
    buffer[offset] = value >>> 8;
    buffer[offset + 1] = value;
    this.offset = offset + 2;
  }

  int(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new RangeError(`${value} is not an integer a binary command can carry`);
    this.u32(Math.floor(value / TWO_32));
    this.u32(value % TWO_32);
  }

  string(text: string): void {
    const length = this.buffer.write(text, this.offset + 2, 'utf8');
    this.u16(length);
    this.offset += length;
  }

  bytes(value: Uint8Array): void {
    this.u32(value.byteLength);
    this.buffer.set(value, this.offset);
    this.offset += value.byteLength;
  }

  done(): Buffer {
    if (this.offset !== this.buffer.length) throw new Error('binary command size miscomputed');
    return this.buffer;
  }

  private u32(value: number): void {
    const { buffer, offset } = this;
    buffer[offset] = value >>> 24;
    buffer[offset + 1] = value >>> 16;
    buffer[offset + 2] = value >>> 8;
    buffer[offset + 3] = value;
    this.offset = offset + 4;
  }
}

/**
 * Decodes a binary command (its first byte is BINARY_V1 or a later version byte). Throws
 * ErrDecode for anything malformed; returns UnknownBinaryOp for a version or op this server does
 * not know (commands.ts turns that into ErrUnknownCommand, which halts the state machine).
 * Values and byte compares are views into `data`, not copies.
 */
export function decodeBinary(data: Uint8Array): KvCommand | UnknownBinaryOp {
  const reader = new Reader(data);
  const version = reader.u8();
  if (version !== BINARY_V1) return new UnknownBinaryOp(`binary version ${version}`);
  const code = reader.u8();
  const op = OPS[code - 1];
  if (op === undefined) return new UnknownBinaryOp(`binary op ${code}`);
  const command = decodeOp(reader, op);
  if (command instanceof UnknownBinaryOp) return command;
  reader.end();
  return command;
}

function decodeOp(reader: Reader, op: KvCommand['op']): KvCommand | UnknownBinaryOp {
  switch (op) {
    case 'put':
      return { op, key: reader.key('key'), value: reader.bytes('value') };
    case 'delete':
      return { op, key: reader.key('key') };
    case 'cas': {
      const key = reader.key('key');
      const prev = reader.flag('prev') ? reader.bytes('prev') : null;
      return { op, key, prev, value: reader.bytes('value') };
    }
    case 'txn':
      return readTxn(reader);
    case 'lease-grant':
      return { op, ttl: reader.int('ttl', MIN_TTL, MAX_TTL) };
    case 'lease-revoke': {
      const id = reader.int('id', 1, Number.MAX_SAFE_INTEGER);
      const reason = REASONS[reader.u8() - 1];
      if (reason === undefined) throw new ErrDecode('"reason" must be "revoke" or "expire"');
      return { op, id, reason };
    }
    case 'lock':
      return { op, name: reader.key('name'), ttl: reader.int('ttl', MIN_TTL, MAX_TTL) };
    case 'lock-release':
      return { op, name: reader.key('name'), token: reader.int('token', 1, Number.MAX_SAFE_INTEGER) };
    case 'lock-cancel':
      return { op, name: reader.key('name'), lease: reader.int('lease', 1, Number.MAX_SAFE_INTEGER) };
  }
}

function readTxn(reader: Reader): KvCommand | UnknownBinaryOp {
  const compare: TxnCompare[] = [];
  const compares = reader.count('compare', MAX_TXN_COMPARES);
  for (let i = 0; i < compares; i++) compare.push(readCompare(reader));
  const success = readBranch(reader, 'success');
  if (success instanceof UnknownBinaryOp) return success;
  const failure = readBranch(reader, 'failure');
  if (failure instanceof UnknownBinaryOp) return failure;
  return { op: 'txn', compare, success, failure };
}

function readCompare(reader: Reader): TxnCompare {
  const kind = reader.u8();
  const key = reader.key('key');
  switch (kind) {
    case COMPARE_REVISION: {
      const cmp = COMPARE_OPS[reader.u8()];
      if (cmp === undefined) throw new ErrDecode(`"cmp" must be one of ${COMPARE_OPS.join(' ')}`);
      return { key, revision: reader.int('revision', 0, Number.MAX_SAFE_INTEGER), cmp };
    }
    case COMPARE_VALUE:
      return { key, value: reader.bytes('value') };
    case COMPARE_EXISTS:
      return { key, exists: reader.flag('exists') };
    default:
      throw new ErrDecode(`unknown compare kind ${kind}`);
  }
}

function readBranch(reader: Reader, name: string): TxnOp[] | UnknownBinaryOp {
  const count = reader.count(name, MAX_TXN_OPS);
  const ops: TxnOp[] = [];
  const keys = new Set<string>();
  for (let i = 0; i < count; i++) {
    const kind = reader.u8();
    const key = reader.key('key');
    if (kind === TXN_DELETE) ops.push({ op: 'delete', key });
    else if (kind === TXN_PUT) {
      const lease = reader.int('lease', 0, Number.MAX_SAFE_INTEGER);
      ops.push({ op: 'put', key, lease, value: reader.bytes('value') });
    } else return new UnknownBinaryOp(`txn binary op ${kind}`);
    if (keys.has(key)) throw new ErrDecode(`key ${JSON.stringify(key)} appears twice in "${name}"`);
    keys.add(key);
  }
  return ops;
}

class Reader {
  private offset = 0;
  private readonly buffer: Buffer;

  constructor(data: Uint8Array) {
    this.buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }

  private need(bytes: number, what: string): void {
    if (this.buffer.length - this.offset < bytes) {
      throw new ErrDecode(
        `binary command cut short: ${what} needs ${bytes} bytes, ${this.buffer.length - this.offset} left`,
      );
    }
  }

  u8(): number {
    this.need(1, 'a byte');
    return this.buffer[this.offset++];
  }

  flag(what: string): boolean {
    const value = this.u8();
    if (value > 1) throw new ErrDecode(`"${what}" flag must be 0 or 1, got ${value}`);
    return value === 1;
  }

  count(what: string, max: number): number {
    this.need(2, `"${what}" count`);
    const count = this.buffer.readUInt16BE(this.offset);
    this.offset += 2;
    if (count > max) throw new ErrDecode(`"${what}" has ${count} elements, more than ${max}`);
    return count;
  }

  int(what: string, min: number, max: number): number {
    this.need(8, `"${what}"`);
    const high = this.buffer.readUInt32BE(this.offset);
    const value = high * TWO_32 + this.buffer.readUInt32BE(this.offset + 4);
    this.offset += 8;
    if (high > MAX_SAFE_HIGH || value < min || value > max) {
      throw new ErrDecode(`"${what}" must be an integer from ${min} to ${max}`);
    }
    return value;
  }

  /** A key or lock name: the key rules of validate.ts for reading, and valid UTF-8. */
  key(what: string): string {
    this.need(2, `"${what}" length`);
    const length = this.buffer.readUInt16BE(this.offset);
    this.offset += 2;
    if (length > MAX_KEY_BYTES) throw new ErrDecode(`"${what}": key is longer than ${MAX_KEY_BYTES} bytes`);
    this.need(length, `"${what}"`);
    const bytes = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    if (!isUtf8(bytes)) throw new ErrDecode(`"${what}" is not valid UTF-8`);
    const key = bytes.toString('utf8');
    const problem = keyProblem(key, 'read');
    if (problem !== null) throw new ErrDecode(`"${what}": ${problem}`);
    return key;
  }

  bytes(what: string): Buffer {
    this.need(4, `"${what}" length`);
    const length = this.buffer.readUInt32BE(this.offset);
    this.offset += 4;
    this.need(length, `"${what}"`);
    const bytes = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return bytes;
  }

  end(): void {
    const left = this.buffer.length - this.offset;
    if (left !== 0) throw new ErrDecode(`binary command has ${left} trailing bytes`);
  }
}
