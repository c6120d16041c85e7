/**
 * All majority arithmetic lives here: the index a quorum has matched (commit), vote and pre-vote
 * counting, the heartbeat round a quorum acknowledged (read index, VerifyLeader, the lease) and
 * check-quorum's contact times. Callers say what each voter acknowledged; a Quorum says what the
 * voters agreed on.
 *
 * Today every decision is a simple majority of the latest configuration's voters. Joint consensus
 * would add a second Quorum (a decision needs both the old and the new majority: the lower
 * committedIndex of the two, Won only if both won) without touching any caller.
 */
import type { ServerId } from './types.js';

export enum VoteResult {
  /** Neither a quorum of grants nor enough refusals to rule one out yet. */
  Pending,
  /** Too many refusals: no quorum of grants is possible any more. */
  Lost,
  Won,
}

/**
 * What one voter acknowledged: a log index, a heartbeat round, a contact time. Larger is further.
 * A voter that acknowledged nothing answers a value no real acknowledgement is below (0, -Infinity).
 */
export type Acknowledged = (id: ServerId) => number;

/** One voter's answer in an election: true granted, false refused, undefined not heard from. */
export type VoteOf = (id: ServerId) => boolean | undefined;

export interface Quorum {
  readonly voters: readonly ServerId[];
  /**
   * The largest value that a quorum of voters has reached (each voter at or beyond it). Nothing is
   * agreed by a quorum without voters: -Infinity.
   */
  committedIndex(acknowledged: Acknowledged): number;
  voteResult(vote: VoteOf): VoteResult;
}

/** Decisions by a simple majority of the voters. */
export class MajorityQuorum implements Quorum {
  /** How many voters make a majority. */
  readonly size: number;
  /** Reused by committedIndex: it runs on every append response. */
  private readonly scratch: number[];

  constructor(readonly voters: readonly ServerId[]) {
    this.size = Math.floor(voters.length / 2) + 1;
    this.scratch = new Array<number>(voters.length).fill(0);
  }

  committedIndex(acknowledged: Acknowledged): number {
    if (this.voters.length === 0) return -Infinity;
    const values = this.scratch;
    for (let i = 0; i < this.voters.length; i++) values[i] = acknowledged(this.voters[i]);
    values.sort(descending);
    // The size-th largest value: exactly `size` voters are at or beyond it.
    return values[this.size - 1];
  }

  voteResult(vote: VoteOf): VoteResult {
    let granted = 0;
    let missing = 0;
    for (const id of this.voters) {
      const answer = vote(id);
      if (answer === undefined) missing++;
      else if (answer) granted++;
    }
    if (granted >= this.size) return VoteResult.Won;
    return granted + missing >= this.size ? VoteResult.Pending : VoteResult.Lost;
  }
}

/** Sort order that also holds for ±Infinity (a - b would give NaN for two infinities). */
function descending(a: number, b: number): number {
  return a > b ? -1 : a < b ? 1 : 0;
}
