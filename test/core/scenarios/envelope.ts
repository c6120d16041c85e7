/** A message on the scenario network. */
import type { OutboundRequest } from '../../../src/core/ready.js';
import type { RaftRequest, RaftResponse } from '../../../src/core/types.js';

/** Who is waiting for the answer: the sender's core, or (readId > 0) a follower's runtime read. */
export interface Origin {
  out: OutboundRequest | null;
  readId: number;
}

/** A request (response === null) or the response to one, on its way from `from` to `to`. */
export interface Envelope {
  from: string;
  to: string;
  request: RaftRequest;
  heartbeat: boolean;
  origin: Origin;
  response: RaftResponse | null;
}
