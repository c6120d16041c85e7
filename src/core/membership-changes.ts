/**
 * A leader's membership changes: hashicorp's single-server changes, effective when appended, one at
 * a time. Changes asked for while another is pending wait in a queue and start in order (hashicorp
 * queues them too). A server added as a voter first catches up as a non-voter and is promoted once
 * it holds what was committed and is close to the end of the log, so adding an empty server costs
 * no availability; the catch-up is bounded (catchUpTimeout, as etcd bounds a learner's), and a
 * change that fails or is given up during its catch-up removes the non-voter it added, so a server
 * that never runs neither wedges the queue nor stays in the configuration. Each change is known by
 * a token; its commit, its failure or the end of leadership settles it.
 */
import { findServer, nextConfiguration, type ConfigurationChange } from './configuration.js';
import { ErrCatchUpTimeout, ErrConfigChangeInProgress, ErrLeadershipLost } from './errors.js';
import type { Replication } from './replication.js';
import type { ServerState } from './server-state.js';
import { LogType, ServerSuffrage, type Configuration, type Server } from './types.js';

/** Changes that may wait behind the running one; more are refused (memory stays bounded). */
export const MAX_QUEUED_MEMBERSHIP_CHANGES = 64;

interface QueuedChange {
  token: number;
  change: ConfigurationChange;
}

interface MembershipChange {
  token: number;
  /** Index of the configuration entry whose commit completes the change (0 while catching up). */
  index: number;
  /** addVoter of a server that must catch up as a non-voter first. */
  promote: Server | null;
  /** The non-voter this change added for its catch-up: removed again if the change fails. */
  addedNonvoter: boolean;
  /** When the catch-up gives up (core time). */
  catchUpDeadline: number;
}

export class MembershipChanges {
  private change: MembershipChange | null = null;
  private readonly queue: QueuedChange[] = [];
  private nextToken = 1;

  constructor(
    private readonly server: ServerState,
    private readonly replication: Replication,
  ) {}

  /**
   * Starts a change, or queues it behind the pending one; returns its token (a membershipDone or
   * membershipFailed event follows). A change that can start at once and is refused throws.
   */
  start(change: ConfigurationChange): number {
    const token = this.nextToken++;
    if (this.busy()) {
      if (this.queue.length >= MAX_QUEUED_MEMBERSHIP_CHANGES) {
        throw new ErrConfigChangeInProgress(
          `${MAX_QUEUED_MEMBERSHIP_CHANGES} membership changes are already queued`,
        );
      }
      this.queue.push({ token, change });
      return token;
    }
    this.begin(token, change);
    return token;
  }

