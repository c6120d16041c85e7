/**
 * The runtime's side of the RPCs, both ways. Outgoing: each request the core hands out is completed
 * (AppendEntries gets its entries, InstallSnapshot its snapshot) and sent through the transport;
 * the answer, or the failure, goes back to the core. Incoming: each request from the transport gets
 * an ID and goes to the core; the core's response goes back on the same connection.
 */
import type { Readable } from 'node:stream';
import { requestOutOfRange } from '../core/bounds.js';
import type { Clock } from '../core/clock.js';
import {
  ErrNotLeader,
  ErrRaftShutdown,
  ErrReadIndexNotSupported,
  ErrUnexpectedCommand,
  RaftError,
} from '../core/errors.js';
import type { CoreFaults, FailureReason, IncomingRequest } from '../core/inputs.js';
import type { OutboundRequest, OutboundResponse } from '../core/ready.js';
import type {
  AppendEntriesRequest,
  AppendEntriesResponse,
  LogEntry,
  Peer,
  RaftResponse,
} from '../core/types.js';
import { mark, tracing } from '../platform/trace.js';
import type { IncomingRpc, Transport } from '../transport/types.js';
import { entriesBudget, splitByBytes } from './append-frames.js';
import type { MetricsSink } from './metrics.js';

/** What the RPC relay needs from the runtime around it. */
export interface RpcHost {
  stopped(): boolean;
  /** Deliberate bugs, for tests only (the bounds check of incoming requests reads them). */
  readonly faults?: CoreFaults;
  /** Feed the core (through the drive loop). */
  step(incoming: IncomingRequest): void;
  onResponse(out: OutboundRequest, response: RaftResponse): void;
  onFailure(out: OutboundRequest, reason: FailureReason): void;
  /** Still the leadership that produced this request? (Leaders never rewrite their log within one.) */
  isCurrentLeadership(epoch: number): boolean;
  readEntries(lo: number, hi: number): Promise<LogEntry[]>;
  /** Entries lo..hi when all are in memory (the fresh ones a leader replicates), else null. */
  cachedEntries(lo: number, hi: number): LogEntry[] | null;
  sendSnapshot(out: OutboundRequest): Promise<RaftResponse>;
  /** The snapshot manager is reading this request's snapshot bytes. */
  consumingSnapshot(rpcId: number): boolean;
}

export class RpcRelay {
  private nextRpcId = 1;
  private readonly incoming = new Map<number, IncomingRpc>();
  /** When a leader last reached us (monotonic ms), for lastContact(). */
  lastLeaderContact = -Infinity;

  constructor(
    private readonly transport: Transport,
    private readonly clock: Clock,
    private readonly host: RpcHost,
    private readonly metrics: MetricsSink,
  ) {}

  // ---------------------------------------------------------------------------------------------
  // Outgoing

  send(out: OutboundRequest): void {
    const { request, to } = out;
    const settle = (promise: Promise<RaftResponse>): void => {
      promise.then(
        (response) => this.onResult(out, response, null),
        (error: Error) => this.onResult(out, null, error),
      );
    };
    switch (request.kind) {
      case 'appendEntries':
        settle(this.sendAppendEntries(out));
        return;
      case 'installSnapshot':
        settle(this.host.sendSnapshot(out));
        return;
      case 'requestVote':
        settle(this.transport.requestVote(to, request));
        return;
      case 'requestPreVote':
        settle(this.transport.requestPreVote(to, request));
        return;
      case 'timeoutNow':
        settle(this.transport.timeoutNow(to, request));
        return;
      case 'readIndex':
        return;
    }
  }

  /**
   * Fresh entries are in memory: the request is written to the socket in this very turn, before
   * the leader's own write goes to the thread pool (driver.ts handleReady), so the follower's
   * fsync runs beside the leader's instead of after a hop. Older ones are read from the store.
   */
  private sendAppendEntries(out: OutboundRequest): Promise<RaftResponse> {
    const request = out.request;
    if (request.kind !== 'appendEntries') return Promise.reject(new Error('not an AppendEntries'));
    if (out.entriesTo < out.entriesFrom) return this.sendRuns(out, request);
    const cached = this.host.cachedEntries(out.entriesFrom, out.entriesTo);
    if (cached) {
      request.entries = cached;
      return this.sendRuns(out, request);
    }
    return this.host.readEntries(out.entriesFrom, out.entriesTo).then((entries) => {
      // Entries read while the leadership is unchanged are the ones the core meant. After a
      // step-down they might not be: drop.
      if (!this.host.isCurrentLeadership(out.epoch)) throw new StaleRequest();
      request.entries = entries;
      return this.sendRuns(out, request);
    });
  }

