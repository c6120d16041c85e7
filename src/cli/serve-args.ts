/**
 * The flags of `raftkit kv serve`, exactly as the KV contract in DESIGN.md lists them, parsed and
 * checked up front so that a mistake is one clear line naming the flag instead of a failure later.
 */
import { existsSync } from 'node:fs';
import { joinHostPort, type HostPort } from '../index.js';
import { LOG_STORE_KINDS, type LogStoreKind } from '../kit/storage.js';
import type { CommandFormat } from '../kv/commands.js';
import type { HttpsFiles } from '../kv/credentials.js';
import { DEFAULT_JOIN_TIMEOUT_MS } from '../kv/http/membership.js';
import { DEFAULT_WATCH_HISTORY, DEFAULT_WATCH_HISTORY_BYTES } from '../kv/fsm.js';
import {
  DEFAULT_HTTP_LIMITS,
  DEFAULT_MAX_BODY_BYTES,
  KV_HTTP_DEFAULTS,
  type HttpLimits,
} from '../kv/http/server.js';
import { isAdvertisable, normalizeHttpUrl, parseHostPort, serverIdProblem } from '../kv/validate.js';
import { integerFlag, UsageError } from './command.js';
import { insecureSettings } from './serve-security.js';
import { DEFAULT_SEGMENT_BYTES, MAX_SEGMENT_BYTES } from '../storage/wal-segments.js';
import { parseFaultSpec } from '../testing/fault-files.js';

export interface KvServeArgs {
  id: string;
  /** Where the Raft transport listens (host:port). */
  raftAddr: string;
  /** Where other servers dial this one: --advertise, else --raft-addr. */
  advertise: string;
  /** Where the HTTP API listens. */
  httpAddr: HostPort;
  /**
   * This server's HTTP base URL as other members and clients reach it (published for redirects).
   * With port 0 in --http-addr, use the URL the listener reports instead.
   */
  httpUrl: string;
  dataDir: string;
  /** --log-store: the log store of a new data directory (undefined: the kit's default, wal). */
  logStore: LogStoreKind | undefined;
  /** --command-format: `json` (the default) or `binary` (once every member reads it). */
  commandFormat: CommandFormat;
  /** The initial voters from --peers (bootstrap on first start); empty without the flag. */
  peers: { id: string; address: string }[];
  /** Base URL of a member to ask to add this server, or null. */
  join: string | null;
  tls: { cert: string; key: string; ca: string } | null;
  /** --tls-require-identity: refuse Raft peers whose certificate names no server ID. */
  tlsRequireIdentity: boolean;
  /** --auth-token-file: the client token (all routes when there is no admin token). */
  authTokenFile: string | null;
  /** --admin-token-file: the token the cluster routes need. */
  adminTokenFile: string | null;
  /** --http-tls-cert/--http-tls-key[/--http-tls-ca]: serve the API over HTTPS. */
  httpTls: HttpsFiles | null;
  /** --insecure: start even where the secure-by-default rule (serve-security.ts) refuses. */
  insecure: boolean;
  /** --http-max-connections, --http-headers-timeout, --http-request-timeout. */
  httpLimits: Pick<HttpLimits, 'maxConnections' | 'headersTimeout' | 'requestTimeout'>;
  /** --http-max-body-bytes: the largest value (request body). */
  maxBodyBytes: number;
  /** --wal-segment-bytes: the size at which the write-ahead log starts a new segment file. */
  walSegmentBytes: number;
  /** --join-timeout: how long a joining server may take to catch up (and --join keeps asking for twice that). */
  joinTimeout: number;
  /** Demo only (not part of the contract): serve POST /debug/isolate. */
  debugRoutes: boolean;
  /** Test only, deliberately broken: answer reads from local state (see KvHttpOptions). */
  debugStaleReads: boolean;
  /** Test only, deliberately broken: acknowledge writes before they commit (see KvHttpOptions). */
  debugEarlyAck: boolean;
  /**
   * Test only: run on a SkewedClock that the parent process (`raftkit chaos`) jumps and skews
   * through the IPC channel (`{ "raftkitClock": ClockSkew }` messages).
   */
  debugClock: boolean;
  /**
   * Test only: `--debug-disk-faults SPEC` puts a fault-injecting file layer (raftkit/testing's
   * fault spec, checked here) under the WAL and the snapshot store; the parent process may add
   * rules over IPC (`{ "raftkitDiskFaults": SPEC }`). Null without the flag.
   */
  debugDiskFaults: string | null;
  /**
   * Test only, deliberately broken: an injected fsync failure is swallowed and the write
   * acknowledged (`raftkit chaos --break ignore-fsync` must catch it). Needs --debug-disk-faults.
   */
  debugIgnoreFsyncFailures: boolean;
  /** Raft timing and snapshot settings from the optional tuning flags (beyond the contract). */
  raftConfig: RaftTuning;
  /** The KV service's bounds from their flags (absent: the documented defaults). */
  kvLimits: KvLimits;
}

