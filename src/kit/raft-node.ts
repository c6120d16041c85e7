/**
 * RaftNode: the raftKit convenience layer. One call creates a durable server from a static list of
 * addresses and bootstraps the cluster; the node then answers "am I the leader?", "who is?" and
 * applies commands with a default timeout. Follows the Go raftKit wrapper (each address is also
 * the server's ID; every node bootstraps with the same configuration on every start) and fixes its
 * gaps: hostnames work with isLeader, bad arguments are typed errors, and nothing leaks on failure.
 */
import type { Clock } from '../core/clock.js';
import { ErrCantBootstrap, ErrInvalidConfig } from '../core/errors.js';
import { RaftState, ServerSuffrage, type Configuration } from '../core/types.js';
import { systemClock } from '../platform/clock.js';
import { bootstrapCluster } from '../raft/bootstrap.js';
import { defaultConfig, type Config } from '../raft/config.js';
import type { FSM } from '../raft/fsm.js';
import { silentLogger, type Logger } from '../raft/logger.js';
import type { ApplyResult } from '../raft/options.js';
import { Raft } from '../raft/raft.js';
import type { Transport } from '../transport/types.js';
import { newTcpTransport } from '../transport/tcp.js';
import { recoverFromPeersJson } from './peers-json.js';
import { openNodeStorage, type LogStoreKind, type NodeStorage } from './storage.js';

/** The timeout `RaftNode.apply` uses unless told otherwise (raftKit's DefaultApplyTimeout), in ms. */
export const DEFAULT_APPLY_TIMEOUT = 3000;
/** raftKit's snapshot check period (hashicorp's default is 120 s). */
export const KIT_SNAPSHOT_INTERVAL = 60_000;
/** raftKit's TCP transport settings: connections pooled per peer and the I/O deadline. */
export const KIT_MAX_POOL = 3;
export const KIT_TRANSPORT_TIMEOUT = 10_000;
const MIN_CLUSTER_SIZE = 3;

/** What `RaftNode.createAndBootstrap` needs; only addr, nodeAddrs, dir and fsm are required. */
export interface RaftNodeOptions {
  /** This server's address, `host:port`: where it listens, how peers dial it, and its server ID. */
  addr: string;
  /** Every server of the cluster (at least 3, unique, `addr` among them). */
  nodeAddrs: readonly string[];
  /** Where the stores live: a directory, or a path that does not exist yet (it is created). */
  dir: string;
  /**
   * The log store of a new data directory: 'wal' (default) or 'lmdb'. A directory that already
   * holds one keeps it (asking for the other is ErrDataDir). 'lmdb' needs the optional `lmdb`
   * package installed (else ErrLmdbNotInstalled).
   */
  logStore?: LogStoreKind;
  /** Your state machine: every node applies every committed entry to it, in log order. */
  fsm: FSM;
  /** A pino-compatible logger for the node, its stores and transport; silent by default. */
  logger?: Logger;
  /** Config fields to change from the kit's defaults (hashicorp's, with a 60 s snapshot interval). */
  config?: Partial<Omit<Config, 'localId' | 'logger'>>;
  /** Makes the transport; TCP on `addr` (pool 3, timeout 10 s) by default. The node owns it. */
  transport?: (addr: string) => Promise<Transport>;
  /** Time for timeouts and timers; the system clock by default (tests inject their own). */
  clock?: Clock;
}

const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]/]+):(\d{1,5})$/;

function checkAddress(what: string, addr: unknown): string {
  if (typeof addr !== 'string') throw new ErrInvalidConfig(`${what} must be a host:port string`);
  const match = HOST_PORT.exec(addr);
  const port = match === null ? -1 : Number(match[2]);
  if (port < 1 || port > 65535)
    throw new ErrInvalidConfig(`${what} ${JSON.stringify(addr)} is not host:port`);
  return addr;
}

/** The checks Go's raftKit makes, plus the one it forgets: `addr` must be a member. */
function checkOptions(options: RaftNodeOptions): void {
  checkAddress('addr', options.addr);
  const addrs = options.nodeAddrs;
  if (!Array.isArray(addrs)) throw new ErrInvalidConfig('nodeAddrs must be an array of host:port strings');
  addrs.forEach((addr, i) => checkAddress(`nodeAddrs[${i}]`, addr));
  if (new Set(addrs).size !== addrs.length)
    throw new ErrInvalidConfig('nodeAddrs must not repeat an address');
  if (addrs.length < MIN_CLUSTER_SIZE) {
    throw new ErrInvalidConfig(
      `nodeAddrs must list at least ${MIN_CLUSTER_SIZE} servers, got ${addrs.length}`,
    );
  }
  if (!addrs.includes(options.addr)) {
    throw new ErrInvalidConfig(`addr ${options.addr} is not one of nodeAddrs (${addrs.join(', ')})`);
  }
  if (typeof options.fsm?.apply !== 'function') throw new ErrInvalidConfig('fsm must implement FSM');
}

