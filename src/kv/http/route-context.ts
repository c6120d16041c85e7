/**
 * What every route module shares: the cluster and state machine it serves, the leader rule
 * (followers redirect to the leader's HTTP address), submitting a command, and the mapping of
 * Raft's errors to HTTP answers.
 */
import {
  ErrApplyTimeout,
  ErrEnqueueTimeout,
  ErrLeadershipLost,
  ErrLeadershipTransferInProgress,
  ErrNotLeader,
  ErrRaftShutdown,
  type Clock,
  type Logger,
} from '../../index.js';
import { UnknownServerError, type KvCluster } from '../cluster.js';
import { encodeCommand, type KvCommand } from '../commands.js';
import type { KvApplyResult, KvFsm } from '../fsm.js';
import type { KvMetrics } from '../metrics.js';
import { HttpError } from './io.js';
import type { KvRequest } from './request.js';

export interface RouteContextOptions {
  cluster: KvCluster;
  fsm: KvFsm;
  metrics: KvMetrics;
  /** How long a write or linearizable read may wait for Raft, in ms. */
  timeout: number;
  clock: Clock;
  logger: Logger;
}

export class RouteContext {
  readonly cluster: KvCluster;
  readonly fsm: KvFsm;
  readonly timeout: number;
  readonly logger: Logger;
  readonly metrics: KvMetrics;
  readonly clock: Clock;

  constructor(options: RouteContextOptions) {
    this.cluster = options.cluster;
    this.fsm = options.fsm;
    this.metrics = options.metrics;
    this.timeout = options.timeout;
    this.clock = options.clock;
    this.logger = options.logger;
  }

  /** Throws the answer a non-leader gives: 307 to the leader's HTTP address, or 503 without one. */
  requireLeader(request: KvRequest): void {
    const status = this.cluster.status();
    if (status.state === 'Leader') return;
    throw this.notLeader(request, status.leader?.id);
  }

  /** Replicates one command; resolves once it is committed and applied here. */
  async applyCommand(command: KvCommand): Promise<{ index: number; result: KvApplyResult }> {
    const started = this.clock.now();
    const { index, response } = await this.cluster.apply(encodeCommand(command), { timeout: this.timeout });
    this.metrics.observeApply(command.op, (this.clock.now() - started) / 1000);
    return { index, result: response as KvApplyResult };
  }

  /** The answer to a request that failed with `error`. */
  answerFor(request: KvRequest, error: unknown): HttpError {
    if (error instanceof HttpError) return error;
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof ErrNotLeader) return this.notLeader(request, this.cluster.status().leader?.id);
    if (error instanceof UnknownServerError) return new HttpError(404, message);
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
