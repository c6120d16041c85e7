/** What the core produced since the last Ready, apart from the durable write: messages and events. */
import type { CoreEvent, OutboundRequest, OutboundResponse, Ready, SnapshotInstall } from './ready.js';
import type { InstallSnapshotRequest, RaftRequest, RaftResponse, Server } from './types.js';

export interface SendOptions {
  /** Send only once persistence has reached this write seq. */
  after: number;
  entriesFrom?: number;
  entriesTo?: number;
  heartbeatRound?: number;
  acknowledged?: number;
}

export class Outbox {
  private requests: OutboundRequest[] = [];
  private responses: OutboundResponse[] = [];
  private installs: SnapshotInstall[] = [];
  private events: CoreEvent[] = [];
  private nextRequestId = 1;

  send(to: Server, request: RaftRequest, epoch: number, options: SendOptions): OutboundRequest {
    const out: OutboundRequest = {
      id: this.nextRequestId++,
      to,
      request,
      entriesFrom: options.entriesFrom ?? 1,
      entriesTo: options.entriesTo ?? 0,
      after: options.after,
      epoch,
      heartbeatRound: options.heartbeatRound ?? 0,
      acknowledged: options.acknowledged ?? 0,
    };
    this.requests.push(out);
    return out;
  }

  respond(rpcId: number, response: RaftResponse, after: number): void {
    this.responses.push({ rpcId, response, after });
  }

  install(rpcId: number, request: InstallSnapshotRequest): void {
    this.installs.push({ rpcId, request });
  }

  emit(event: CoreEvent): void {
    this.events.push(event);
  }

  get isEmpty(): boolean {
    return (
      this.requests.length === 0 &&
      this.responses.length === 0 &&
      this.installs.length === 0 &&
      this.events.length === 0
    );
  }

  /** Hands everything over (the arrays belong to the caller afterwards). */
  take(): Pick<Ready, 'requests' | 'responses' | 'installs' | 'events'> {
    const contents = {
      requests: this.requests,
      responses: this.responses,
      installs: this.installs,
      events: this.events,
    };
    this.requests = [];
    this.responses = [];
    this.installs = [];
    this.events = [];
    return contents;
  }
}