/** Optional flags that tune Raft (hashicorp's Config fields; durations in ms). */
export const TUNING_FLAGS = {
  '--heartbeat-timeout': 'heartbeatTimeout',
  '--election-timeout': 'electionTimeout',
  '--leader-lease-timeout': 'leaderLeaseTimeout',
  '--commit-timeout': 'commitTimeout',
  '--snapshot-interval': 'snapshotInterval',
  '--snapshot-threshold': 'snapshotThreshold',
  '--snapshot-log-limit': 'snapshotLogLimit',
  '--trailing-logs': 'trailingLogs',
} as const;
type TuningFlag = keyof typeof TUNING_FLAGS;
export type RaftTuning = Partial<Record<(typeof TUNING_FLAGS)[TuningFlag], number>>;

/** The KV service's bounds (docs/kv-contract.md): flag -> option name and the values allowed. */
export const KV_LIMIT_FLAGS = {
  '--watch-history': { option: 'watchHistory', min: 100, max: 100_000_000 },
  '--watch-history-bytes': { option: 'watchHistoryBytes', min: 1 << 20, max: 2 ** 40 },
  '--watch-buffer-bytes': { option: 'watchBufferBytes', min: 1024, max: 2 ** 31 },
  '--max-watches': { option: 'maxWatches', min: 1, max: 1_000_000 },
  '--max-leases': { option: 'maxLeases', min: 1, max: 10_000_000 },
  '--snapshot-format': { option: 'snapshotFormat', min: 2, max: 3 },
} as const;
type KvLimitFlag = keyof typeof KV_LIMIT_FLAGS;
export type KvLimits = Partial<Record<(typeof KV_LIMIT_FLAGS)[KvLimitFlag]['option'], number>>;

const VALUE_FLAGS = [
  '--id',
  '--raft-addr',
  '--advertise',
  '--http-addr',
  '--data-dir',
  '--log-store',
  '--command-format',
  '--peers',
  '--join',
  '--tls-cert',
  '--tls-key',
  '--tls-ca',
  '--auth-token-file',
  '--admin-token-file',
  '--http-tls-cert',
  '--http-tls-key',
  '--http-tls-ca',
  '--http-advertise',
  '--http-max-connections',
  '--http-headers-timeout',
  '--http-request-timeout',
  '--http-max-body-bytes',
  '--wal-segment-bytes',
  '--join-timeout',
  '--debug-disk-faults',
  ...(Object.keys(TUNING_FLAGS) as TuningFlag[]),
  ...(Object.keys(KV_LIMIT_FLAGS) as KvLimitFlag[]),
] as const;
type ValueFlag = (typeof VALUE_FLAGS)[number];
const BOOLEAN_FLAGS = [
  '--debug-routes',
  '--debug-stale-reads',
  '--debug-early-ack',
  '--debug-clock',
  '--debug-ignore-fsync-failures',
  '--insecure',
  '--tls-require-identity',
] as const;

