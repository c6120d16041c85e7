/**
 * A leader's membership changes: hashicorp's single-server changes, effective when appended, one at
 * a time. A server added as a voter first catches up as a non-voter and is promoted once it holds
 * what was committed and is close to the end of the log, so adding an empty server costs no
 * availability. Each change is known by a token; its commit (or the end of leadership) settles it.
 */
import { findServer, nextConfiguration, type ConfigurationChange } from './configuration.js';
import { ErrConfigChangeInProgress, ErrLeadershipLost } from './errors.js';
import type { Replication } from './replication.js';
import type { ServerState } from './server-state.js';
import { LogType, ServerSuffrage, type Configuration, type Server } from './types.js';

interface MembershipChange {
  token: number;
  /** Index of the configuration entry whose commit completes the change (0 while catching up). */
  index: number;
  /** addVoter of a server that must catch up as a non-voter first. */
  promote: Server | null;
}

export class MembershipChanges {
  private change: MembershipChange | null = null;
  private nextToken = 1;

  constructor(
    private readonly server: ServerState,
    private readonly replication: Replication,
  ) {}

  /** Starts a change; returns its token (a membershipDone or membershipFailed event follows). */
  start(change: ConfigurationChange): number {
    const server = this.server;
    const pending = this.change || server.configurations.changePending;
    if (pending && !server.faults.concurrentConfigChanges) throw new ErrConfigChangeInProgress();
    const latest = server.configurations.latest;
    const token = this.nextToken++;
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
      };
      this.maybePromote();
      return token;
    }
    const configuration = nextConfiguration(latest, server.configurations.latestIndex, change);
    this.change = { token, index: this.append(configuration), promote: null };
    return token;
  }

  /** Abandons a pending change (its caller gave up); a non-voter added for catch-up stays. */
  cancel(token: number): void {
    if (this.change?.token === token && this.change.index === 0) this.change = null;
  }

  /** The commit index advanced: a change whose entry committed is done. */
  onCommitAdvanced(): void {
    const change = this.change;
    if (change && change.index > 0 && this.server.commitIndex >= change.index) {
      this.server.emit({ type: 'membershipDone', token: change.token, index: change.index });
      this.change = null;
    }
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

  /** Leadership ended: the pending change fails (its entry, if appended, may still commit). */
  stop(): void {
    if (!this.change) return;
    this.server.emit({ type: 'membershipFailed', token: this.change.token, error: new ErrLeadershipLost() });
    this.change = null;
  }

  private append(configuration: Configuration): number {
    const data = this.server.options.codec.encode(configuration);
    const [index] = this.replication.appendProposals([
      { type: LogType.Configuration, data, extensions: new Uint8Array(0), appendedAt: 0 },
    ]);
    return index;
  }
}
