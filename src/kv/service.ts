/**
 * The KV service on a running Raft server: the cluster adapter, the HTTP API, and the publication
 * of this server's HTTP address whenever it leads (followers need it to redirect clients). How the
 * Raft server itself is built (stores, transport, bootstrap, join) is the caller's business:
 * `raftkit kv serve` does it from flags (src/cli/serve.ts).
 */
import {
  ErrRaftShutdown,
  RaftState,
  sleep,
  systemClock,
  type Clock,
  type HostPort,
  type Logger,
  type Raft,
  type Transport,
} from '../index.js';
import type { KvCluster } from './cluster.js';
import { formatsKey, formatsRecord, READ_FORMATS, recordedFormats } from './command-formats.js';
import { encodeCommand, httpAddressKey } from './commands.js';
import type { KvFsm } from './fsm.js';
import { KvHttpServer, type KvHttpOptions } from './http/server.js';
import { RaftKvCluster, type BlockingTransport } from './raft-cluster.js';

/** Pause between attempts to publish the HTTP address while leading. */
const ANNOUNCE_RETRY_MS = 500;

/** The HTTP API's security and limits, as KvHttpOptions has them (see there). */
export type KvServiceHttpOptions = Pick<
  KvHttpOptions,
  | 'tokens'
  | 'tls'
  | 'commandFormat'
  | 'allowedHosts'
  | 'limits'
  | 'maxBodyBytes'
  | 'joinTimeout'
  | 'resolveHost'
  | 'metricsRegistry'
>;

export interface KvServiceOptions extends KvServiceHttpOptions {
  raft: Raft;
  /** The state machine `raft` applies to. */
  fsm: KvFsm;
  /** Raft's transport: when it can block peers, the demo's /debug/isolate switch uses it. */
  transport: Transport;
  /** Where the HTTP API listens. */
  httpAddr: HostPort;
  /** This server's HTTP base URL as others reach it; with port 0 in `httpAddr` the listener's port replaces its port. */
  httpUrl: string;
  /** Serve POST /debug/isolate (the demo's partition switch). */
  debugRoutes?: boolean;
  /** Test only, deliberately broken: answer reads from local state (see KvHttpOptions). */
  debugStaleReads?: boolean;
  /** Test only, deliberately broken: acknowledge writes before they commit (see KvHttpOptions). */
  debugEarlyAck?: boolean;
  /** Bounds of the KV features (watches, leases, ranges); each has a documented default. */
  kvLimits?: KvServiceLimits;
  logger: Logger;
  clock?: Clock;
}

/** The HTTP API's configurable bounds (see KvHttpOptions for each default). */
export type KvServiceLimits = Pick<
  KvHttpOptions,
  | 'maxWatches'
  | 'watchBufferBytes'
  | 'watchKeepaliveMs'
  | 'maxLeases'
  | 'maxRangeBytes'
  | 'leaseCheckIntervalMs'
>;

export interface KvService {
  readonly http: KvHttpServer;
  /** The HTTP base URL this server publishes. */
  readonly httpUrl: string;
}

/** Starts the HTTP API on `raft` and keeps this server's HTTP address published while it leads. */
export async function startKvService(options: KvServiceOptions): Promise<KvService> {
  const { raft, fsm, transport, httpAddr, logger } = options;
  const clock = options.clock ?? systemClock;
  const cluster = new RaftKvCluster(raft, hasBlockPeers(transport) ? transport : null);
  const http = new KvHttpServer({
    ...options.kvLimits,
    cluster,
    fsm,
    tokens: options.tokens,
    tls: options.tls,
    // Clients and members reach this server under its published name.
    allowedHosts: [...(options.allowedHosts ?? []), new URL(options.httpUrl).hostname],
    limits: options.limits,
    maxBodyBytes: options.maxBodyBytes,
    metricsRegistry: options.metricsRegistry,
    joinTimeout: options.joinTimeout,
    resolveHost: options.resolveHost,
    debugRoutes: options.debugRoutes,
    debugStaleReads: options.debugStaleReads,
    debugEarlyAck: options.debugEarlyAck,
    commandFormat: options.commandFormat,
    logger,
    clock,
  });
  const listening = await http.listen(httpAddr.port, httpAddr.host);
  const httpUrl = httpAddr.port === 0 ? withPortOf(options.httpUrl, listening) : options.httpUrl;
  watchLeadership(raft, cluster, fsm, httpUrl, clock, logger);
  // A member added or removed may change the form the leader writes commands in.
  raft.on('configuration', () => http.formats.invalidate());
  forgetRemovedServers(raft, http, logger);
  // A new term restarts every lease countdown at once, not at the keeper's next check.
  raft.on('leadership', () => http.leases.check());
  failStopOnHalt(raft, fsm, logger);
  return { http, httpUrl };
}

