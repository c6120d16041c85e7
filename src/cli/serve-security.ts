/**
 * The secure-by-default rule of `kv serve`: an HTTP API that other machines can reach needs a
 * token, and a Raft port that other machines can reach needs mutual TLS. Without them the server
 * refuses to start unless --insecure says so, and then it warns at every start. Loopback-only
 * servers (the demo, tests) need neither.
 */
import { splitHostPort, type HostPort } from '../index.js';
import { isLoopbackHost } from '../kv/validate.js';

/** The flags the rule reads (KvServeArgs has them; declared here so neither module imports the other). */
export interface SecurityFlags {
  httpAddr: HostPort;
  raftAddr: string;
  advertise: string;
  authTokenFile: string | null;
  adminTokenFile: string | null;
  /** Raft mutual TLS files, or null. */
  tls: object | null;
  /** HTTPS files of the API, or null. */
  httpTls: object | null;
}

/** What the secure-by-default rule refuses in these flags, one sentence each (empty: nothing). */
export function insecureSettings(args: SecurityFlags): string[] {
  const problems: string[] = [];
  const httpListen = `${args.httpAddr.host}:${args.httpAddr.port}`;
  if (!isLoopbackHost(args.httpAddr.host) && args.authTokenFile === null && args.adminTokenFile === null) {
    problems.push(
      `the HTTP API would listen on ${httpListen}, which is not loopback, without authentication: ` +
        'give --auth-token-file FILE (and --admin-token-file FILE)',
    );
  }
  const raftHosts = [args.raftAddr, args.advertise].map((address) => splitHostPort(address).host);
  if (!raftHosts.every(isLoopbackHost) && args.tls === null) {
    problems.push(
      `Raft traffic on ${args.advertise}, which is not loopback, would be unauthenticated and unencrypted: ` +
        'give --tls-cert FILE, --tls-key FILE and --tls-ca FILE',
    );
  }
  return problems;
}

/** Weaker settings that are allowed but worth a warning at every start. */
export function securityWarnings(args: SecurityFlags): string[] {
  const warnings = insecureSettings(args).map(
    (problem) => `--insecure: ${problem.replace(/: give .*$/, '')}`,
  );
  const hasToken = args.authTokenFile !== null || args.adminTokenFile !== null;
  if (hasToken && args.httpTls === null && !isLoopbackHost(args.httpAddr.host)) {
    warnings.push(
      'API tokens travel unencrypted over plain HTTP on a non-loopback address: add --http-tls-cert and --http-tls-key',
    );
  }
  return warnings;
}