export const SERVE_USAGE = `usage: raftkit kv serve --id ID --raft-addr HOST:PORT [--advertise HOST:PORT]
       --http-addr HOST:PORT --data-dir DIR [--log-store wal|lmdb] [--peers ID=HOST:PORT,...] [--join URL]
       [--tls-cert FILE --tls-key FILE --tls-ca FILE [--tls-require-identity]]
       [--auth-token-file FILE] [--admin-token-file FILE]
       [--http-tls-cert FILE --http-tls-key FILE [--http-tls-ca FILE]] [--http-advertise URL] [--insecure]
       [--http-max-connections N] [--http-headers-timeout MS] [--http-request-timeout MS]
       [--http-max-body-bytes N] [--join-timeout MS] [--wal-segment-bytes N]
       [--heartbeat-timeout MS --election-timeout MS --leader-lease-timeout MS --commit-timeout MS
        --snapshot-interval MS --snapshot-threshold N --snapshot-log-limit N --trailing-logs N]
       [--watch-history N --watch-history-bytes N --watch-buffer-bytes N --max-watches N --max-leases N]
       [--snapshot-format 2|3] [--command-format json|binary]

Security (see the README's Security section):
  --auth-token-file FILE   every route but GET /healthz needs "Authorization: Bearer <token in FILE>"
  --admin-token-file FILE  /cluster/* and /debug/* need this token (the client token gets 403 there);
                           it works on every route. Both files are read again on SIGHUP.
  --http-tls-cert FILE --http-tls-key FILE   serve the API over HTTPS (re-read on SIGHUP)
  --http-tls-ca FILE       also require client certificates signed by this CA
  --http-advertise URL     the API's URL as members and clients reach it (default: from --http-addr,
                           or --advertise's host when --http-addr binds 0.0.0.0; https:// with TLS)
  --tls-cert/--tls-key/--tls-ca FILE         mutual TLS between the Raft servers
  --tls-require-identity   refuse Raft peers whose certificate names no server ID (URI SAN
                           raftkit://server/<id>); certificates that name one are always checked
  --insecure               start although an address is not loopback and the API has no token or the
                           Raft port no TLS (refused otherwise); warns at every start
Limits (defaults): --http-max-connections ${DEFAULT_HTTP_LIMITS.maxConnections}, --http-headers-timeout ${DEFAULT_HTTP_LIMITS.headersTimeout} ms,
  --http-request-timeout ${DEFAULT_HTTP_LIMITS.requestTimeout} ms (the whole request), --http-max-body-bytes ${DEFAULT_MAX_BODY_BYTES} (a value),
  --join-timeout ${DEFAULT_JOIN_TIMEOUT_MS} ms (a joining server must catch up within it or is removed again),
  --watch-history ${DEFAULT_WATCH_HISTORY} revisions and --watch-history-bytes ${DEFAULT_WATCH_HISTORY_BYTES} (what GET /watch?since can replay),
  --watch-buffer-bytes ${KV_HTTP_DEFAULTS.watchBufferBytes} (unsent events per watch stream before it is closed, resumable),
  --max-watches ${KV_HTTP_DEFAULTS.maxWatches} open watch streams, --max-leases ${KV_HTTP_DEFAULTS.maxLeases} leases,
  --wal-segment-bytes ${DEFAULT_SEGMENT_BYTES} (the WAL starts a new segment file past it; lmdb ignores it),
  --snapshot-format 3 (binary KV snapshots; 2 writes NDJSON, which raftkit before format 3 can read:
  for a cluster being upgraded one server at a time),
  --command-format json (log commands in the contract's JSON; binary: as leader, in binary once every
  member has recorded that it reads it, and refuse joins of servers that read only JSON)`;

/** Longest --debug-disk-faults spec (a handful of clauses is all a test needs). */
export const MAX_FAULT_SPEC_LENGTH = 1024;

/** Smallest --wal-segment-bytes: below a MiB, a segment would hold few large entries. */
const MIN_WAL_SEGMENT_FLAG = 1024 * 1024;

/** Largest --http-max-body-bytes: a value must fit well inside one Raft message (32 MiB). */
const MAX_BODY_LIMIT = 16 * 1024 * 1024;

/** Reads `--flag value` and `--flag=value` forms; refuses unknown, repeated and valueless flags. */
function collectFlags(argv: readonly string[]): { values: Map<ValueFlag, string>; booleans: Set<string> } {
  const values = new Map<ValueFlag, string>();
  const booleans = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new UsageError('unexpected argument (flags start with --)', arg);
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    if ((BOOLEAN_FLAGS as readonly string[]).includes(flag)) {
      if (eq >= 0) throw new UsageError('takes no value', flag);
      booleans.add(flag);
      continue;
    }
    if (!(VALUE_FLAGS as readonly string[]).includes(flag)) throw new UsageError('unknown flag', flag);
    if (values.has(flag as ValueFlag)) throw new UsageError('given more than once', flag);
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) value = argv[++i];
    if (value === undefined || value === '') throw new UsageError('needs a value', flag);
    values.set(flag as ValueFlag, value);
  }
  return { values, booleans };
}