/** The static membership: every address a voter whose ID is the address. */
function staticConfiguration(addrs: readonly string[]): Configuration {
  return { servers: addrs.map((addr) => ({ id: addr, address: addr, suffrage: ServerSuffrage.Voter })) };
}

/**
 * Go raftKit's RaftNode: one durable Raft server made from a list of addresses, with the cluster
 * bootstrapped on first start. The address is the server ID; storage is a WAL (or LMDB) plus
 * file snapshots in `dir`; the transport is TCP. `raft` is the full hashicorp-style API.
 *
 * @example
 * ```ts
 * const node = await RaftNode.createAndBootstrap({ addr, nodeAddrs, dir, fsm });
 * if (node.isLeader()) await node.apply('command');
 * await node.close();
 * ```
 */
export class RaftNode {
  private leaderFlag = false;
  private closing: Promise<void> | undefined;

  private constructor(
    /** The underlying runtime, for everything the kit does not wrap. */
    readonly raft: Raft,
    /** This server's ID, which is its address. */
    readonly id: string,
    private readonly storage: NodeStorage,
    private readonly logger: Logger,
  ) {
    raft.on('leadership', (isLeader: boolean) => this.onLeadership(isLeader));
  }

  /** Go raftKit's NewRaftNodeAndBootstrapCluster. */
  static async createAndBootstrap(options: RaftNodeOptions): Promise<RaftNode> {
    checkOptions(options);
    const clock = options.clock ?? systemClock;
    const logger = options.logger ?? silentLogger;
    const storage = await openNodeStorage(options.dir, { clock, logger, logStore: options.logStore });
    let transport: Transport | undefined;
    try {
      const makeTransport =
        options.transport ??
        ((addr: string) =>
          newTcpTransport(addr, addr, KIT_MAX_POOL, KIT_TRANSPORT_TIMEOUT, { clock, logger, localId: addr }));
      const opened = await makeTransport(options.addr);
      transport = opened;
      const config: Config = {
        ...defaultConfig(),
        snapshotInterval: KIT_SNAPSHOT_INTERVAL,
        ...options.config,
        localId: options.addr,
        logger,
      };
      const { logStore, snapshotStore } = storage;
      await recoverFromPeersJson(storage, config, options.fsm, logger);
      try {
        await bootstrapCluster(
          config,
          logStore,
          logStore,
          snapshotStore,
          staticConfiguration(options.nodeAddrs),
        );
      } catch (error) {
        // Every start bootstraps; on a server with state that is refused, and that is fine.
        if (!(error instanceof ErrCantBootstrap)) throw error;
      }
      const raft = await Raft.create({
        config,
        fsm: options.fsm,
        logStore,
        stableStore: logStore,
        snapshotStore,
        transport: opened,
        clock,
      });
      return new RaftNode(raft, options.addr, storage, logger);
    } catch (error) {
      await transport?.close().catch(() => {});
      await storage.close().catch(() => {});
      throw error;
    }
  }

  /**
   * True when this server's own view names itself leader. It compares server IDs, so it works
   * with hostnames. Like hashicorp's LeaderWithID the view may be stale: before acting on it
   * where correctness matters use `raft.verifyLeader()` or `raft.readIndex()`.
   */
  isLeader(): boolean {
    return this.raft.leader()?.id === this.id;
  }

  /**
   * Leadership as last reported by the runtime's 'leadership' events (Go raftKit's IsLeader1).
   * Cheap, but eventually consistent: NOT a basis for linearizable reads.
   */
  isLeaderObserved(): boolean {
    return this.leaderFlag;
  }

  /** The leader's address as this server knows it, or '' when unknown (may be stale). */
  leaderAddr(): string {
    return this.raft.leader()?.address ?? '';
  }

  /** Replicates `command` and resolves once it is applied here, with the FSM's response. Leader only. */
  apply(command: Uint8Array | string, timeout = DEFAULT_APPLY_TIMEOUT): Promise<ApplyResult> {
    const data = typeof command === 'string' ? new TextEncoder().encode(command) : command;
    return this.raft.apply(data, { timeout });
  }

  /** Shuts the runtime down (closing the transport) and closes the stores. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.raft.shutdown().finally(() => this.storage.close());
    return this.closing;
  }

  private onLeadership(isLeader: boolean): void {
    if (isLeader === this.leaderFlag) return;
    this.leaderFlag = isLeader;
    if (this.raft.state === RaftState.Shutdown) return;
    const context = { id: this.id, leader: this.leaderAddr() };
    if (isLeader) this.logger.info(context, 'raftkit: became leader');
    else this.logger.warn(context, 'raftkit: lost leadership');
  }
}
