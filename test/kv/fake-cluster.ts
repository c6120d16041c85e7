/**
 * TEST DOUBLE: a single-node stand-in for the Raft runtime, backed by the real KvFsm. It commits
 * every apply at once and lets a test play follower, leaderless or failing node. Tests against
 * the real runtime live elsewhere; this one only exercises the KV service's own code.
 */
import { ErrNotLeader } from '../../src/core/errors.js';
import { LogType } from '../../src/core/types.js';
import type { ClusterStatus, KvCluster } from '../../src/kv/cluster.js';
import { encodeCommand } from '../../src/kv/commands.js';
import type { ServerStateName, StatusMember } from '../../src/kv/contract.js';
import { KvFsm, type KvFsmOptions } from '../../src/kv/fsm.js';

export class FakeSingleNodeCluster implements KvCluster {
  readonly fsm: KvFsm;
  state: ServerStateName = 'Leader';
  term = 1;
  lastIndex = 0;
  /** Entries known committed but not yet applied here (a server catching up). */
  unapplied = 0;
  leader: { id: string; address: string } | null;
  /** A committed configuration removed this server (the KV routes answer 410). */
  removed = false;
  configuration: StatusMember[];
  /** The next apply (or linearizableRead) rejects with this, once. */
  nextApplyError: Error | null = null;
  nextReadError: Error | null = null;
  applyCalls = 0;
  readCalls = 0;
  /** Membership and leadership calls in order, e.g. "addVoter n4 127.0.0.1:7004". */
  readonly calls: string[] = [];
  isolated: string[] | null = null;
  /** Servers that never catch up (their match index stays 0): a join of one is rolled back. */
  readonly unreachable = new Set<string>();

  constructor(
    readonly id = 'n1',
    readonly address = '127.0.0.1:7001',
    fsmOptions: KvFsmOptions = {},
  ) {
    this.fsm = new KvFsm(fsmOptions);
    this.leader = { id, address };
    this.configuration = [{ id, address, suffrage: 'Voter' }];
  }

  /** Become a follower of `leaderId` (or of nobody when null). */
  follow(leaderId: string | null, leaderAddress = '127.0.0.1:7999'): void {
    this.state = 'Follower';
    this.leader = leaderId === null ? null : { id: leaderId, address: leaderAddress };
  }

  /**
   * Writes `key` straight into the state machine, as if replicated from a leader (no apply call
   * counted, no index used: it joins the revision of the last command).
   */
  seed(key: string, value: string | Buffer): void {
    this.fsm.apply({
      index: this.fsm.revision,
      term: 1,
      type: LogType.Command,
      data: encodeCommand({ op: 'put', key, value: Buffer.from(value) }),
      extensions: new Uint8Array(),
      appendedAt: 0,
    });
  }

  async apply(data: Uint8Array): Promise<{ index: number; response: unknown }> {
    this.applyCalls++;
    if (this.state !== 'Leader') throw new ErrNotLeader();
    const error = this.nextApplyError;
    this.nextApplyError = null;
    if (error !== null) throw error;
    const index = ++this.lastIndex;
    const response = this.fsm.apply({
      index,
      term: this.term,
      type: LogType.Command,
      data,
      extensions: new Uint8Array(),
      appendedAt: 0,
    });
    return { index, response };
  }

  async linearizableRead(): Promise<void> {
    this.readCalls++;
    if (this.state !== 'Leader') throw new ErrNotLeader();
    const error = this.nextReadError;
    this.nextReadError = null;
    if (error !== null) throw error;
  }

  status(): ClusterStatus {
    return {
      state: this.state,
      term: this.term,
      leader: this.leader,
      lastIndex: this.lastIndex,
      commitIndex: this.lastIndex + this.unapplied,
      appliedIndex: this.lastIndex,
      lastSnapshotIndex: 0,
      configuration: this.configuration,
      removed: this.removed,
    };
  }

  serverState(): ServerStateName {
    return this.state;
  }

  leaderId(): string | undefined {
    return this.leader?.id;
  }

  isRemoved(): boolean {
    return this.removed;
  }

  matchIndex(id: string): number | null {
    if (this.state !== 'Leader' || id === this.id) return null;
    if (!this.configuration.some((member) => member.id === id)) return null;
    return this.unreachable.has(id) ? 0 : this.lastIndex;
  }

  /** hashicorp semantics: an existing ID keeps its place and gets the new address (and suffrage). */
  private upsert(id: string, address: string, suffrage: 'Voter' | 'Nonvoter'): void {
    const existing = this.configuration.find((member) => member.id === id);
    if (existing === undefined) this.configuration.push({ id, address, suffrage });
    else Object.assign(existing, { address, suffrage: existing.suffrage === 'Voter' ? 'Voter' : suffrage });
  }

  async addVoter(id: string, address: string): Promise<void> {
    this.calls.push(`addVoter ${id} ${address}`);
    this.upsert(id, address, 'Voter');
  }

  async addNonvoter(id: string, address: string): Promise<void> {
    this.calls.push(`addNonvoter ${id} ${address}`);
    this.upsert(id, address, 'Nonvoter');
  }

  async removeServer(id: string): Promise<void> {
    this.calls.push(`removeServer ${id}`);
    this.configuration = this.configuration.filter((member) => member.id !== id);
  }

  async leadershipTransfer(id?: string): Promise<void> {
    this.calls.push(`leadershipTransfer ${id ?? '*'}`);
  }

  isolate(peers: string[] | null): void {
    this.isolated = peers;
  }
}