  /** Sends one request, split into runs when its entries exceed the transport's frame size. */
  private async sendRuns(out: OutboundRequest, request: AppendEntriesRequest): Promise<RaftResponse> {
    const { maxFrameBytes } = this.transport;
    const runs =
      maxFrameBytes === undefined || request.entries.length < 2
        ? [request.entries]
        : splitByBytes(request.entries, entriesBudget(maxFrameBytes));
    if (runs.length === 1) return this.sendFrame(out, request);
    // Too large for one frame: send the runs in order, each anchored at the run before it; the core
    // sees one answer for the whole batch (the first refusal, else the last success).
    let previous = { index: request.prevLogIndex, term: request.prevLogTerm };
    let response: AppendEntriesResponse | null = null;
    for (const entries of runs) {
      const last = entries[entries.length - 1];
      response = await this.sendFrame(out, {
        ...request,
        prevLogIndex: previous.index,
        prevLogTerm: previous.term,
        entries,
        leaderCommitIndex: Math.min(request.leaderCommitIndex, last.index),
      });
      if (!response.success || response.term !== request.term) return response;
      if (!this.host.isCurrentLeadership(out.epoch)) throw new StaleRequest();
      previous = { index: last.index, term: last.term };
    }
    return response!;
  }

  private async sendFrame(
    out: OutboundRequest,
    request: AppendEntriesRequest,
  ): Promise<AppendEntriesResponse> {
    const started = this.clock.now();
    const response = await this.transport.appendEntries(out.to, request);
    this.metrics.addSample('raft.replication.appendEntries.rpc', this.clock.now() - started);
    if (request.entries.length > 0) {
      this.metrics.incrCounter('raft.replication.appendEntries.logs', request.entries.length);
    }
    return response;
  }

  /**
   * A follower's read index, asked of the leader (a raftkit RPC: a Go leader closes the connection
   * on it, which reads as ErrReadIndexNotSupported).
   */
  async readIndexFromLeader(leader: Peer | null, term: number, self: Peer): Promise<number> {
    if (!leader || this.host.stopped()) throw new ErrNotLeader();
    try {
      const response = await this.transport.readIndex(leader, { kind: 'readIndex', term, from: self });
      if (!response.success) throw new ErrNotLeader();
      return response.readIndex;
    } catch (error) {
      if (error instanceof ErrUnexpectedCommand) throw new ErrReadIndexNotSupported();
      throw error;
    }
  }

  private onResult(out: OutboundRequest, response: RaftResponse | null, error: Error | null): void {
    if (this.host.stopped() || error instanceof StaleRequest) return;
    if (tracing && response && out.entriesTo >= out.entriesFrom) mark('answer.received', out.entriesTo);
    if (response) this.host.onResponse(out, response);
    else this.host.onFailure(out, classifyFailure(error!));
  }

  // ---------------------------------------------------------------------------------------------
  // Incoming

  receive(rpc: IncomingRpc): void {
    if (this.host.stopped()) {
      rpc.respond(null, new ErrRaftShutdown());
      return;
    }
    const request = rpc.request;
    // The wire refuses these already; another transport may not (the core would throw).
    const outOfRange = requestOutOfRange(request, this.host.faults);
    if (outOfRange) {
      rpc.respond(null, outOfRange);
      return;
    }
    const rpcId = this.nextRpcId++;
    this.incoming.set(rpcId, rpc);
    if (request.kind === 'appendEntries' || request.kind === 'installSnapshot')
      this.lastLeaderContact = this.clock.now();
    if (tracing && request.kind === 'appendEntries' && request.entries.length > 0)
      mark('ae.received', request.entries[request.entries.length - 1].index);
    this.host.step({ rpcId, request });
  }

  respond(message: OutboundResponse): void {
    const rpc = this.incoming.get(message.rpcId);
    if (!rpc) return;
    this.incoming.delete(message.rpcId);
    // A snapshot the core did not accept still has its bytes on the connection: drain them.
    if (rpc.data && !this.host.consumingSnapshot(message.rpcId)) rpc.data.resume();
    rpc.respond(message.response);
    if (tracing && 'lastLog' in message.response && message.response.success)
      mark('ae.answered', message.response.lastLog);
  }

  /** The snapshot bytes that follow an incoming InstallSnapshot (while it awaits its response). */
  snapshotData(rpcId: number): Readable | undefined {
    return this.incoming.get(rpcId)?.data;
  }

  /** Shutdown: every request still awaiting its response fails. */
  failAll(error: () => Error): void {
    for (const rpc of this.incoming.values()) rpc.respond(null, error());
    this.incoming.clear();
  }
}

/** An AppendEntries that lost its meaning before it was sent (the node stopped leading). */
class StaleRequest extends RaftError {}

function classifyFailure(error: Error): FailureReason {
  if (error.name === 'ErrLogNotFound') return 'logNotFound';
  if (error.name === 'ErrUnexpectedCommand' || error.name === 'ErrUnsupportedRpc') return 'unsupported';
  return 'error';
}
