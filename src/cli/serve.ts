/**
 * `raftkit kv serve`: one member of the replicated KV service as a process. It turns the flags
 * into a durable Raft server (WAL or LMDB log, file snapshots, TCP or TLS transport), bootstraps
 * from --peers or joins through --join, starts the KV service on it (src/kv/service.ts), and shuts
 * down gracefully on SIGTERM/SIGINT. Restarting it with the same --data-dir brings its state back.
 */
import { writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import {
  bootstrapCluster,
  defaultConfig,
  ErrInvalidConfig,
  hasExistingState,
  newTcpTransport,
  newTlsTransport,
  openNodeStorage,
  prometheusMetrics,
  Raft,
  RaftState,
  recoverFromPeersJson,
  ServerSuffrage,
  systemClock,
  type Clock,
  type Config,
  type FileSystem,
  type Logger,
  type NodeStorage,
  type Transport,
} from '../index.js';
import {
  CredentialError,
  loadHttpsCredentials,
  readTokenFile,
  type HttpsCredentials,
} from '../kv/credentials.js';
import { READ_FORMATS } from '../kv/command-formats.js';
import { KvFsm, type KvFsmOptions } from '../kv/fsm.js';
import type { ApiTokens } from '../kv/http/auth.js';
import { FaultyFileSystem, parseFaultSpec } from '../testing/fault-files.js';
import { SkewedClock, type ClockSkew } from '../testing/skewed-clock.js';
import type { KvHttpServer } from '../kv/http/server.js';
import { startKvService } from '../kv/service.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CliIo, type Command } from './command.js';
import { MAX_FAULT_SPEC_LENGTH, parseServeArgs, SERVE_USAGE, type KvServeArgs } from './serve-args.js';
import { securityWarnings } from './serve-security.js';
import { serveHelp } from './serve-help.js';
import { publishFormatsWhileFollowing } from './publish-formats.js';
import { joinCluster, type ClientCredentials } from './service-client.js';

/** Connections pooled per peer and the transport's I/O deadline (raftKit's values). */
const TRANSPORT_MAX_POOL = 3;
const TRANSPORT_TIMEOUT_MS = 10_000;

export interface KvServeOptions {
  /** Structured logger; JSON lines on stdout (pino) tagged with the server ID by default. */
  logger?: Logger;
  /** Raft config fields to change from hashicorp's defaults (tests use short timeouts). */
  config?: Partial<Omit<Config, 'localId' | 'logger'>>;
  /** How long --join keeps asking before the server gives up (default: twice --join-timeout). */
  joinTimeout?: number;
  clock?: Clock;
  /** The file layer under the WAL and the snapshot store (default node:fs; `--debug-disk-faults`). */
  files?: FileSystem;
}

export interface KvServer {
  readonly id: string;
  /** This server's HTTP base URL as published to the cluster. */
  readonly httpUrl: string;
  readonly raft: Raft;
  readonly fsm: KvFsm;
  readonly http: KvHttpServer;
  /** Settles when --join has been accepted (at once without --join, or when state existed). */
  readonly joined: Promise<void>;
  /**
   * Reads the token files and HTTPS files again and uses them from now on (SIGHUP). Throws
   * CredentialError, keeping the old ones, when a file is unusable.
   */
  reloadCredentials(): void;
  /** Stops the HTTP API, shuts Raft down and closes the stores. Idempotent. */
  close(): Promise<void>;
}

export function defaultServeLogger(id: string): Logger {
  return pino({ base: { node: id }, level: process.env.RAFTKIT_LOG_LEVEL ?? 'info' });
}

async function openTransport(args: KvServeArgs, clock: Clock, logger: Logger): Promise<Transport> {
  const options = { clock, logger, localId: args.id, requirePeerIdentity: args.tlsRequireIdentity };
  if (args.tls === null) {
    return newTcpTransport(args.raftAddr, args.advertise, TRANSPORT_MAX_POOL, TRANSPORT_TIMEOUT_MS, options);
  }
  return newTlsTransport(
    args.raftAddr,
    args.advertise,
    TRANSPORT_MAX_POOL,
    TRANSPORT_TIMEOUT_MS,
    args.tls,
    options,
  );
}

/** The tokens and HTTPS credentials the flags name, read and checked. */
interface ServeCredentials {
  tokens: ApiTokens;
  tls: HttpsCredentials | null;
}

/** Reads the credential files of the flags; throws CredentialError naming the file at fault. */
function loadCredentials(args: KvServeArgs, clock: Clock, logger: Logger): ServeCredentials {
  const token = (file: string | null, flag: string): string | null => {
    if (file === null) return null;
    const { token, warning } = readTokenFile(file, flag);
    if (warning !== null) logger.warn({ file }, `kv: ${warning}`);
    return token;
  };
  return {
    tokens: {
      client: token(args.authTokenFile, '--auth-token-file'),
      admin: token(args.adminTokenFile, '--admin-token-file'),
    },
    tls: args.httpTls === null ? null : loadHttpsCredentials(args.httpTls, clock.wallTime()),
  };
}

/** What this server presents to another member's API (--join): its strongest token and its HTTPS identity. */
function memberCredentials(credentials: ServeCredentials): ClientCredentials {
  const { tokens, tls } = credentials;
  return { token: tokens.admin ?? tokens.client, ca: tls?.ca, cert: tls?.cert, key: tls?.key };
}

/**
 * Starts one KV server; rejects with ErrDataDir (src/kit/storage.ts) when the data directory is
 * unusable, CredentialError when a token or certificate file is.
 */
export async function startKvServer(args: KvServeArgs, options: KvServeOptions = {}): Promise<KvServer> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? defaultServeLogger(args.id);
  const credentials = loadCredentials(args, clock, logger);
  for (const warning of securityWarnings(args)) logger.warn({}, `kv: ${warning}`);
  const storage = await openNodeStorage(args.dataDir, {
    clock,
    logger,
    logStore: args.logStore,
    walSegmentBytes: args.walSegmentBytes,
    files: options.files,
  });
  let transport: Transport | undefined;
  let raft: Raft | undefined;
  try {
    transport = await openTransport(args, clock, logger);
    const config: Config = {
      ...defaultConfig(),
      // A removed server keeps its Raft running: its KV API answers 410 Gone, and a join adds it
      // back (a join rolled back after a failed catch-up is retried by the same process).
      shutdownOnRemove: false,
      ...options.config,
      ...args.raftConfig,
      localId: args.id,
      logger,
    };
    const { watchHistory, watchHistoryBytes, snapshotFormat, ...kvLimits } = args.kvLimits;
    // serve-args bounds it to 2..3.
    const format = snapshotFormat as KvFsmOptions['snapshotFormat'];
    const fsm = new KvFsm({ logger, watchHistory, watchHistoryBytes, snapshotFormat: format });
    await recoverFromPeersJson(storage, config, fsm, logger);
    const existing = await hasExistingState(storage.logStore, storage.logStore, storage.snapshotStore);
    // A new data directory is bootstrapped only once nothing else can fail: a server that cannot
    // serve its API must not leave behind a directory that later starts as a cluster of its own.
    if (!existing) await checkListenable('--http-addr', args.httpAddr);
    await bootstrapIfNew(args, config, storage, existing, logger);
    // One registry for the library's metrics and the service's: GET /metrics serves both.
    const metricsRegistry = new Registry();
    raft = await Raft.create({
      config,
      fsm,
      logStore: storage.logStore,
      stableStore: storage.logStore,
      snapshotStore: storage.snapshotStore,
      transport,
      clock,
      metrics: prometheusMetrics(metricsRegistry),
    });
    const service = await startKvService({
      raft,
      fsm,
      transport,
      httpAddr: args.httpAddr,
      httpUrl: args.httpUrl,
      metricsRegistry,
      debugRoutes: args.debugRoutes,
      debugStaleReads: args.debugStaleReads,
      debugEarlyAck: args.debugEarlyAck,
      kvLimits,
      logger,
      clock,
      ...credentials,
      limits: args.httpLimits,
      maxBodyBytes: args.maxBodyBytes,
      joinTimeout: args.joinTimeout,
      commandFormat: args.commandFormat,
    });
    const httpUrl = service.httpUrl;
    logger.info(
      {
        raft: args.advertise,
        http: httpUrl,
        dataDir: args.dataDir,
        existingState: existing,
        auth:
          credentials.tokens.admin !== null
            ? 'client and admin tokens'
            : credentials.tokens.client !== null
              ? 'token'
              : 'none',
      },
      'kv: serving',
    );
    // Closing abandons a join still waiting for its answer and the formats record's loop: nothing
    // may keep a stopped server's process alive.
    const stopping = new AbortController();
    const joined =
      args.join !== null && !existing
        ? joinCluster(
            args.join,
            { id: args.id, address: args.advertise, http: httpUrl, voter: true, formats: [...READ_FORMATS] },
            {
              clock,
              timeout: options.joinTimeout ?? 2 * args.joinTimeout,
              credentials: memberCredentials(credentials),
              signal: stopping.signal,
            },
          )
        : Promise.resolve();
    publishFormatsWhileFollowing({
      raft,
      fsm,
      credentials: memberCredentials(credentials),
      clock,
      logger,
      signal: stopping.signal,
    });
    const reloadCredentials = () => {
      const next = loadCredentials(args, clock, logger);
      service.http.setTokens(next.tokens);
      if (next.tls !== null) service.http.setTls(next.tls);
    };
    const stores = { close: () => (stopping.abort(), storage.close()) };
    return makeServer(args.id, httpUrl, raft, fsm, service.http, joined, stores, reloadCredentials);
  } catch (error) {
    if (raft !== undefined) await raft.shutdown().catch(() => {});
    else await transport?.close().catch(() => {});
    await storage.close().catch(() => {});
    throw error;
  }
}

