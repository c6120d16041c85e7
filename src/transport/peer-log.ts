/**
 * Warnings about a misbehaving peer, once per peer and kind: the first refusal of each kind from a
 * host is a warning, the rest go to debug (and into the transport's counters), so a hostile peer
 * reconnecting in a loop cannot flood the log. Bounded: after MAX_PEERS distinct keys it starts over.
 */
import type { TransportLogger } from './server-conn.js';

const MAX_PEERS = 1024;

export class PeerLog {
  private readonly warned = new Set<string>();

  constructor(private readonly logger: TransportLogger) {}

  /** Logs `msg` for the peer at `remote` ("host:port"): warn the first time per host and msg, debug after. */
  refusal(remote: string, msg: string, detail: object): void {
    const key = `${hostOf(remote)} ${msg}`;
    if (this.warned.has(key)) return this.logger.debug({ remote, ...detail }, msg);
    if (this.warned.size >= MAX_PEERS) this.warned.clear();
    this.warned.add(key);
    this.logger.warn(
      { remote, ...detail, note: 'further ones from this host are logged at debug level' },
      msg,
    );
  }
}

/** The host part of "host:port" or "[v6]:port". */
export function hostOf(remote: string): string {
  const colon = remote.lastIndexOf(':');
  return colon > 0 ? remote.slice(0, colon) : remote;
}
