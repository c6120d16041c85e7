/** Checks of what clients and operators hand the KV service: keys, server IDs, addresses. */
import type { HostPort } from '../index.js';
import { RESERVED_PREFIX } from './commands.js';

export const MAX_KEY_BYTES = 1024;
const MAX_SERVER_ID_LENGTH = 128;

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/**
 * Why a client-supplied key is refused, or null when it is fine. Reserved keys may be read but
 * not written (the contract refuses client writes under `_raftkit/`).
 */
export function keyProblem(key: string, access: 'read' | 'write'): string | null {
  if (key.length === 0) return 'key is empty';
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return `key is longer than ${MAX_KEY_BYTES} bytes`;
  if (CONTROL_CHARS.test(key)) return 'key contains control characters';
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
  return port !== 0 && host !== '0.0.0.0' && host !== '::';
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
