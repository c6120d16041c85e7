/**
 * The flags of `raftkit kv serve`, exactly as the KV contract in DESIGN.md lists them, parsed and
 * checked up front so that a mistake is one clear line naming the flag instead of a failure later.
 */
import { existsSync } from 'node:fs';
import { joinHostPort, type HostPort } from '../index.js';
import { LOG_STORE_KINDS, type LogStoreKind } from '../kit/storage.js';
import { isAdvertisable, normalizeHttpUrl, parseHostPort, serverIdProblem } from '../kv/validate.js';
import { UsageError } from './command.js';

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
  /** The initial voters from --peers (bootstrap on first start); empty without the flag. */
  peers: { id: string; address: string }[];
  /** Base URL of a member to ask to add this server, or null. */
  join: string | null;
  tls: { cert: string; key: string; ca: string } | null;
  /** Demo only (not part of the contract): serve POST /debug/isolate. */
  debugRoutes: boolean;
  /** Test only, deliberately broken: answer reads from local state (see KvHttpOptions). */
  debugStaleReads: boolean;
  /** Raft timing and snapshot settings from the optional tuning flags (beyond the contract). */
  raftConfig: RaftTuning;
}

/** Optional flags that tune Raft (hashicorp's Config fields; durations in ms). */
export const TUNING_FLAGS = {
  '--heartbeat-timeout': 'heartbeatTimeout',
  '--election-timeout': 'electionTimeout',
  '--leader-lease-timeout': 'leaderLeaseTimeout',
  '--commit-timeout': 'commitTimeout',
  '--snapshot-interval': 'snapshotInterval',
  '--snapshot-threshold': 'snapshotThreshold',
  '--trailing-logs': 'trailingLogs',
} as const;
type TuningFlag = keyof typeof TUNING_FLAGS;
export type RaftTuning = Partial<Record<(typeof TUNING_FLAGS)[TuningFlag], number>>;

const VALUE_FLAGS = [
  '--id',
  '--raft-addr',
  '--advertise',
  '--http-addr',
  '--data-dir',
  '--log-store',
  '--peers',
  '--join',
  '--tls-cert',
  '--tls-key',
  '--tls-ca',
  ...(Object.keys(TUNING_FLAGS) as TuningFlag[]),
] as const;
type ValueFlag = (typeof VALUE_FLAGS)[number];
const BOOLEAN_FLAGS = ['--debug-routes', '--debug-stale-reads'] as const;

export const SERVE_USAGE = `usage: raftkit kv serve --id ID --raft-addr HOST:PORT [--advertise HOST:PORT]
       --http-addr HOST:PORT --data-dir DIR [--log-store wal|lmdb] [--peers ID=HOST:PORT,...] [--join URL]
       [--tls-cert FILE --tls-key FILE --tls-ca FILE]
       [--heartbeat-timeout MS --election-timeout MS --leader-lease-timeout MS --commit-timeout MS
        --snapshot-interval MS --snapshot-threshold N --trailing-logs N]`;

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
  const httpText = required(values, '--http-addr');
  const httpAddr = hostPort('--http-addr', httpText, true);
  // A wildcard bind is reached through the advertised host.
  const httpHost = isAdvertisable({ ...httpAddr, port: 1 }) ? httpAddr.host : advertised.host;
  const httpUrl = normalizeHttpUrl(joinHostPort(httpHost, httpAddr.port));
  if (httpUrl === null) throw new UsageError(`${httpText} does not make an HTTP URL`, '--http-addr');
  const dataDir = required(values, '--data-dir');
  const logStore = values.get('--log-store') as LogStoreKind | undefined;
  if (logStore !== undefined && !LOG_STORE_KINDS.includes(logStore)) {
    throw new UsageError(`must be one of ${LOG_STORE_KINDS.join(', ')}, not ${logStore}`, '--log-store');
  }

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
  return {
    id,
    raftAddr,
    advertise,
    httpAddr,
    httpUrl,
    dataDir,
    logStore,
    peers,
    join,
    tls: parseTls(values),
    debugRoutes: booleans.has('--debug-routes'),
    debugStaleReads: booleans.has('--debug-stale-reads'),
    raftConfig: parseTuning(values),
  };
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