function required(values: Map<ValueFlag, string>, flag: ValueFlag): string {
  const value = values.get(flag);
  if (value === undefined) throw new UsageError('is required', flag);
  return value;
}

function hostPort(flag: ValueFlag, text: string, allowAnyPort: boolean): HostPort {
  const parsed = parseHostPort(text, allowAnyPort);
  if (typeof parsed === 'string') throw new UsageError(parsed, flag);
  return parsed;
}

function checkId(flag: ValueFlag, id: string): void {
  const problem = serverIdProblem(id);
  if (problem !== null) throw new UsageError(problem, flag);
}

function parsePeers(text: string): { id: string; address: string }[] {
  const peers: { id: string; address: string }[] = [];
  for (const item of text.split(',')) {
    const eq = item.indexOf('=');
    if (eq < 0) throw new UsageError(`${JSON.stringify(item)} is not ID=HOST:PORT`, '--peers');
    const id = item.slice(0, eq);
    const address = item.slice(eq + 1);
    checkId('--peers', id);
    if (!isAdvertisable(hostPort('--peers', address, false))) {
      throw new UsageError(`${id}'s address ${address} cannot be dialled`, '--peers');
    }
    if (peers.some((peer) => peer.id === id)) throw new UsageError(`${id} is listed twice`, '--peers');
    if (peers.some((peer) => peer.address === address))
      throw new UsageError(`${address} is listed twice`, '--peers');
    peers.push({ id, address });
  }
  return peers;
}

function parseRequireIdentity(booleans: Set<string>, values: Map<ValueFlag, string>): boolean {
  if (!booleans.has('--tls-require-identity')) return false;
  if (!values.has('--tls-cert'))
    throw new UsageError('needs --tls-cert, --tls-key and --tls-ca', '--tls-require-identity');
  return true;
}

function parseTls(values: Map<ValueFlag, string>): KvServeArgs['tls'] {
  const files = { cert: values.get('--tls-cert'), key: values.get('--tls-key'), ca: values.get('--tls-ca') };
  const given = Object.values(files).filter((file) => file !== undefined).length;
  if (given === 0) return null;
  for (const [name, file] of Object.entries(files)) {
    const flag = `--tls-${name}`;
    if (file === undefined) throw new UsageError('is required with the other --tls-* flags', flag);
    if (!existsSync(file)) throw new UsageError(`file ${file} does not exist`, flag);
  }
  return files as { cert: string; key: string; ca: string };
}

