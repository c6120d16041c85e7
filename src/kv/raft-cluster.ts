/** The KvCluster the HTTP API needs, over the real Raft runtime. */
import { RaftState, ServerSuffrage, type Raft } from '../index.js';
import { UnknownServerError, type ApplyOptions, type ClusterStatus, type KvCluster } from './cluster.js';
import type { ServerStateName } from './contract.js';

/** A transport that can drop traffic to some peers (NetworkTransport's blockPeers). */
export interface BlockingTransport {
  blockPeers(addresses: string[] | null): void;
}

/** How long a membership change may wait to be committed, in ms. */
const MEMBERSHIP_TIMEOUT_MS = 10_000;

export class RaftKvCluster implements KvCluster {
  readonly id: string;

  constructor(
    private readonly raft: Raft,
    private readonly transport: BlockingTransport | null = null,
  ) {
    this.id = raft.config.localId;
    if (transport !== null) this.isolate = (peers) => this.block(transport, peers);
  }

  /** Demo only, and only with a transport that can block peers. */
  isolate?: (peers: string[] | null) => void;

  apply(data: Uint8Array, opts: ApplyOptions = {}): Promise<{ index: number; response: unknown }> {
    return this.raft.apply(data, opts);
  }

  async linearizableRead(opts: { timeout?: number } = {}): Promise<void> {
    await this.raft.readIndex(opts);
  }

  status(): ClusterStatus {
    const raft = this.raft;
    return {
      state: this.serverState(),
      term: raft.currentTerm(),
      leader: raft.leader(),
      lastIndex: raft.lastIndex(),
      commitIndex: raft.commitIndex(),
      appliedIndex: raft.appliedIndex(),
      lastSnapshotIndex: raft.lastSnapshotIndex(),
      removed: this.isRemoved(),
      configuration: raft.getConfiguration().configuration.servers.map((server) => ({
        id: server.id,
        address: server.address,
        suffrage: server.suffrage === ServerSuffrage.Voter ? 'Voter' : 'Nonvoter',
      })),
    };
  }

  serverState(): ServerStateName {
    return stateName(this.raft.state);
  }

  leaderId(): string | undefined {
    return this.raft.leader()?.id;
  }

  isRemoved(): boolean {
    return this.raft.removed;
  }

  matchIndex(id: string): number | null {
    return this.raft.replication().find((peer) => peer.id === id)?.matchIndex ?? null;
  }

  async addVoter(id: string, address: string): Promise<void> {
    await this.raft.addVoter(id, address, 0, MEMBERSHIP_TIMEOUT_MS);
  }

  async addNonvoter(id: string, address: string): Promise<void> {
    await this.raft.addNonvoter(id, address, 0, MEMBERSHIP_TIMEOUT_MS);
  }

  async removeServer(id: string): Promise<void> {
    if (this.addressOf(id) === undefined) throw new UnknownServerError(id);
    await this.raft.removeServer(id, 0, MEMBERSHIP_TIMEOUT_MS);
  }

  leadershipTransfer(id?: string): Promise<void> {
    if (id === undefined) return this.raft.leadershipTransfer();
    const address = this.addressOf(id);
    if (address === undefined) return Promise.reject(new UnknownServerError(id));
    return this.raft.leadershipTransferToServer(id, address);
  }

  private addressOf(id: string): string | undefined {
    return this.raft.getConfiguration().configuration.servers.find((server) => server.id === id)?.address;
  }

  private block(transport: BlockingTransport, peers: string[] | null): void {
    if (peers === null) return transport.blockPeers(null);
    transport.blockPeers(peers.map((id) => this.addressOf(id)).filter((address) => address !== undefined));
  }
}

function stateName(state: RaftState): ServerStateName {
  switch (state) {
    case RaftState.Leader:
      return 'Leader';
    case RaftState.Candidate:
      return 'Candidate';
    case RaftState.Shutdown:
      return 'Shutdown';
    default:
      return 'Follower';
  }
}
