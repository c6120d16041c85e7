/**
 * Checks of what a member answers before the client uses it: the service is a port like any other,
 * so a JSON answer must have the contract's shape (numbers safe integers, strings strings) or the
 * call fails with a ProtocolError instead of handing the caller garbage.
 */
import { ProtocolError } from './errors.js';

export type Json = Record<string, unknown>;

/** The body as a JSON object, or a ProtocolError naming what was expected. */
export function jsonObject(body: Buffer, what: string): Json {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ProtocolError(`${what}: the answer is not JSON`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new ProtocolError(`${what}: the answer is not a JSON object`);
  return parsed as Json;
}

/** A non-negative safe integer field. */
export function integer(object: Json, field: string, what: string): number {
  const value = object[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw new ProtocolError(`${what}: "${field}" is not a non-negative integer`);
  return value;
}

export function text(object: Json, field: string, what: string): string {
  const value = object[field];
  if (typeof value !== 'string') throw new ProtocolError(`${what}: "${field}" is not a string`);
  return value;
}

export function bool(object: Json, field: string, what: string): boolean {
  const value = object[field];
  if (typeof value !== 'boolean') throw new ProtocolError(`${what}: "${field}" is not a boolean`);
  return value;
}

export function array(object: Json, field: string, what: string): Json[] {
  const value = object[field];
  if (!Array.isArray(value) || value.some((item) => item === null || typeof item !== 'object'))
    throw new ProtocolError(`${what}: "${field}" is not a list of objects`);
  return value as Json[];
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Standard padded base64 (the contract's B64), decoded. */
export function base64(value: unknown, what: string): Buffer {
  if (typeof value !== 'string' || value.length % 4 !== 0 || !BASE64.test(value))
    throw new ProtocolError(`${what}: a value is not base64`);
  return Buffer.from(value, 'base64');
}

/** The revision in an `ETag: "<revision>"` header. */
export function etagRevision(etag: string | undefined, what: string): number {
  const match = etag === undefined ? null : /^"(\d{1,16})"$/.exec(etag);
  const revision = match === null ? NaN : Number(match[1]);
  if (!Number.isSafeInteger(revision)) throw new ProtocolError(`${what}: no revision in the ETag`);
  return revision;
}