/**
 * The runtime turns an exception of FSM.apply into that entry's response and applies on: right
 * for a user's bug, wrong for a command this server does not know (it would diverge from servers
 * that know it). So when the state machine halts, the Raft server is shut down: loudly, and for
 * good until the server is upgraded (a restart replays the same command and halts again).
 */
function failStopOnHalt(raft: Raft, fsm: KvFsm, logger: Logger): void {
  const stop = (error: Error) => {
    logger.error({ error: error.message }, 'kv: the state machine halted; shutting this server down');
    raft
      .shutdown()
      .catch((shutdownError: unknown) =>
        logger.error({ error: String(shutdownError) }, 'kv: shutdown after a halt failed'),
      );
  };
  if (fsm.haltedBy !== null) return stop(fsm.haltedBy);
  fsm.observe({ halted: (error) => queueMicrotask(() => stop(error)) });
}

/**
 * Publishes this server's HTTP base URL under its reserved key when it leads and the stored one
 * differs. Resolves true when it wrote.
 */
export async function announceHttpAddress(
  cluster: KvCluster,
  fsm: KvFsm,
  httpUrl: string,
  timeout = 5000,
): Promise<boolean> {
  if (cluster.serverState() !== 'Leader' || fsm.httpAddress(cluster.id) === httpUrl) return false;
  const command = { op: 'put', key: httpAddressKey(cluster.id), value: Buffer.from(httpUrl) } as const;
  await cluster.apply(encodeCommand(command), { timeout });
  return true;
}

/**
 * Records the command forms this server reads (command-formats.ts) when it leads and its record
 * says otherwise. Resolves true when it wrote.
 */
export async function announceFormats(cluster: KvCluster, fsm: KvFsm, timeout = 5000): Promise<boolean> {
  const record = formatsRecord(READ_FORMATS);
  if (cluster.serverState() !== 'Leader' || recordedFormats(fsm, cluster.id).join(',') === record)
    return false;
  const command = { op: 'put', key: formatsKey(cluster.id), value: Buffer.from(record) } as const;
  await cluster.apply(encodeCommand(command), { timeout });
  return true;
}

/**
 * Announces the HTTP address and the command forms this server reads each time it becomes
 * leader, retrying while it still leads.
 */
function watchLeadership(
  raft: Raft,
  cluster: KvCluster,
  fsm: KvFsm,
  httpUrl: string,
  clock: Clock,
  logger: Logger,
): void {
  let running = false;
  const announce = async () => {
    if (running) return;
    running = true;
    try {
      while (raft.state === RaftState.Leader) {
        try {
          if (await announceHttpAddress(cluster, fsm, httpUrl))
            logger.info({ http: httpUrl }, 'kv: published HTTP address');
          if (await announceFormats(cluster, fsm))
            logger.info({ formats: READ_FORMATS }, 'kv: published the command forms this server reads');
          return;
        } catch (error) {
          if (error instanceof ErrRaftShutdown) return;
          logger.warn({ error: String(error) }, 'kv: could not publish HTTP address; retrying');
          await sleep(clock, ANNOUNCE_RETRY_MS);
        }
      }
    } finally {
      running = false;
    }
  };
  raft.on('leadership', (isLeader: boolean) => {
    if (isLeader) void announce();
  });
  if (raft.state === RaftState.Leader) void announce();
}

/**
 * The leader deletes the HTTP address of removed servers when a configuration change commits and
 * when it takes over (the old leader may have removed itself, or failed before it could).
 */
function forgetRemovedServers(raft: Raft, http: KvHttpServer, logger: Logger): void {
  const forget = () => {
    if (raft.state !== RaftState.Leader) return;
    http.membership.forgetRemoved().catch((error: unknown) => {
      logger.warn({ error: String(error) }, 'kv: could not forget removed servers; the next change retries');
    });
  };
  raft.on('configuration', forget);
  raft.on('leadership', (isLeader: boolean) => {
    if (isLeader) forget();
  });
  forget();
}

function hasBlockPeers(transport: Transport): transport is Transport & BlockingTransport {
  return typeof (transport as Partial<BlockingTransport>).blockPeers === 'function';
}

function withPortOf(url: string, listening: string): string {
  const published = new URL(url);
  published.port = new URL(listening).port;
  return published.origin;
}