/** Binds `address` for a moment: rejects (EADDRINUSE, EACCES, EADDRNOTAVAIL) if the API could not listen there. */
async function checkListenable(flag: string, address: KvServeArgs['httpAddr']): Promise<void> {
  if (address.port === 0) return;
  const probe = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(address.port, address.host, () => resolve());
    });
  } catch (error) {
    throw new Error(`cannot listen on ${flag} ${address.host}:${address.port}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}

async function bootstrapIfNew(
  args: KvServeArgs,
  config: Config,
  storage: NodeStorage,
  existing: boolean,
  logger: Logger,
): Promise<void> {
  if (existing) {
    if (args.peers.length > 0 || args.join !== null)
      logger.info({}, 'kv: state exists; --peers/--join ignored');
    return;
  }
  if (args.peers.length === 0) {
    if (args.join === null)
      logger.warn({}, 'kv: no state, no --peers and no --join: waiting to be added to a cluster');
    return;
  }
  const servers = args.peers.map(({ id, address }) => ({ id, address, suffrage: ServerSuffrage.Voter }));
  await bootstrapCluster(config, storage.logStore, storage.logStore, storage.snapshotStore, { servers });
  logger.info({ peers: args.peers }, 'kv: bootstrapped a new cluster');
}

function makeServer(
  id: string,
  httpUrl: string,
  raft: Raft,
  fsm: KvFsm,
  http: KvHttpServer,
  joined: Promise<void>,
  storage: Pick<NodeStorage, 'close'>,
  reloadCredentials: () => void,
): KvServer {
  let closing: Promise<void> | undefined;
  // A failed join is reported through `joined`; without a listener it must not crash the process.
  joined.catch(() => {});
  return {
    id,
    httpUrl,
    raft,
    fsm,
    http,
    joined,
    reloadCredentials,
    close() {
      closing ??= (async () => {
        await http.close();
        await raft.shutdown();
        await storage.close();
      })();
      return closing;
    },
  };
}

/**
 * The `raftkit kv serve` command: runs until SIGTERM/SIGINT (or until the demo that started it goes
 * away), then shuts down gracefully. Exit codes: 0 after a clean stop, 2 for bad flags, 1 when the
 * server cannot start (unusable data directory, address in use), its join fails, or Raft stops.
 */
export const kvServe: Command = {
  name: 'kv serve',
  usage: SERVE_USAGE,
  help: serveHelp,
  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseServeArgs(argv);
    const logger = defaultServeLogger(args.id);
    const clock = args.debugClock ? parentSkewedClock(logger) : systemClock;
    const files = args.debugDiskFaults === null ? undefined : parentFaultyFiles(args, logger, io);
    let server: KvServer;
    try {
      server = await startKvServer(args, { logger, clock, files });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      io.stderr.write(`raftkit kv serve: cannot start ${args.id}: ${message}\n`);
      // An IPC channel (--debug-clock, --debug-disk-faults listen on it) would keep this process alive.
      if (process.connected) process.disconnect();
      // Tuning flags that make an invalid Raft config, and unusable credential files, are usage errors too.
      return error instanceof ErrInvalidConfig || error instanceof CredentialError ? EXIT_USAGE : EXIT_FAILED;
    }
    const onHangUp = () => reload(server, logger);
    process.on('SIGHUP', onHangUp);
    const outcome = await waitForStop(server);
    process.off('SIGHUP', onHangUp);
    logger.info({ reason: outcome ?? 'asked to stop' }, 'kv: shutting down');
    await server.close();
    logger.info({}, 'kv: stopped');
    // The demo's IPC channel would keep this process alive.
    if (process.connected) process.disconnect();
    if (outcome !== null) io.stderr.write(`raftkit kv serve: ${args.id}: ${outcome}\n`);
    return outcome === null ? EXIT_OK : EXIT_FAILED;
  },
};

/**
 * `--debug-clock` (test only): a SkewedClock that the parent process jumps and skews with
 * `{ "raftkitClock": ClockSkew }` IPC messages; a malformed one is logged and changes nothing.
 */
function parentSkewedClock(logger: Logger): Clock {
  const clock = new SkewedClock(systemClock);
  logger.warn({}, 'kv: --debug-clock: this server runs on a clock that its parent process skews (test only)');
  process.on('message', (message: unknown) => {
    const skew = (message as { raftkitClock?: unknown } | null)?.raftkitClock;
    if (typeof skew !== 'object' || skew === null) return;
    try {
      clock.apply(skew as ClockSkew);
      logger.warn({ skew, rate: clock.currentRate }, 'kv: clock skewed');
    } catch (error) {
      logger.error({ skew, error: String(error) }, 'kv: clock skew refused');
    }
  });
  return clock;
}

/**
 * `--debug-disk-faults SPEC` (test only): a FaultyFileSystem under the stores, with the flag's
 * rules and the ones the parent process adds with `{ "raftkitDiskFaults": SPEC }` IPC messages
 * (`"clear"` drops them all; a malformed spec is logged and changes nothing). Each injected fault
 * is logged and told to the parent (`{ "raftkitDiskFault": { kind, path } }`). A torn write
 * stands for the process dying mid-write, so the layer kills the process there and then.
 */
function parentFaultyFiles(args: KvServeArgs, logger: Logger, io: CliIo): FileSystem {
  const warning =
    `--debug-disk-faults "${args.debugDiskFaults}": this server's disk fails on purpose (test only)` +
    (args.debugIgnoreFsyncFailures
      ? '; --debug-ignore-fsync-failures: it IGNORES failed fsyncs (broken)'
      : '');
  io.stderr.write(`raftkit kv serve: WARNING: ${warning}\n`);
  logger.warn({}, `kv: ${warning}`);
  const files = new FaultyFileSystem(parseFaultSpec(args.debugDiskFaults!), {
    ignoreSyncFailures: args.debugIgnoreFsyncFailures,
    onFault: (kind, path) => {
      logger.warn({ kind, path }, 'kv: injected disk fault');
      if (process.connected) process.send?.({ raftkitDiskFault: { kind, path } });
    },
    onCrash: () => {
      writeSync(
        2,
        `raftkit kv serve: ${args.id}: simulated crash after a torn write (--debug-disk-faults)\n`,
      );
      process.kill(process.pid, 'SIGKILL');
    },
  });
  process.on('message', (message: unknown) => {
    const spec = (message as { raftkitDiskFaults?: unknown } | null)?.raftkitDiskFaults;
    if (typeof spec !== 'string') return;
    try {
      if (spec.length > MAX_FAULT_SPEC_LENGTH) throw new RangeError(`longer than ${MAX_FAULT_SPEC_LENGTH}`);
      if (spec === 'clear') files.clearRules();
      else files.addRules(spec);
      logger.warn({ spec }, 'kv: disk fault rules changed');
    } catch (error) {
      logger.error({ spec, error: String(error) }, 'kv: disk fault rules refused');
    }
  });
  return files;
}

/** SIGHUP: new token and certificate files take effect; broken ones are reported and the old ones kept. */
function reload(server: KvServer, logger: Logger): void {
  try {
    server.reloadCredentials();
    logger.info({}, 'kv: SIGHUP: token and certificate files read again');
  } catch (error) {
    logger.error(
      { error: (error as Error).message },
      'kv: SIGHUP: could not reload the credential files; keeping the ones in use',
    );
  }
}

/** Resolves null on a requested stop, or the reason the server has to stop on its own. */
function waitForStop(server: KvServer): Promise<string | null> {
  return new Promise((resolve) => {
    const signals = ['SIGTERM', 'SIGINT'] as const;
    const finish = (outcome: string | null) => {
      for (const signal of signals) process.off(signal, onSignal);
      process.off('disconnect', onSignal);
      server.raft.off('stateChange', onState);
      resolve(outcome);
    };
    const onSignal = () => finish(null);
    const onState = (state: RaftState) => {
      if (state !== RaftState.Shutdown) return;
      const halted = server.fsm.haltedBy;
      finish(
        halted !== null
          ? `the state machine halted: ${halted.message}`
          : 'raft shut down (removed from the cluster or a storage failure)',
      );
    };
    for (const signal of signals) process.on(signal, onSignal);
    // Started by `raftkit demo` with an IPC channel: when the demo dies, so does this server.
    if (process.send !== undefined) process.on('disconnect', onSignal);
    server.raft.on('stateChange', onState);
    server.joined.catch((error: Error) => finish(`could not join: ${error.message}`));
  });
}
