/** Checks of what clients and operators hand the KV service: keys, server IDs, addresses. */
import { isIP } from 'node:net';
import type { HostPort } from '../index.js';

/** Keys under this prefix belong to the service itself; clients may read them, never write them. */
export const RESERVED_PREFIX = '_raftkit/';
export const MAX_KEY_BYTES = 1024;
const MAX_SERVER_ID_LENGTH = 128;

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
/** In a `u` regex a surrogate class matches only unpaired ones: text that has no UTF-8 form. */
const LONE_SURROGATE = /[\ud800-\udfff]/u;

/**
 * Why a client-supplied key is refused, or null when it is fine. Reserved keys may be read but
 * not written (the contract refuses client writes under `_raftkit/`).
 */
export function keyProblem(key: string, access: 'read' | 'write'): string | null {
  if (key.length === 0) return 'key is empty';
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return `key is longer than ${MAX_KEY_BYTES} bytes`;
  if (CONTROL_CHARS.test(key)) return 'key contains control characters';
  if (LONE_SURROGATE.test(key)) return 'key is not valid Unicode (unpaired surrogate)';
  if (access === 'write' && key.startsWith(RESERVED_PREFIX))
    return `keys under ${RESERVED_PREFIX} are reserved`;
  return null;
}

/** IDs appear in URLs, reserved keys and log lines, so they keep to a plain alphabet. */
export function serverIdProblem(id: string): string | null {
  if (id.length === 0) return 'server ID is empty';
  if (id.length > MAX_SERVER_ID_LENGTH) return `server ID is longer than ${MAX_SERVER_ID_LENGTH} characters`;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id)) {
    return `server ID ${JSON.stringify(id)} may hold only letters, digits, '.', '_' and '-'`;
  }
  return null;
}

/** Parses `host:port` (IPv6 hosts in brackets). Port 0 is allowed only when `allowAnyPort`. */
export function parseHostPort(text: string, allowAnyPort = false): HostPort | string {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]/]+):(\d{1,5})$/.exec(text);
  if (match === null) return `${JSON.stringify(text)} is not host:port`;
  const port = Number(match[2]);
  if (port > 65535 || (port === 0 && !allowAnyPort))
    return `port ${match[2]} of ${JSON.stringify(text)} is out of range`;
  return { host: match[1].startsWith('[') ? match[1].slice(1, -1) : match[1], port };
}

/** An address other servers can dial: not a wildcard and not port 0. */
export function isAdvertisable({ host, port }: HostPort): boolean {
  return port !== 0 && !isWildcardHost(host);
}

/**
 * The base URL of a member's HTTP API from `host:port` or `http(s)://host:port`; null when it is
 * neither (a path, query or other scheme is refused so that redirects stay well-formed).
 */
export function normalizeHttpUrl(text: string): string | null {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '') return null;
  return url.origin;
}

/**
 * A name or address that only reaches this machine: `localhost` (and `*.localhost`, RFC 6761),
 * 127.0.0.0/8 and ::1 (also IPv4-mapped). Brackets around IPv6 are allowed.
 */
export function isLoopbackHost(host: string): boolean {
  const name = host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (isIP(name) === 4) return name.startsWith('127.');
  if (isIP(name) !== 6) return false;
  // The URL parser writes IPv6 in its shortest form, IPv4-mapped 127.x.y.z as ::ffff:7fxx:yyzz.
  const canonical = new URL(`http://[${name}]`).hostname;
  return canonical === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canonical);
}

/** The wildcard addresses a server may bind to (every interface); never dialable. */
export function isWildcardHost(host: string): boolean {
  const name = host.replace(/^\[(.*)\]$/, '$1');
  return name === '0.0.0.0' || (isIP(name) === 6 && /^[0:]+$/.test(name));
}