/** Parses the arguments after `kv serve`; throws UsageError on the first problem. */
export function parseServeArgs(argv: readonly string[]): KvServeArgs {
  const { values, booleans } = collectFlags(argv);
  const id = required(values, '--id');
  checkId('--id', id);
  const raftAddr = required(values, '--raft-addr');
  hostPort('--raft-addr', raftAddr, true);
  const advertise = values.get('--advertise') ?? raftAddr;
  const advertised = hostPort(values.has('--advertise') ? '--advertise' : '--raft-addr', advertise, false);
  if (!isAdvertisable(advertised)) {
    throw new UsageError(`is required: ${raftAddr} is not an address other servers can dial`, '--advertise');
  }
  const httpAddr = hostPort('--http-addr', required(values, '--http-addr'), true);
  // A wildcard bind is reached through the advertised host.
  const httpHost = isAdvertisable({ ...httpAddr, port: 1 }) ? httpAddr.host : advertised.host;
  const dataDir = required(values, '--data-dir');
  const logStore = values.get('--log-store') as LogStoreKind | undefined;
  if (logStore !== undefined && !LOG_STORE_KINDS.includes(logStore)) {
    throw new UsageError(`must be one of ${LOG_STORE_KINDS.join(', ')}, not ${logStore}`, '--log-store');
  }
  const commandFormat = values.get('--command-format') ?? 'json';
  if (commandFormat !== 'json' && commandFormat !== 'binary')
    throw new UsageError(`must be json or binary, not ${commandFormat}`, '--command-format');

  const peers = values.has('--peers') ? parsePeers(values.get('--peers')!) : [];
  if (peers.length > 0) {
    const self = peers.find((peer) => peer.id === id);
    if (self === undefined) throw new UsageError(`must include this server (${id})`, '--peers');
    if (self.address !== advertise) {
      throw new UsageError(`lists ${id} at ${self.address} but this server is at ${advertise}`, '--peers');
    }
  }
  let join: string | null = null;
  if (values.has('--join')) {
    if (peers.length > 0)
      throw new UsageError('cannot be combined with --peers (bootstrap or join, not both)', '--join');
    join = normalizeHttpUrl(values.get('--join')!);
    if (join === null)
      throw new UsageError(`${values.get('--join')} is not an http(s)://host:port URL`, '--join');
  }
  const args: KvServeArgs = {
    id,
    raftAddr,
    advertise,
    httpAddr,
    httpUrl: publishedUrl(values, httpHost, httpAddr.port, values.has('--http-tls-cert')),
    dataDir,
    logStore,
    commandFormat,
    peers,
    join,
    tls: parseTls(values),
    tlsRequireIdentity: parseRequireIdentity(booleans, values),
    authTokenFile: fileFlag(values, '--auth-token-file'),
    adminTokenFile: fileFlag(values, '--admin-token-file'),
    httpTls: parseHttpTls(values),
    insecure: booleans.has('--insecure'),
    httpLimits: parseHttpLimits(values),
    maxBodyBytes: integerFlag(values.get('--http-max-body-bytes'), '--http-max-body-bytes', {
      fallback: DEFAULT_MAX_BODY_BYTES,
      min: 1,
      max: MAX_BODY_LIMIT,
    }),
    walSegmentBytes: integerFlag(values.get('--wal-segment-bytes'), '--wal-segment-bytes', {
      fallback: DEFAULT_SEGMENT_BYTES,
      min: MIN_WAL_SEGMENT_FLAG,
      max: MAX_SEGMENT_BYTES,
    }),
    joinTimeout: integerFlag(values.get('--join-timeout'), '--join-timeout', {
      fallback: DEFAULT_JOIN_TIMEOUT_MS,
      min: 1000,
      max: 3_600_000,
    }),
    debugRoutes: booleans.has('--debug-routes'),
    debugStaleReads: booleans.has('--debug-stale-reads'),
    debugEarlyAck: booleans.has('--debug-early-ack'),
    debugClock: booleans.has('--debug-clock'),
    ...parseDiskFaults(values, booleans, logStore),
    raftConfig: parseTuning(values),
    kvLimits: parseKvLimits(values),
  };
  const refused = insecureSettings(args);
  if (refused.length > 0 && !args.insecure) {
    throw new UsageError(`refusing to start: ${refused.join('; ')}. Or add --insecure to start anyway.`);
  }
  return args;
}

/** --debug-disk-faults SPEC (a valid fault spec, WAL only) and --debug-ignore-fsync-failures (needs it). */
function parseDiskFaults(
  values: Map<ValueFlag, string>,
  booleans: Set<string>,
  logStore: LogStoreKind | undefined,
): Pick<KvServeArgs, 'debugDiskFaults' | 'debugIgnoreFsyncFailures'> {
  const spec = values.get('--debug-disk-faults') ?? null;
  const ignore = booleans.has('--debug-ignore-fsync-failures');
  if (spec === null) {
    if (ignore) throw new UsageError('needs --debug-disk-faults', '--debug-ignore-fsync-failures');
    return { debugDiskFaults: null, debugIgnoreFsyncFailures: false };
  }
  if (spec.length > MAX_FAULT_SPEC_LENGTH)
    throw new UsageError(`is longer than ${MAX_FAULT_SPEC_LENGTH} characters`, '--debug-disk-faults');
  try {
    parseFaultSpec(spec);
  } catch (error) {
    throw new UsageError((error as Error).message, '--debug-disk-faults');
  }
  // LMDB does its own file I/O (a native library): faults under it cannot be injected.
  if (logStore === 'lmdb') throw new UsageError('needs the wal log store, not lmdb', '--debug-disk-faults');
  return { debugDiskFaults: spec, debugIgnoreFsyncFailures: ignore };
}

/**
 * This server's HTTP base URL as others reach it: --http-advertise, else built from the listening
 * host (the advertised Raft host for a wildcard bind), https:// when the API serves TLS.
 */
