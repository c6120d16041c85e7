/**
 * Checked reads of JSON fields, shared by the log commands (commands.ts), the snapshot reader and
 * the HTTP routes: every JSON shape the service accepts goes through these, so a bad field gets the
 * same typed error (ErrDecode, a 400 over HTTP) and the same message wherever it arrives.
 */
import { ErrDecode } from '../index.js';
import { keyProblem } from './validate.js';

export type JsonObject = Record<string, unknown>;

/** `value` as a JSON object (not null, not an array). */
export function asObject(value: unknown, what: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ErrDecode(`${what} must be a JSON object`);
  }
  return value as JsonObject;
}

/** `value` as a JSON array of at most `max` elements. */
export function asArray(value: unknown, what: string, max: number): unknown[] {
  if (!Array.isArray(value)) throw new ErrDecode(`${what} must be an array`);
  if (value.length > max) throw new ErrDecode(`${what} has ${value.length} elements, more than ${max}`);
  return value;
}

/** Parses JSON text that must be an object. */
export function parseObject(text: string, what: string): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ErrDecode(`${what} is not JSON`);
  }
  return asObject(parsed, what);
}

export function stringField(record: JsonObject, field: string): string {
  const value = record[field];
  if (typeof value !== 'string') throw new ErrDecode(`"${field}" must be a string`);
  return value;
}

/** A key (or lock name or prefix) that follows the key rules of validate.ts for reading. */
export function keyField(record: JsonObject, field: string): string {
  const key = stringField(record, field);
  const problem = keyProblem(key, 'read');
  if (problem !== null) throw new ErrDecode(`"${field}": ${problem}`);
  return key;
}

/** An integer in [min, max]; `fallback` when the field is absent (required when there is none). */
export function intField(
  record: JsonObject,
  field: string,
  min: number,
  max: number,
  fallback?: number,
): number {
  const value = record[field];
  if (value === undefined && fallback !== undefined) return fallback;
  return checkInt(value, `"${field}"`, min, max);
}

export function checkInt(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ErrDecode(`${what} must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** Standard padded base64 only; Node's decoder silently skips junk, so a round trip proves the input clean. */
export function decodeBase64Strict(text: string): Buffer | null {
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : null;
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function base64Field(record: JsonObject, field: string): Buffer {
  const text = record[field];
  if (typeof text !== 'string') throw new ErrDecode(`"${field}" must be a base64 string`);
  const bytes = decodeBase64Strict(text);
  if (bytes === null) throw new ErrDecode(`"${field}" is not valid base64`);
  return bytes;
}

/** A field that must be present: base64, or null. */
export function nullableBase64Field(record: JsonObject, field: string): Buffer | null {
  if (!(field in record)) throw new ErrDecode(`"${field}" is required (null or base64)`);
  return record[field] === null ? null : base64Field(record, field);
}

/**
 * A lease ID as JSON carries it: the decimal string of a log index (`"81"`), as etcd's JSON
 * gateway carries its 64-bit IDs. Null when `text` is not one.
 */
export function parseLeaseId(text: string): number | null {
  if (!/^[1-9][0-9]{0,15}$/.test(text)) return null;
  const id = Number(text);
  return Number.isSafeInteger(id) ? id : null;
}

export function leaseIdField(record: JsonObject, field: string): number {
  return checkLeaseId(record[field], `"${field}"`);
}

export function checkLeaseId(value: unknown, what: string): number {
  const id = typeof value === 'string' ? parseLeaseId(value) : null;
  if (id === null) throw new ErrDecode(`${what} must be a lease ID (a decimal string such as "81")`);
  return id;
}
