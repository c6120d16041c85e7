/** How keys and values travel in URLs and bodies; also used by the CLI's request helper (src/cli/service-client.ts). */

/** A value as the client takes it: a string (sent as UTF-8) or raw bytes. */
export type Bytes = string | Uint8Array;

/** The path of a key: every byte escaped that could change its meaning, '/' included. */
export function keyPath(key: string): string {
  if (typeof key !== 'string' || key === '') throw new RangeError('a key is a non-empty string');
  return `/kv/${encodeURIComponent(key)}`;
}

/** A value's bytes (no copy for a Uint8Array). */
export function bytes(value: Bytes): Buffer {
  return typeof value === 'string'
    ? Buffer.from(value, 'utf8')
    : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** Percent-encodes raw bytes for a query value (the server decodes escapes to bytes). */
export function queryValue(value: Uint8Array): string {
  let out = '';
  for (const byte of value) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9._~-]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