function publishedUrl(values: Map<ValueFlag, string>, host: string, port: number, https: boolean): string {
  const scheme = https ? 'https' : 'http';
  const given = values.get('--http-advertise');
  if (given === undefined) {
    const url = normalizeHttpUrl(`${scheme}://${joinHostPort(host, port)}`);
    if (url === null)
      throw new UsageError(`${joinHostPort(host, port)} does not make an HTTP URL`, '--http-addr');
    return url;
  }
  const url = normalizeHttpUrl(given);
  if (url === null) throw new UsageError(`${given} is not an http(s)://host:port URL`, '--http-advertise');
  const parsed = new URL(url);
  if (parsed.protocol !== `${scheme}:`) {
    throw new UsageError(
      `must be ${scheme}:// (the API ${https ? 'serves' : 'does not serve'} TLS)`,
      '--http-advertise',
    );
  }
  if (!isAdvertisable({ host: parsed.hostname, port: Number(parsed.port || (https ? 443 : 80)) })) {
    throw new UsageError(`${given} is not an address other servers can dial`, '--http-advertise');
  }
  return url;
}

function fileFlag(values: Map<ValueFlag, string>, flag: ValueFlag): string | null {
  const file = values.get(flag);
  if (file === undefined) return null;
  if (!existsSync(file)) throw new UsageError(`file ${file} does not exist`, flag);
  return file;
}

function parseHttpTls(values: Map<ValueFlag, string>): HttpsFiles | null {
  const cert = fileFlag(values, '--http-tls-cert');
  const key = fileFlag(values, '--http-tls-key');
  const ca = fileFlag(values, '--http-tls-ca');
  if (cert === null && key === null) {
    if (ca !== null) throw new UsageError('needs --http-tls-cert and --http-tls-key', '--http-tls-ca');
    return null;
  }
  if (cert === null) throw new UsageError('is required with --http-tls-key', '--http-tls-cert');
  if (key === null) throw new UsageError('is required with --http-tls-cert', '--http-tls-key');
  return ca === null ? { cert, key } : { cert, key, ca };
}

function parseHttpLimits(values: Map<ValueFlag, string>): KvServeArgs['httpLimits'] {
  const defaults = DEFAULT_HTTP_LIMITS;
  const limits = {
    maxConnections: integerFlag(values.get('--http-max-connections'), '--http-max-connections', {
      fallback: defaults.maxConnections,
      min: 1,
      max: 1_000_000,
    }),
    headersTimeout: integerFlag(values.get('--http-headers-timeout'), '--http-headers-timeout', {
      fallback: defaults.headersTimeout,
      min: 100,
      max: 600_000,
    }),
    requestTimeout: integerFlag(values.get('--http-request-timeout'), '--http-request-timeout', {
      fallback: defaults.requestTimeout,
      min: 100,
      max: 3_600_000,
    }),
  };
  if (limits.requestTimeout < limits.headersTimeout) {
    throw new UsageError('must be at least --http-headers-timeout', '--http-request-timeout');
  }
  return limits;
}

function parseKvLimits(values: Map<ValueFlag, string>): KvLimits {
  const limits: KvLimits = {};
  for (const [flag, { option, min, max }] of Object.entries(KV_LIMIT_FLAGS) as [
    KvLimitFlag,
    (typeof KV_LIMIT_FLAGS)[KvLimitFlag],
  ][]) {
    const text = values.get(flag);
    if (text !== undefined) limits[option] = integerFlag(text, flag, { fallback: min, min, max });
  }
  return limits;
}

function parseTuning(values: Map<ValueFlag, string>): RaftTuning {
  const tuning: RaftTuning = {};
  for (const [flag, field] of Object.entries(TUNING_FLAGS) as [
    TuningFlag,
    (typeof TUNING_FLAGS)[TuningFlag],
  ][]) {
    const text = values.get(flag);
    if (text === undefined) continue;
    const value = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) {
      throw new UsageError(`${JSON.stringify(text)} is not a non-negative integer`, flag);
    }
    tuning[field] = value;
  }
  return tuning;
}

/** Every flag the parser accepts (serve-help.ts describes each). */
export const SERVE_FLAGS: readonly string[] = [...VALUE_FLAGS, ...BOOLEAN_FLAGS];
