/**
 * The read paths (Raft thesis 6.4): a read index from the core on the leader (confirmed by a
 * quorum, or by the lease), from the leader over a raftkit RPC on a follower, then a wait until
 * the local FSM has applied that far. VerifyLeader is the leader's half alone. No log entry is
 * written. Each read waits under its own read ID in the pending-request registry.
 */
import type { RaftCore } from '../core/raft.js';
import { RaftState, type Peer } from '../core/types.js';
import { checked, refuseWait, requireCount } from './arguments.js';
import type { ApplyOptions, ReadOptions } from './options.js';
import type { Waits } from './pending.js';

/** What reading needs of the runtime (the Driver is one). */
export interface ReadHost {
  readonly core: {
    readonly state: RaftState;
    readonly leader: Peer | null;
    readonly term: number;
    readonly self: Peer;
  };
  run<T>(fn: (core: RaftCore) => T): T;
  readonly waits: Pick<Waits, 'reads' | 'applied'>;
  readonly rpcs: { readIndexFromLeader(leader: Peer | null, term: number, self: Peer): Promise<number> };
  readonly fsmRunner: { readonly applied: number };
}

export class Reads {
  private nextReadId = 1;

  /** `followerReadWithoutApply` is a planted bug (CoreFaults), for the simulator's campaign only. */
  constructor(
    private readonly host: ReadHost,
    private readonly followerReadWithoutApply: boolean,
  ) {}

  /** hashicorp's VerifyLeader. */
  async verifyLeader(options: ApplyOptions): Promise<void> {
    await (refuseWait(options) ?? this.leaderReadIndex(options));
  }

  /** Resolves with the read index once the local FSM has applied at least that far. */
  async readIndex(options: ReadOptions): Promise<number> {
    const refused = refuseWait(options);
    if (refused) return refused;
    const { core } = this.host;
    const index =
      core.state === RaftState.Leader
        ? await this.leaderReadIndex(options)
        : await this.followerReadIndex(options);
    if (this.followerReadWithoutApply && core.state !== RaftState.Leader) return index;
    await this.waitApplied(index, options);
    return index;
  }

  /** Resolves once the FSM has applied index (or rejects on timeout/abort/shutdown). */
  waitApplied(index: number, options: ApplyOptions): Promise<void> {
    return checked(
      () => requireCount('index', index),
      () => {
        if (this.host.fsmRunner.applied >= index) return Promise.resolve();
        return refuseWait(options) ?? this.host.waits.applied.wait(index, options);
      },
    );
  }

  private leaderReadIndex(options: ReadOptions): Promise<number> {
    const { reads } = this.host.waits;
    const readId = this.nextReadId++;
    const read = reads.wait(readId, options);
    try {
      this.host.run((core) => core.readIndex(readId, options.lease === true));
    } catch (error) {
      reads.reject(readId, error as Error);
    }
    return read;
  }

  /** Asks the leader; the caller's timeout and signal end the wait as they end any other. */
  private followerReadIndex(options: ReadOptions): Promise<number> {
    const { reads } = this.host.waits;
    const readId = this.nextReadId++;
    const read = reads.wait(readId, options);
    const { leader, term, self } = this.host.core;
    this.host.rpcs.readIndexFromLeader(leader, term, self).then(
      (index) => reads.resolve(readId, index),
      (error: Error) => reads.reject(readId, error),
    );
    return read;
  }
}
