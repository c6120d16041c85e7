/**
 * Binding a TLS certificate to a Raft server identity, so that one member's certificate cannot be
 * used to speak for another. A certificate names the server IDs it may act as in URI SANs of the
 * form `raftkit://server/<id>` (the ID percent-encoded where needed); its IP and DNS SANs name the
 * hosts it was issued for, as usual.
 *
 * A request's sender (its header ID, or for hashicorp peers before 1.3.7, which send no ID, its
 * address) must be one of those IDs; a sender known only by its address may also be on a host the
 * certificate names. A dialled server must likewise be named by its certificate. Certificates
 * without raftkit URIs carry no identity: they are checked only when identities are required.
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { RaftError } from '../core/errors.js';
import type { Peer, RaftRequest } from '../core/types.js';
import { splitHostPort } from './stream-layer.js';

/** The URI SAN prefix that names a server ID. */
export const SERVER_ID_URI_PREFIX = 'raftkit://server/';

/** A certificate does not name the server a request claims to come from, or a dialled server. */
export class ErrPeerIdentity extends RaftError {
  /** `'ErrPeerIdentity'`. */
  override name = 'ErrPeerIdentity';
}

/** Who a certificate says its holder is. */
export interface PeerIdentity {
  /** Server IDs from `raftkit://server/<id>` URI SANs. */
  readonly ids: ReadonlySet<string>;
  /** IP (normalised) and DNS (lower-case) SANs. */
  readonly hosts: ReadonlySet<string>;
}

/** Splits Node's subjectAltName text ("DNS:a, IP Address:1.2.3.4, URI:\"x,y\"") into entries. */
export function parseSubjectAltName(text: string): { type: string; value: string }[] {
  const entries: { type: string; value: string }[] = [];
  let at = 0;
  while (at < text.length) {
    const colon = text.indexOf(':', at);
    if (colon < 0) break;
    const type = text.slice(at, colon);
    let end: number;
    let value: string;
    if (text[colon + 1] === '"') {
      // Node quotes values holding separators as JSON strings.
      end = colon + 2;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      end++;
      value = JSON.parse(text.slice(colon + 1, end)) as string;
    } else {
      const comma = text.indexOf(', ', colon + 1);
      end = comma < 0 ? text.length : comma;
      value = text.slice(colon + 1, end);
    }
    entries.push({ type, value });
    at = end + 2;
  }
  return entries;
}

function normalHost(host: string): string {
  if (isIP(host) === 6) return new URL(`http://[${host}]/`).hostname.slice(1, -1);
  return host.toLowerCase();
}

/** The identity a certificate carries (`ids` empty when it names no raftkit server). */
export function certificateIdentity(cert: X509Certificate): PeerIdentity {
  const ids = new Set<string>();
  const hosts = new Set<string>();
  for (const { type, value } of parseSubjectAltName(cert.subjectAltName ?? '')) {
    if (type === 'URI' && value.startsWith(SERVER_ID_URI_PREFIX)) {
      try {
        ids.add(decodeURIComponent(value.slice(SERVER_ID_URI_PREFIX.length)));
      } catch {
        // A malformed escape names nobody.
      }
    } else if (type === 'IP Address' || type === 'DNS') {
      hosts.add(normalHost(value));
    }
  }
  return { ids, hosts };
}

/** Why `peer` is not the holder of a certificate with `identity`, or null if it is. */
export function identityMismatch(identity: PeerIdentity, peer: Peer): string | null {
  const named = [...identity.ids].map((id) => JSON.stringify(id)).join(', ');
  if (peer.id !== '') {
    return identity.ids.has(peer.id)
      ? null
      : `server ID ${JSON.stringify(peer.id)} is not in its certificate (${named})`;
  }
  // No ID (hashicorp before 1.3.7): the address must be one of the IDs, or on a host the certificate names.
  if (identity.ids.has(peer.address)) return null;
  let host: string;
  try {
    host = normalHost(splitHostPort(peer.address).host);
  } catch {
    return `no server ID and no usable address (${JSON.stringify(peer.address)}) to check against its certificate`;
  }
  return identity.hosts.has(host)
    ? null
    : `address ${JSON.stringify(peer.address)} is not on a host its certificate names (${named})`;
}

/** The server a request says it comes from. */
export function senderOf(request: RaftRequest): Peer {
  switch (request.kind) {
    case 'appendEntries':
    case 'installSnapshot':
      return request.leader;
    case 'requestVote':
    case 'requestPreVote':
      return request.candidate;
    case 'timeoutNow':
    case 'readIndex':
      return request.from;
  }
}