  /**
   * Abandons a change (its caller gave up). A queued change leaves the queue; one catching up ends
   * and its non-voter is removed; one whose entry is appended cannot be taken back and commits.
   */
  cancel(token: number): void {
    const queued = this.queue.findIndex((entry) => entry.token === token);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      return;
    }
    if (this.change?.token === token && this.change.index === 0) this.rollBack();
  }

  /** The commit index advanced: a change whose entry committed is done; the next one may start. */
  onCommitAdvanced(): void {
    const change = this.change;
    if (change && change.index > 0 && this.server.commitIndex >= change.index) {
      this.server.emit({ type: 'membershipDone', token: change.token, index: change.index });
      this.change = null;
    }
    this.startQueued();
  }

  /** Promotes a catching-up server once it holds what was committed and is near the end. */
  maybePromote(): void {
    const change = this.change;
    if (!change?.promote || change.index > 0) return;
    const server = this.server;
    if (server.configurations.changePending) return;
    const progress = this.replication.peer(change.promote.id);
    if (!progress) return;
    const caughtUp =
      progress.matchIndex >= server.commitIndex &&
      server.log.lastIndex() - progress.matchIndex <= server.options.maxAppendEntries;
    if (!caughtUp) return;
    const configuration = nextConfiguration(server.configurations.latest, server.configurations.latestIndex, {
      command: 'addVoter',
      id: change.promote.id,
      address: change.promote.address,
      prevIndex: 0,
    });
    change.index = this.append(configuration);
  }

  /** A catch-up past its deadline fails with ErrCatchUpTimeout. */
  tick(now: number): void {
    const change = this.change;
    if (!change?.promote || change.index > 0 || now < change.catchUpDeadline) return;
    this.server.emit({ type: 'membershipFailed', token: change.token, error: new ErrCatchUpTimeout() });
    this.rollBack();
  }

  /** When tick() next has something to do. */
  nextDeadline(): number {
    const change = this.change;
    return change?.promote && change.index === 0 ? change.catchUpDeadline : Infinity;
  }

  /** Leadership ended: the pending change and every queued one fail (an appended entry may still commit). */
  stop(): void {
    const failed = [...(this.change ? [this.change.token] : []), ...this.queue.map((entry) => entry.token)];
    this.change = null;
    this.queue.length = 0;
    for (const token of failed) {
      this.server.emit({ type: 'membershipFailed', token, error: new ErrLeadershipLost() });
    }
  }

  private busy(): boolean {
    if (this.server.faults.concurrentConfigChanges) return false;
    return this.change !== null || this.queue.length > 0 || this.server.configurations.changePending;
  }

  /** Starts queued changes in order while none is pending; one refused fails alone. */
  private startQueued(): void {
    while (!this.change && this.queue.length > 0 && !this.server.configurations.changePending) {
      const { token, change } = this.queue.shift()!;
      try {
        this.begin(token, change);
      } catch (error) {
        this.server.emit({ type: 'membershipFailed', token, error: error as Error });
      }
    }
  }

  private begin(token: number, change: ConfigurationChange): void {
    const server = this.server;
    if (server.faults.concurrentConfigChanges) this.supersede();
    else if (server.configurations.changePending) throw new ErrConfigChangeInProgress();
    const latest = server.configurations.latest;
    const existing = findServer(latest, change.id);
    if (change.command === 'addVoter' && existing?.suffrage !== ServerSuffrage.Voter) {
      const configuration = nextConfiguration(latest, server.configurations.latestIndex, {
        ...change,
        command: 'addNonvoter',
      });
      if (!existing || existing.address !== change.address) this.append(configuration);
      this.change = {
        token,
        index: 0,
        promote: { id: change.id, address: change.address, suffrage: ServerSuffrage.Voter },
        addedNonvoter: !existing,
        catchUpDeadline: server.now + server.options.catchUpTimeout,
      };
      this.maybePromote();
      return;
    }
    const configuration = nextConfiguration(latest, server.configurations.latestIndex, change);
    this.change = {
      token,
      index: this.append(configuration),
      promote: null,
      addedNonvoter: false,
      catchUpDeadline: Infinity,
    };
  }

  /**
   * Ends the catching-up change; the non-voter it added is removed by a change that goes first in
   * the queue (it starts once the non-voter's own entry is committed).
   */
  private rollBack(): void {
    const change = this.change!;
    this.change = null;
    if (change.addedNonvoter && change.promote) {
      const removal: ConfigurationChange = {
        command: 'removeServer',
        id: change.promote.id,
        address: '',
        prevIndex: 0,
      };
      this.queue.unshift({ token: this.nextToken++, change: removal });
    }
    this.startQueued();
  }

  /** Planted bug only: a change starts over a pending one, whose caller is told it failed. */
  private supersede(): void {
    const change = this.change;
    this.change = null;
    if (change)
      this.server.emit({
        type: 'membershipFailed',
        token: change.token,
        error: new ErrConfigChangeInProgress(),
      });
  }

  private append(configuration: Configuration): number {
    const data = this.server.options.codec.encode(configuration);
    const [index] = this.replication.appendProposals([
      { type: LogType.Configuration, data, extensions: new Uint8Array(0), appendedAt: 0 },
    ]);
    return index;
  }
}
