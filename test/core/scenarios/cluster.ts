/**
 * The world a scenario's cores live in: each node's disk (the Ready writes, acknowledged with
 * persisted(seq) when the scenario says so), its log and snapshot, and one network queue.
 *
 * It keeps the runtime's contract (src/raft/raft.ts handleReady/release): a message leaves only
 * once persistence reached its `after` seq; AppendEntries get their entries from the sender's log
 * when they leave (and are dropped if the leadership that made them ended); InstallSnapshot gets
 * the sender's newest snapshot; a message lost on the way fails the RPC at the requester
 * (onFailure), as a transport timeout would.
 */
/** What the core asks its runtime to do (src/core/ready.ts). */
import type * as output from '../../../src/core/ready.js';
import { LogType, type Configuration, type LogEntry } from '../../../src/core/types.js';
import { codec } from '../harness.js';
import { CoreAdapter, type NodeOptions } from './core-adapter.js';
import type { Envelope } from './envelope.js';
import {
  formatConfiguration,
  formatEntries,
  formatEnvelope,
  formatEvent,
  formatHardStateChange,
  formatLogEntry,
  formatProgress,
  formatStatus,
} from './print.js';

interface Snapshot {
  index: number;
  term: number;
  configuration: Configuration;
  configurationIndex: number;
}

export class ClusterNode {
  /** The log as the runtime's entry cache sees it: a Ready's entries are readable at once. */
  readonly log = new Map<number, LogEntry>();
  snapshot: Snapshot | null = null;
  unpersisted: output.Write[] = [];
  persistedSeq = 0;
  hardState: output.HardState = { term: 0, vote: null, commit: 0 };
  applied = 0;
  /** Messages waiting for persistence to reach their `after` seq. */
  held: (output.OutboundRequest | output.OutboundResponse)[] = [];

  constructor(
    readonly id: string,
    /** Replaced when the node restarts. */
    public core: CoreAdapter,
    readonly options: NodeOptions,
  ) {}
}

export class Cluster {
  private readonly nodes = new Map<string, ClusterNode>();
  private network: Envelope[] = [];
  /** Requests delivered and not yet answered, by the rpcId the receiver was given. */
  private readonly inbound = new Map<number, Omit<Envelope, 'response'>>();
  private nextRpcId = 1;
  private nextReadId = 1;
  /** Node ID -> its group; nodes in different groups cannot reach each other. */
  private groups: Map<string, number> | null = null;
  private lines: string[] = [];

  constructor(private readonly defaults: Pick<NodeOptions, 'faults'> = {}) {}

  /** The lines printed since the last call. */
  takeOutput(): string[] {
    const lines = this.lines;
    this.lines = [];
    return lines;
  }

  print(line: string): void {
    this.lines.push(line);
  }

  // Nodes ----------------------------------------------------------------------------------------

  /** Adds nodes with the next IDs; start-up is quiet (the vote-refusing period has passed). */
  addNodes(count: number, options: Omit<NodeOptions, 'faults'>): void {
    for (let i = 0; i < count; i++) {
      const id = String(this.nodes.size + 1);
      const nodeOptions = { ...options, ...this.defaults };
      const node = new ClusterNode(id, CoreAdapter.create(id, nodeOptions), nodeOptions);
      const core = node.core;
      for (const entry of core.initialLog) node.log.set(entry.index, entry);
      const { term, commit } = core.status();
      node.hardState = { term, vote: null, commit };
      node.applied = commit;
      this.nodes.set(id, node);
      // Start-up's only output is the configuration event, which the status line shows.
      core.ready();
      // As if the node had been up for a while: past the vote-refusing quiet period after a start,
      // and before its election timer (which fires half-way between 1 and 2 election timeouts).
      core.tick(core.electionTimeout);
      this.printStatus(node);
    }
  }

