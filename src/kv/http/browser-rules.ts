/**
 * The rules that keep a web browser from being turned against a server (the KV API here, the
 * demo's dashboard in src/cli): a request's `Host` must name the server (a DNS-rebinding page
 * reaches it under the attacker's name), and a state-changing request that a page of another
 * origin sent (its `Origin` header says so) is refused. Requests without these headers (curl, the
 * project's own clients) are not affected by the origin rule.
 */
import { networkInterfaces } from 'node:os';
import { isLoopbackHost, isWildcardHost } from '../validate.js';

/** Methods a page of another origin may cause without changing anything. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Host headers whose verdict is remembered at most: clients send the same one or two on every
 * request, and parsing it (a URL) was ~1% of a busy leader (bench/PROFILE.md). A client that sends
 * many different ones only empties the memo, whose size stays bounded.
 */
export const MAX_REMEMBERED_HOSTS = 64;

/** The host names a server answers to besides loopback ones; compared without the port. */
export class AllowedHosts {
  private readonly names = new Set<string>();
  /** Recent verdicts by the exact Host header (see MAX_REMEMBERED_HOSTS). */
  private readonly verdicts = new Map<string, string | null>();

  constructor(hosts: Iterable<string> = []) {
    for (const host of hosts) this.add(host);
  }

  /** Adds a name or address; a wildcard (0.0.0.0, ::) adds the addresses of every interface. */
  add(host: string): void {
    this.verdicts.clear();
    if (isWildcardHost(host)) {
      for (const list of Object.values(networkInterfaces())) {
        for (const entry of list ?? []) this.add(entry.address);
      }
      return;
    }
    const name = canonicalHostname(host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);
    if (name !== null) this.names.add(name);
  }

  /** Why a `Host` header is refused, or null when it names this server or a loopback host. */
  problem(hostHeader: string | undefined): string | null {
    // Only HTTP/1.0 requests may lack it, and no browser sends those.
    if (hostHeader === undefined) return null;
    const known = this.verdicts.get(hostHeader);
    if (known !== undefined) return known;
    const verdict = this.judge(hostHeader);
    if (this.verdicts.size >= MAX_REMEMBERED_HOSTS) this.verdicts.clear();
    this.verdicts.set(hostHeader, verdict);
    return verdict;
  }

  /** Verdicts remembered now (for tests: it never exceeds MAX_REMEMBERED_HOSTS). */
  get remembered(): number {
    return this.verdicts.size;
  }

  private judge(hostHeader: string): string | null {
    const name = canonicalHostname(hostHeader);
    if (name === null) return `Host ${JSON.stringify(hostHeader)} is not host[:port]`;
    if (isLoopbackHost(name) || this.names.has(name)) return null;
    return `Host ${JSON.stringify(hostHeader)} is not an address of this server (a DNS-rebinding page?)`;
  }
}

/** The hostname of `host[:port]` as URLs write it (lower case, IPv6 in brackets, no trailing dot). */
function canonicalHostname(hostAndPort: string): string | null {
  let url: URL;
  try {
    url = new URL(`http://${hostAndPort}`);
  } catch {
    return null;
  }
  if (url.username !== '' || url.pathname !== '/' || url.search !== '' || url.hash !== '') return null;
  return url.hostname.replace(/\.$/, '');
}

/**
 * Why a request that a page of another origin sent is refused, or null: a state-changing method
 * whose `Origin` differs from the server's own (`scheme://Host`). `Origin: null` (sandboxed
 * frames, files) is another origin too.
 */
export function crossOriginProblem(
  method: string,
  originHeader: string | undefined,
  scheme: 'http' | 'https',
  hostHeader: string | undefined,
): string | null {
  if (originHeader === undefined || SAFE_METHODS.has(method)) return null;
  const refusal = `${method} from a page of another origin (${originHeader}) is refused`;
  if (hostHeader === undefined) return refusal;
  try {
    return new URL(originHeader).origin === new URL(`${scheme}://${hostHeader}`).origin ? null : refusal;
  } catch {
    return refusal;
  }
}
