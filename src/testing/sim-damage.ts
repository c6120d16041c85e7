/**
 * The simulator's damage at rest: a record in the middle of a log damaged (its checksum must find
 * it) and a log's synced tail lost (a disk that lies about fsync, or a log restored from an older
 * copy: the server must notice that its log ends below the commit index it persisted). Both only
 * while no repair is under way and the cluster keeps a quorum without the damaged server.
 */
import { ServerSuffrage } from '../core/types.js';
import { readHardState } from '../raft/hard-state.js';
import type { Raft } from '../raft/raft.js';
import type { InmemSnapshotStore } from '../storage/inmem-snapshot.js';
import type { SafetyChecker } from './checker.js';
import type { SeededRandom } from './prng.js';
import type { SimMedium } from './sim-disk.js';

/** A simulated server as the damage sees it. */
export interface DamageNode {
  id: string;
  durable: SimMedium;
  snapshots: InmemSnapshotStore;
  raft: Raft | null;
  /** A record of its log was damaged at rest and the damage is not yet found. */
  damaged: boolean;
}

/** What the damage needs from the simulation. */
export interface DamageHost<N extends DamageNode> {
  readonly random: SeededRandom;
  readonly checker: SafetyChecker;
  servers(): readonly N[];
  leader(): N | null;
  /** A repair (a wiped server's old identity out, its new one in) is under way. */
  repairBusy(): boolean;
  crash(node: N, restart: { tear: boolean; downMs: number }): void;
  log(line: string): void;
  /** Work the current step waits for. */
  track(work: Promise<unknown>): void;
}

/** Damages simulated disks at rest (see the module comment); counts what it did. */
export class DiskDamage<N extends DamageNode> {
  /** Log records damaged at rest. */
  recordsDamaged = 0;
  /** Synced log tails lost. */
  tailsLost = 0;

  /** Servers that lost a synced tail, and the commit index they held: damaged until they hold it again. */
  private readonly lostUntil = new Map<N, number>();

  constructor(private readonly host: DamageHost<N>) {}

  /**
   * A record in the middle of `node`'s log is damaged at rest: while it is down for `downMs`, or
   * while it runs when `downMs` is null.
   */
  corrupt(node: N, downMs: number | null): void {
    const { host } = this;
    if (!this.mayDamage(node)) return;
    if (downMs !== null) host.crash(node, { tear: false, downMs });
    const entry = node.durable.damageMiddle((lo, hi) => host.random.int(lo, hi));
    if (!entry) return host.log(`${node.id}: log too short to damage in its middle`);
    node.damaged = true;
    this.recordsDamaged++;
    host.checker.onDamaged(entry);
    host.log(`${node.id}: log record ${entry.index} damaged at rest${downMs === null ? ' (running)' : ''}`);
  }

  /**
   * `node`'s disk loses the synced tail of its log, down into what it knew was committed, while it
   * is down for `downMs`. Only records that a majority of the voters hold without it are lost:
   * past that no Raft survives a lying disk.
   */
  loseTail(node: N, downMs: number): void {
    const { host } = this;
    if (!this.mayDamage(node)) return;
    const voters = host
      .leader()!
      .raft!.getConfiguration()
      .configuration.servers.filter((server) => server.suffrage === ServerSuffrage.Voter);
    const others = host
      .servers()
      .filter((each) => each !== node && voters.some((server) => server.id === each.id));
    host.crash(node, { tear: false, downMs });
    const medium = node.durable;
    const lose = async (): Promise<void> => {
      const { commit } = await readHardState(medium);
      const [snapshot] = await node.snapshots.list();
      const lo = Math.max(await medium.firstIndex(), (snapshot?.index ?? 0) + 1);
      const last = await medium.lastIndex();
      const hi = Math.min(commit, last);
      if (hi < lo) return host.log(`${node.id}: no committed tail to lose`);
      const from = host.random.int(lo, hi + 1);
      for (let index = from; index <= last; index++) {
        const holders = others.filter((each) => each.durable.termAt(index) === medium.termAt(index));
        if (holders.length <= voters.length / 2)
          return host.log(`${node.id}: tail loss skipped (entry ${index} is on no majority without it)`);
      }
      medium.loseTail(from);
      this.lostUntil.set(node, commit);
      this.tailsLost++;
      host.checker.onTailLost(node.id, from - 1);
      host.log(`${node.id}: disk lost synced records ${from}-${last} (commit ${commit})`);
    };
    host.track(lose());
  }

  /**
   * Test-only: `node` stops and a record in the middle of its log vanishes, the gap a buggy
   * compaction or snapshot install leaves: its restart fails, and the run must say so.
   */
  async gap(node: N): Promise<void> {
    this.host.crash(node, { tear: false, downMs: 0 });
    const first = await node.durable.firstIndex();
    const last = await node.durable.lastIndex();
    if (last - first < 2) return this.host.log(`${node.id}: log too short for a gap`);
    const index = (first + last) >> 1;
    node.durable.deleteRangeSync(index, index);
    this.host.log(`${node.id}: log record ${index} vanished (a gap)`);
  }

  /**
   * Whether `node`'s disk may be damaged now: no repair under way, no other server damaged (nor
   * missing a lost tail), a quorum without it.
   */
  private mayDamage(node: N): boolean {
    const { host } = this;
    const members = host.leader()?.raft!.getConfiguration().configuration.servers ?? [];
    for (const [lost, until] of this.lostUntil)
      if ((lost.raft?.lastIndex() ?? 0) >= until) this.lostUntil.delete(lost);
    const allowed =
      !host.repairBusy() &&
      this.lostUntil.size === 0 &&
      !host.servers().some((each) => each.damaged) &&
      members.length >= 3 &&
      members.some((server) => server.id === node.id);
    if (!allowed) host.log(`${node.id}: damage skipped (a repair is under way or it would cost a quorum)`);
    return allowed;
  }
}
