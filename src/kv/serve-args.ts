/**
 * The flags of `raftkit kv serve`, exactly as the KV contract in DESIGN.md lists them, parsed and
 * checked up front so that a mistake is one clear line naming the flag instead of a failure later.
 */
import { existsSync } from 'node:fs';
import { LOG_STORE_KINDS, type LogStoreKind } from '../kit/storage.js';
import {
  isAdvertisable,
  normalizeHttpUrl,
  parseHostPort,
  serverIdProblem,
  type HostPort,
} from './validate.js';

export class FlagError extends Error {
  override name = 'FlagError';
  constructor(
    /** The flag at fault, e.g. "--peers". */
    readonly flag: string,
    detail: string,
  ) {
    super(`${flag}: ${detail}`);
  }
}

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
    if (!arg.startsWith('--')) throw new FlagError(arg, 'unexpected argument (flags start with --)');
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    if ((BOOLEAN_FLAGS as readonly string[]).includes(flag)) {
      if (eq >= 0) throw new FlagError(flag, 'takes no value');
      booleans.add(flag);
      continue;
    }
    if (!(VALUE_FLAGS as readonly string[]).includes(flag)) throw new FlagError(flag, 'unknown flag');
    if (values.has(flag as ValueFlag)) throw new FlagError(flag, 'given more than once');
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) value = argv[++i];
    if (value === undefined || value === '') throw new FlagError(flag, 'needs a value');
    values.set(flag as ValueFlag, value);
  }
  return { values, booleans };
}

function required(values: Map<ValueFlag, string>, flag: ValueFlag): string {
  const value = values.get(flag);
  if (value === undefined) throw new FlagError(flag, 'is required');
  return value;
}

function hostPort(flag: ValueFlag, text: string, allowAnyPort: boolean): HostPort {
  const parsed = parseHostPort(text, allowAnyPort);
  if (typeof parsed === 'string') throw new FlagError(flag, parsed);
  return parsed;
}

function checkId(flag: ValueFlag, id: string): void {
  const problem = serverIdProblem(id);
  if (problem !== null) throw new FlagError(flag, problem);
}

function parsePeers(text: string): { id: string; address: string }[] {
  const peers: { id: string; address: string }[] = [];
  for (const item of text.split(',')) {
    const eq = item.indexOf('=');
    if (eq < 0) throw new FlagError('--peers', `${JSON.stringify(item)} is not ID=HOST:PORT`);
    const id = item.slice(0, eq);
    const address = item.slice(eq + 1);
    checkId('--peers', id);
    if (!isAdvertisable(hostPort('--peers', address, false))) {
      throw new FlagError('--peers', `${id}'s address ${address} cannot be dialled`);
    }
    if (peers.some((peer) => peer.id === id)) throw new FlagError('--peers', `${id} is listed twice`);
    if (peers.some((peer) => peer.address === address))
      throw new FlagError('--peers', `${address} is listed twice`);
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
    if (file === undefined) throw new FlagError(flag, 'is required with the other --tls-* flags');
    if (!existsSync(file)) throw new FlagError(flag, `file ${file} does not exist`);
  }
  return files as { cert: string; key: string; ca: string };
}

/** Parses the arguments after `kv serve`; throws FlagError on the first problem. */
export function parseServeArgs(argv: readonly string[]): KvServeArgs {
  const { values, booleans } = collectFlags(argv);
  const id = required(values, '--id');
  checkId('--id', id);
  const raftAddr = required(values, '--raft-addr');
  hostPort('--raft-addr', raftAddr, true);
  const advertise = values.get('--advertise') ?? raftAddr;
  const advertised = hostPort(values.has('--advertise') ? '--advertise' : '--raft-addr', advertise, false);
  if (!isAdvertisable(advertised)) {
    throw new FlagError('--advertise', `is required: ${raftAddr} is not an address other servers can dial`);
  }
  const httpText = required(values, '--http-addr');
  const httpAddr = hostPort('--http-addr', httpText, true);
  // A wildcard bind is reached through the advertised host.
  const httpHost = isAdvertisable({ ...httpAddr, port: 1 }) ? httpAddr.host : advertised.host;
  const httpUrl = normalizeHttpUrl(`${httpHost.includes(':') ? `[${httpHost}]` : httpHost}:${httpAddr.port}`);
  if (httpUrl === null) throw new FlagError('--http-addr', `${httpText} does not make an HTTP URL`);
  const dataDir = required(values, '--data-dir');
  const logStore = values.get('--log-store') as LogStoreKind | undefined;
  if (logStore !== undefined && !LOG_STORE_KINDS.includes(logStore)) {
    throw new FlagError('--log-store', `must be one of ${LOG_STORE_KINDS.join(', ')}, not ${logStore}`);
  }

  const peers = values.has('--peers') ? parsePeers(values.get('--peers')!) : [];
  if (peers.length > 0) {
    const self = peers.find((peer) => peer.id === id);
    if (self === undefined) throw new FlagError('--peers', `must include this server (${id})`);
    if (self.address !== advertise) {
      throw new FlagError('--peers', `lists ${id} at ${self.address} but this server is at ${advertise}`);
    }
  }
  let join: string | null = null;
  if (values.has('--join')) {
    if (peers.length > 0)
      throw new FlagError('--join', 'cannot be combined with --peers (bootstrap or join, not both)');
    join = normalizeHttpUrl(values.get('--join')!);
    if (join === null)
      throw new FlagError('--join', `${values.get('--join')} is not an http(s)://host:port URL`);
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
      throw new FlagError(flag, `${JSON.stringify(text)} is not a non-negative integer`);
    }
    tuning[field] = value;
  }
  return tuning;
}