  /**
   * Restarts a node from what its disk holds (every write must be persisted): the messages on their
   * way to or from it are lost. With `loseFrom`, its log lost the entries from that index on (a cut
   * write-ahead log) while its hard state, commit index included, survived.
   */
  restart(node: ClusterNode, loseFrom: number | null): void {
    if (node.unpersisted.length > 0) throw new Error(`${node.id} has unpersisted writes: persist it first`);
    for (const envelope of this.takeMessages((e) => e.from === node.id || e.to === node.id))
      this.drop(envelope);
    if (loseFrom !== null) for (const index of node.log.keys()) if (index >= loseFrom) node.log.delete(index);
    const log = [...node.log.values()].sort((a, b) => a.index - b.index);
    const stored = { now: node.core.now, hardState: node.hardState, snapshot: node.snapshot };
    node.core = CoreAdapter.restart(node.id, node.options, stored, log);
    node.persistedSeq = 0;
    node.held = [];
    this.print(`${node.id}: restarts${loseFrom === null ? '' : `, its log cut before ${loseFrom}`}`);
    this.drain(node);
    node.applied = node.core.status().commit;
    this.printStatus(node);
  }

  node(id: string): ClusterNode {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  ids(): string[] {
    return [...this.nodes.keys()];
  }

  /** Runs an input on a node's core, prints what it raised, and handles the Ready it produced. */
  run<T>(node: ClusterNode, input: (core: CoreAdapter) => T): T | undefined {
    try {
      return input(node.core);
    } catch (error) {
      this.print(`${node.id}: error: ${(error as Error).message}`);
      return undefined;
    } finally {
      this.drain(node);
    }
  }

  printStatus(node: ClusterNode): void {
    this.print(formatStatus(node.id, node.core.status(), node.applied));
    for (const progress of node.core.progress()) this.print(formatProgress(progress));
  }

  printLog(node: ClusterNode): void {
    if (node.snapshot) {
      const { index, term, configuration } = node.snapshot;
      this.print(`snapshot (${index},${term}) ${formatConfiguration(configuration)}`);
    }
    for (const entry of [...node.log.values()].sort((a, b) => a.index - b.index)) {
      this.print(formatLogEntry(entry, codec.decode));
    }
  }

  // The runtime's side of the Ready contract ------------------------------------------------------

  private drain(node: ClusterNode): void {
    while (node.core.hasReady()) this.handleReady(node, node.core.ready());
  }

  private handleReady(node: ClusterNode, ready: output.Ready): void {
    for (const event of ready.events) {
      const line = formatEvent(event);
      if (line) this.print(`${node.id}: ${line}`);
    }
    if (ready.write) {
      const { truncateFrom, entries } = ready.write;
      if (truncateFrom !== null)
        for (const index of node.log.keys()) if (index >= truncateFrom) node.log.delete(index);
      for (const entry of entries) node.log.set(entry.index, entry);
      node.unpersisted.push(ready.write);
    }
    for (const install of ready.installs) this.install(node, install);
    for (const out of ready.requests) this.release(node, out);
    for (const out of ready.responses) this.release(node, out);
  }

  /** Acknowledges every write the node has not persisted yet; false if there was none. */
  persist(node: ClusterNode): boolean {
    if (node.unpersisted.length === 0) return false;
    for (const write of node.unpersisted) {
      const fields = write.hardState ? formatHardStateChange(node.hardState, write.hardState) : [];
      if (write.hardState) node.hardState = write.hardState;
      if (write.truncateFrom !== null) fields.push(`truncate-from=${write.truncateFrom}`);
      if (write.entries.length > 0) fields.push(`entries=${formatEntries(write.entries)}`);
      this.print(`${node.id}: persist ${fields.length > 0 ? fields.join(' ') : 'hard-state (unchanged)'}`);
    }
    node.persistedSeq = node.unpersisted.at(-1)!.seq;
    node.unpersisted = [];
    // The runtime applies up to the durable commit index (held in the log: see core/raft.ts start).
    node.applied = Math.max(node.applied, Math.min(node.hardState.commit, node.core.status().commit));
    this.run(node, (core) => core.persisted(node.persistedSeq));
    const held = node.held;
    node.held = [];
    for (const message of held) this.release(node, message);
    this.drain(node);
    return true;
  }

  private release(node: ClusterNode, message: output.OutboundRequest | output.OutboundResponse): void {
    if (message.after > node.persistedSeq) {
      node.held.push(message);
    } else if ('rpcId' in message) {
      const asked = this.inbound.get(message.rpcId)!;
      this.inbound.delete(message.rpcId);
      this.network.push({ ...asked, from: asked.to, to: asked.from, response: message.response });
    } else {
      this.sendRequest(node, message);
    }
  }

  private sendRequest(node: ClusterNode, out: output.OutboundRequest): void {
    const request = out.request;
    if (request.kind === 'appendEntries' && out.entriesTo >= out.entriesFrom) {
      if (node.core.isStale(out)) {
        this.print(`${node.id}: drops AppendEntries to ${out.to.id}: its leadership ended`);
        return;
      }
      const entries: LogEntry[] = [];
      for (let index = out.entriesFrom; index <= out.entriesTo; index++) {
        const entry = node.log.get(index);
        if (!entry) {
          this.print(
            `${node.id}: cannot send entries ${out.entriesFrom}..${out.entriesTo} to ${out.to.id}: compacted`,
          );
          node.core.onFailure(out, 'logNotFound');
          return;
        }
        entries.push(entry);
      }
      // The core reads the entries back from the request when the answer comes (as in the runtime).
      request.entries = entries;
    }
    if (request.kind === 'installSnapshot') {
      if (!node.snapshot) {
        this.print(`${node.id}: has no snapshot to send to ${out.to.id}`);
        node.core.onFailure(out, 'error');
        return;
      }
      request.lastLogIndex = node.snapshot.index;
      request.lastLogTerm = node.snapshot.term;
      request.configuration = node.snapshot.configuration;
      request.configurationIndex = node.snapshot.configurationIndex;
    }
    this.network.push({
      from: node.id,
      to: out.to.id,
      request,
      heartbeat: out.heartbeatRound > 0,
      origin: { out, readId: 0 },
      response: null,
    });
  }

  /** A follower's accepted InstallSnapshot: store it, restore the state machine, tell the core. */
  private install(node: ClusterNode, install: output.SnapshotInstall): void {
    const { lastLogIndex, lastLogTerm, configuration, configurationIndex } = install.request;
    node.snapshot = { index: lastLogIndex, term: lastLogTerm, configuration, configurationIndex };
    node.applied = Math.max(node.applied, lastLogIndex);
    this.print(`${node.id}: installs snapshot (${lastLogIndex},${lastLogTerm})`);
    node.core.snapshotInstalled(install.rpcId);
  }

  // Snapshots ------------------------------------------------------------------------------------

  /** Takes a snapshot of the applied state at `index` and drops the log entries up to it. */
  compact(node: ClusterNode, index: number): void {
    if (index > node.applied) throw new Error(`cannot snapshot at ${index}: applied only to ${node.applied}`);
    const term =
      node.log.get(index)?.term ?? (node.snapshot?.index === index ? node.snapshot.term : undefined);
    if (term === undefined) throw new Error(`no entry ${index} to snapshot at`);
    let configuration = node.snapshot
      ? { configuration: node.snapshot.configuration, index: node.snapshot.configurationIndex }
      : null;
    for (const entry of node.log.values()) {
      if (entry.type !== LogType.Configuration || entry.index > index) continue;
      if (!configuration || entry.index > configuration.index) {
        configuration = { configuration: codec.decode(entry.data), index: entry.index };
      }
    }
    if (!configuration) throw new Error(`no configuration at or before ${index}`);
    node.snapshot = {
      index,
      term,
      configuration: configuration.configuration,
      configurationIndex: configuration.index,
    };
    for (const held of node.log.keys()) if (held <= index) node.log.delete(held);
    this.run(node, (core) => core.snapshotTaken(index, term, index + 1));
    this.print(`${node.id}: snapshot at (${index},${term}), entries up to ${index} removed`);
  }

  // Reads ----------------------------------------------------------------------------------------

  /** A linearizable read: the leader's core confirms it; a follower's runtime asks the leader. */
  readIndex(node: ClusterNode): void {
    const readId = this.nextReadId++;
    if (node.core.isLeader) {
      this.run(node, (core) => core.readIndex(readId));
      return;
    }
    const leader = node.core.leader;
    if (!leader) {
      this.print(`${node.id}: read ${readId} failed: no known leader`);
      return;
    }
    this.network.push({
      from: node.id,
      to: leader.id,
      request: { kind: 'readIndex', term: node.core.term, from: node.core.self },
      heartbeat: false,
      origin: { out: null, readId },
      response: null,
    });
  }

  // The network ----------------------------------------------------------------------------------

  /** Nodes in different groups cannot reach each other; nodes not named form one more group. */
  partition(groups: string[][]): string {
    this.groups = new Map();
    groups.forEach((group, i) => group.forEach((id) => this.groups!.set(this.node(id).id, i)));
    const rest = this.ids().filter((id) => !this.groups!.has(id));
    rest.forEach((id) => this.groups!.set(id, groups.length));
    return [...groups, rest]
      .filter((group) => group.length > 0)
      .map((group) => group.join(' '))
      .join(' | ');
  }

  heal(): void {
    this.groups = null;
  }

  private cut(a: string, b: string): boolean {
    return this.groups !== null && this.groups.get(a) !== this.groups.get(b);
  }

  /** Takes the queued messages that match (from/to undefined: any), keeping the others queued. */
  takeMessages(match: (envelope: Envelope) => boolean, limit = Infinity): Envelope[] {
    const taken: Envelope[] = [];
    const kept: Envelope[] = [];
    for (const envelope of this.network) {
      if (taken.length < limit && match(envelope)) taken.push(envelope);
      else kept.push(envelope);
    }
    this.network = kept;
    return taken;
  }

  deliver(envelope: Envelope): void {
    const { from, to, request, heartbeat, origin, response } = envelope;
    if (this.cut(from, to) || !this.nodes.has(to)) {
      this.drop(envelope);
      return;
    }
    this.print(formatEnvelope(envelope));
    if (!response) {
      const rpcId = this.nextRpcId++;
      this.inbound.set(rpcId, { from, to, request, heartbeat, origin });
      this.run(this.node(to), (core) => core.step(rpcId, request));
    } else if (origin.out) {
      this.run(this.node(to), (core) => core.onResponse(origin.out!, response));
    } else {
      const answer = response as { success: boolean; readIndex: number };
      this.print(
        answer.success
          ? `${to}: read ${origin.readId} ready at index ${answer.readIndex}`
          : `${to}: read ${origin.readId} failed: ${from} is not the leader`,
      );
    }
  }

  /** A lost message fails the RPC at the requester, as the transport's timeout would. */
  drop(envelope: Envelope): void {
    this.print(`${formatEnvelope(envelope)} (dropped)`);
    const requester = this.node(envelope.response ? envelope.to : envelope.from);
    const { out, readId } = envelope.origin;
    if (out) this.run(requester, (core) => core.onFailure(out, 'error'));
    else this.print(`${requester.id}: read ${readId} failed: no answer`);
  }

  /** Persists every write and delivers every message until nothing moves. */
  stabilize(): void {
    for (let round = 0; ; round++) {
      if (round > 1000) throw new Error('stabilize: still busy after 1000 rounds');
      let busy = false;
      for (const node of this.nodes.values()) busy = this.persist(node) || busy;
      const batch = this.network;
      this.network = [];
      for (const envelope of batch) this.deliver(envelope);
      if (!busy && batch.length === 0) return;
    }
  }
}
