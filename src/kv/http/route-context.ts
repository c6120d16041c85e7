/**
 * What every route module shares: the cluster and state machine it serves, the leader rule
 * (followers redirect to the leader's HTTP address), submitting a command, and the mapping of
 * Raft's errors to HTTP answers.
 */
import {
  ErrApplyTimeout,
  ErrDecode,
  ErrEnqueueTimeout,
  ErrLeadershipLost,
  ErrLeadershipTransferInProgress,
  ErrNotLeader,
  ErrRaftShutdown,
  type Clock,
  type Logger,
} from '../../index.js';
import { UnknownServerError, type KvCluster } from '../cluster.js';
import type { CommandFormats } from '../command-formats.js';
import { encodeCommand, ErrUnknownCommand, type KvCommand } from '../commands.js';
import type { KvApplyResult, KvFsm } from '../fsm.js';
import type { KvMetrics } from '../metrics.js';
import { HttpError } from './io.js';
import type { KvRequest } from './request.js';

export interface RouteContextOptions {
  cluster: KvCluster;
  fsm: KvFsm;
  metrics: KvMetrics;
  /** The form commands are written in (JSON until every member reads binary). */
  formats: CommandFormats;
  /** How long a write or linearizable read may wait for Raft, in ms. */
  timeout: number;
  /**
   * TEST ONLY, deliberately broken: answer every read from local state, as `?stale` does, so that
   * `raftkit chaos --break stale-reads` can show its linearizability checker catching it.
   */
  debugStaleReads?: boolean;
  /**
   * TEST ONLY, deliberately broken: answer 200 to an unconditional write once it is submitted,
   * before it commits, for `raftkit chaos --break early-ack`.
   */
  debugEarlyAck?: boolean;
  clock: Clock;
  logger: Logger;
}

export class RouteContext {
  readonly cluster: KvCluster;
  readonly fsm: KvFsm;
  readonly timeout: number;
  readonly logger: Logger;
  readonly metrics: KvMetrics;
  readonly formats: CommandFormats;
  readonly clock: Clock;
  private readonly debugStaleReads: boolean;
  /** TEST ONLY: see RouteContextOptions.debugEarlyAck. */
  readonly debugEarlyAck: boolean;

  constructor(options: RouteContextOptions) {
    this.cluster = options.cluster;
    this.fsm = options.fsm;
    this.metrics = options.metrics;
    this.formats = options.formats;
    this.timeout = options.timeout;
    this.clock = options.clock;
    this.logger = options.logger;
    this.debugStaleReads = options.debugStaleReads ?? false;
    this.debugEarlyAck = options.debugEarlyAck ?? false;
  }

  /**
   * What a read does before it looks at the local state: on the leader, a read-index round (the
   * state is then at least as new as every write acknowledged before the request); a follower
   * redirects. With `?stale` nothing: the local applied state, on any member.
   */
  async readBarrier(request: KvRequest): Promise<void> {
    if (request.flag('stale') || this.debugStaleReads) return;
    this.requireLeader(request);
    await this.cluster.linearizableRead({ timeout: this.timeout });
  }

  /** Throws the answer a non-leader gives: 307 to the leader's HTTP address, or 503 without one. */
  requireLeader(request: KvRequest): void {
    if (this.cluster.serverState() === 'Leader') return;
    throw this.notLeader(request, this.cluster.leaderId());
  }

  /** Replicates one command; resolves once it is committed and applied here. */
  async applyCommand(command: KvCommand): Promise<{ index: number; result: KvApplyResult }> {
    const started = this.clock.now();
    const refusedUpFront = this.cluster.serverState() === 'Shutdown';
    let applied;
    try {
      const data = encodeCommand(command, this.formats.current());
      applied = await this.cluster.apply(data, { timeout: this.timeout });
    } catch (error) {
      // A shutdown fails the applies still pending, and those may yet commit on the others: only
      // an apply the stopped server refused outright is safe to retry (503).
      if (error instanceof ErrRaftShutdown && !refusedUpFront) {
        throw new HttpError(504, `outcome unknown: ${error.message}`);
      }
      throw error;
    }
    const { index, response } = applied;
    this.metrics.observeApply(command.op, (this.clock.now() - started) / 1000);
    // The runtime hands back what the state machine threw (a halted one throws ErrUnknownCommand).
    if (response instanceof Error) throw response;
    const result = response as KvApplyResult;
    if (!result.ok && result.reason === 'malformed')
      throw new Error(`state machine refused the command: ${result.error}`);
    return { index, result };
  }

  /** The answer to a request that failed with `error`. */
  answerFor(request: KvRequest, error: unknown): HttpError {
    if (error instanceof HttpError) return error;
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof ErrNotLeader) return this.notLeader(request, this.cluster.leaderId());
    if (error instanceof UnknownServerError) return new HttpError(404, message);
    // A JSON shape the contract refuses (checked with the log's own decoder, json-fields.ts).
    if (error instanceof ErrDecode) return new HttpError(400, message.replace(`${ErrDecode.text}: `, ''));
    if (error instanceof ErrUnknownCommand) return new HttpError(400, `unknown operation ${error.op}`);
    if (
      error instanceof ErrApplyTimeout ||
      error instanceof ErrEnqueueTimeout ||
      error instanceof ErrLeadershipLost
    ) {
      return new HttpError(504, `outcome unknown: ${message}`);
    }
    // Refused before anything was appended: the client may simply retry.
    if (error instanceof ErrLeadershipTransferInProgress || error instanceof ErrRaftShutdown) {
      return new HttpError(503, message);
    }
    return new HttpError(500, message);
  }

  private notLeader(request: KvRequest, leaderId: string | undefined): HttpError {
    if (leaderId === undefined || leaderId === this.cluster.id)
      return new HttpError(503, 'no leader known, retry later');
    const http = this.fsm.httpAddress(leaderId);
    if (http === undefined)
      return new HttpError(503, `leader ${leaderId} has not published its HTTP address yet`);
    return new HttpError(307, `not the leader; the leader is ${leaderId}`, {
      Location: http + request.target,
    });
  }
}
