/**
 * The simulator's fault schedule: every kind of fault a real cluster meets, each switchable with
 * `--faults LIST` and all combinable. The schedule only decides what happens when; the network,
 * disk and clock models carry it out.
 */
import { MAX_INDEX, MAX_TERM } from '../core/bounds.js';
import { MAX_QUEUED_MEMBERSHIP_CHANGES } from '../core/membership-changes.js';
import { ServerSuffrage, type AppendEntriesRequest } from '../core/types.js';
import type { Raft } from '../raft/raft.js';
import type { SeededRandom } from './prng.js';
import type { Scheduler } from './scheduler.js';
import type { SkewedClock } from './skewed-clock.js';
import type { SimNetwork } from './sim-network.js';

/** Every fault kind the simulator injects; `--faults` takes a comma-separated subset. */
export const FAULT_KINDS = [
  'partition',
  'asymmetric',
  'flapping',
  'loss',
  'delay',
  'reorder',
  'duplicate',
  'snapshot-cut',
  'crash',
  'restart',
  'disk',
  'membership',
  'transfer',
  'clock',
  'hostile',
] as const;

/** One kind of fault (see FAULT_KINDS). */
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * Not in the default set: clocks outside the documented drift bound (rates up to 2x apart and
 * forward jumps on followers). Lease reads are unsafe there by design; run it to see them fail.
 */
export const CLOCK_BEYOND_BOUND = 'clock-beyond-bound';

/** Relative frequency of a kind (out of 3); the others weigh 1. */
const WEIGHTS: Partial<Record<string, number>> = { crash: 3, partition: 2, disk: 2 };

/** What a fault schedule needs from the simulation. */
export interface FaultTarget {
  readonly random: SeededRandom;
  readonly scheduler: Scheduler;
  readonly network: SimNetwork;
  /** Lease reads are only safe while clocks stay within this bound (Config.maxClockDrift). */
  readonly maxClockDrift: number;
  /** The servers' election timeout, in virtual ms. */
  readonly electionTimeout: number;
  /** Whether the safety phase still runs (faults stop at the liveness phase). */
  faultsOn(): boolean;
  servers(): readonly FaultNode[];
  leader(): FaultNode | null;
  /** Kills the process (tearing the disk write in flight when asked); it restarts after `downMs`. */
  crash(node: FaultNode, options: { tear: boolean; downMs: number }): void;
  /**
   * Damages a record in the middle of `node`'s log at rest: while it is down for `downMs` (it must
   * refuse to start), or while it runs when `downMs` is null (it must refuse the record when it
   * reads it). The target declines when the damage could cost a quorum (see Simulation).
   */
  corrupt(node: FaultNode, downMs: number | null): void;
  /**
   * `node`'s disk loses the synced tail of its log while it is down for `downMs` (its stable store
   * keeps a commit index past the log's end: it must notice and be repaired from the others).
   */
  loseTail(node: FaultNode, downMs: number): void;
  /** Reads issued at once on `node` (the narrow windows of a transfer or a new leader). */
  readBurst(node: FaultNode): void;
  log(line: string): void;
  /** A safety property broken (the run fails with it). */
  violation(message: string): void;
  onMembershipChange(): void;
  onTransfer(ms: number): void;
}

/** A simulated server as the fault schedule sees it. */
export interface FaultNode {
  id: string;
  address: string;
  alive: boolean;
  raft: Raft | null;
  clock: SkewedClock | null;
  failNextWrite(): void;
}

/** Injects a random fault of an enabled kind every 50-400 virtual ms while the safety phase runs. */
export class FaultSchedule {
  private readonly kinds: readonly string[];

  constructor(
    private readonly target: FaultTarget,
    kinds: readonly string[],
  ) {
    this.kinds = kinds;
  }

  has(kind: string): boolean {
    return this.kinds.includes(kind);
  }

  start(): void {
    if (this.kinds.length === 0) return;
    const { scheduler, random } = this.target;
    scheduler.after(random.int(50, 400), () => {
      if (!this.target.faultsOn()) return;
      this.inject(this.pick());
      this.start();
    });
  }

  /** A kind, crashes and partitions three and two times as often as the others: they hide most bugs. */
  private pick(): string {
    const { random } = this.target;
    for (;;) {
      const kind = random.pick(this.kinds);
      if (random.chance((WEIGHTS[kind] ?? 1) / 3)) return kind;
    }
  }

  /** A node (re)started: under the clock faults its clock gets a rate of its own. */
  skew(node: FaultNode): void {
    const { random, maxClockDrift } = this.target;
    if (this.has(CLOCK_BEYOND_BOUND)) node.clock?.apply({ rate: 0.5 + random.next() * 1.5 });
    // Within the bound: any two rates differ by less than maxClockDrift (r/(1/r)... kept by d/3).
    else if (this.has('clock'))
      node.clock?.apply({ rate: 1 + (random.next() * 2 - 1) * (maxClockDrift / 3) });
  }

  private inject(kind: string): void {
    const { random, network } = this.target;
    const addresses = this.target.servers().map((node) => node.address);
    switch (kind) {
      case 'partition':
        return this.partition(addresses);
      case 'asymmetric': {
        const from = random.pick(addresses);
        const to = random.pick(addresses.filter((a) => a !== from));
        network.cutLink(from, to);
        return this.target.log(`one-way cut ${from} -> ${to}`);
      }
      case 'flapping':
        return this.flap(addresses, random.int(3, 10));
      case 'loss':
        network.faults = { ...network.faults, loss: random.pick([0, 0.05, 0.2]) };
        return this.target.log(`loss ${network.faults.loss}`);
      case 'delay':
        network.faults = { ...network.faults, maxLatency: random.pick([3, 10, 30, 80]) };
        return this.target.log(`latency up to ${network.faults.maxLatency}`);
      case 'reorder':
        network.faults = { ...network.faults, reorder: random.pick([0, 0.05, 0.2]) };
        return this.target.log(`reorder ${network.faults.reorder}`);
      case 'duplicate':
        network.faults = { ...network.faults, duplicate: random.pick([0, 0.05, 0.2]) };
        return this.target.log(`duplicate ${network.faults.duplicate}`);
      case 'snapshot-cut':
        network.faults = { ...network.faults, snapshotCut: random.pick([0, 0.3, 1]) };
        return this.target.log(`snapshot streams cut ${network.faults.snapshotCut}`);
      case 'crash':
      case 'restart':
        return this.crash(kind === 'restart' ? 1 : random.int(20, 600), false);
      case 'disk':
        return this.disk();
      case 'membership':
        return this.changeMembership();
      case 'transfer':
        return this.transfer();
      case 'clock':
      case CLOCK_BEYOND_BOUND:
        return this.clock(kind === CLOCK_BEYOND_BOUND);
      case 'hostile':
        return this.hostile();
    }
  }

  private partition(addresses: string[]): void {
    const { random, network } = this.target;
    network.heal();
    const roll = random.int(0, 4);
    if (roll === 0) return this.target.log('heal');
    const leader = this.target.leader();
    if (roll === 1 && leader) {
      const others = addresses.filter((a) => a !== leader.address);
      if (random.chance(0.5)) return this.leaseRace(leader, others);
      network.partition([[leader.address], others]);
      this.target.log(`isolate leader ${leader.id}`);
      // Reads on the cut-off leader until well after the others can have elected a new one.
      return this.readsOn(leader, random.int(5, 15));
    }
    const shuffled = addresses.slice();
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = random.int(0, i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    const cut = random.int(1, shuffled.length);
    network.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
    this.target.log(`partition ${shuffled.slice(0, cut).join(',')} | ${shuffled.slice(cut).join(',')}`);
  }

  /**
   * Aimed at the end of a leader's lease, where a lease that is too long (counted from when the
   * acknowledgements arrived instead of when the round was sent, or without the drift margin)
   * serves stale reads. The acknowledgements into the leader grow later step by step (25 ms at a
   * time, so it never goes a check-quorum period without hearing from a quorum) until they lag by
   * more than an election timeout; then its messages stop reaching the others, who elect a new
   * leader as early as they may, while the late acknowledgements keep the old one leading. Reads
   * on it every few ms meanwhile.
   */
  private leaseRace(leader: FaultNode, others: string[], lag = 25): void {
    const { random, scheduler, network, electionTimeout } = this.target;
    if (!this.target.faultsOn()) return;
    if (lag <= electionTimeout + 25) {
      for (const other of others) network.slowLink(other, leader.address, lag);
      scheduler.after(25, () => this.leaseRace(leader, others, lag + 25));
      return;
    }
    for (const other of others) network.cutLink(leader.address, other);
    this.target.log(`lease race: ${leader.id}'s messages cut, its acknowledgements ${lag - 25} ms late`);
    this.readsOn(leader, random.int(40, 80), 2, 6);
  }

  /** Everything from `others` to `leader` arrives `min`-`max` ms late (a leader that hears late). */
  private slowInto(leader: FaultNode, others: string[], min: number, max: number): void {
    const { random, network } = this.target;
    const ms = random.int(min, max + 1);
    for (const other of others) network.slowLink(other, leader.address, ms);
  }

  /** `count` read bursts on `node`, minGap-maxGap ms apart. */
  private readsOn(node: FaultNode, count: number, minGap = 10, maxGap = 40): void {
    if (count === 0 || !node.alive || !this.target.faultsOn()) return;
    this.target.readBurst(node);
    this.target.scheduler.after(this.target.random.int(minGap, maxGap + 1), () =>
      this.readsOn(node, count - 1, minGap, maxGap),
    );
  }

  /** A partition that comes and goes every 10-60 ms, `times` times. */
  private flap(addresses: string[], times: number): void {
    if (times === 0 || !this.target.faultsOn()) return;
    const { random, scheduler, network } = this.target;
    if (times % 2 === 0) this.partition(addresses);
    else {
      network.heal();
      this.target.log('flap: heal');
    }
    scheduler.after(random.int(10, 60), () => this.flap(addresses, times - 1));
  }

  private crash(downMs: number, tear: boolean): void {
    const { random } = this.target;
    const live = this.target.servers().filter((node) => node.alive);
    // Leaders crash more often than others: that is where commit-rule bugs hide.
    const node = (random.chance(0.35) && this.target.leader()) || random.pick(live);
    if (node) this.target.crash(node, { tear, downMs });
  }

  /** A torn write, a failed fsync, a record damaged at rest or a lost synced tail, a quarter of the time each. */
  private disk(): void {
    const { random } = this.target;
    const roll = random.int(0, 4);
    if (roll === 0) return this.crash(random.int(20, 600), true);
    const live = this.target.servers().filter((node) => node.alive);
    const node = (random.chance(0.35) && this.target.leader()) || random.pick(live);
    if (!node) return;
    if (roll === 2) return this.target.corrupt(node, random.chance(0.7) ? random.int(20, 600) : null);
    if (roll === 3) return this.target.loseTail(node, random.int(20, 600));
    node.failNextWrite();
    this.target.log(`${node.id}: next fsync fails`);
  }

  /**
   * A peer outside the cluster (hostile, or broken: a bad encoder, a flipped bit) sends a server an
   * AppendEntries with a term or index out of bounds: it must refuse it and change nothing.
   */
  private hostile(): void {
    const { random, network } = this.target;
    const node = random.pick(this.target.servers().filter((each) => each.alive));
    if (!node) return;
    const bad = random.pick([MAX_TERM + 1, MAX_INDEX + 2, -1, 0.5, Number.NaN]);
    const field = random.pick(['term', 'prevLogIndex', 'leaderCommitIndex'] as const);
    const request: AppendEntriesRequest = {
      kind: 'appendEntries',
      term: 1,
      leader: { id: 'hostile', address: 'sim:hostile' },
      prevLogIndex: 0,
      prevLogTerm: 0,
      entries: [],
      leaderCommitIndex: 0,
      [field]: bad,
    };
    this.target.log(`${node.id}: hostile AppendEntries with ${field} ${request[field]}`);
    network.inject(node.address, request).then(
      () => this.target.violation(`hostile input: ${node.id} accepted ${field} ${request[field]}`),
      (error: Error) => this.target.log(`${node.id} refused it: ${error.message}`),
    );
  }

  private clock(beyondBound: boolean): void {
    const { random } = this.target;
    const live = this.target.servers().filter((node) => node.alive && node.clock);
    const node = random.pick(live);
    if (!node) return;
    const roll = random.int(0, 3);
    if (roll === 0) {
      this.skew(node);
      return this.target.log(`${node.id}: clock rate changed`);
    }
    if (roll === 1) {
      const step = random.int(-60_000, 60_000);
      node.clock!.apply({ wallJumpMs: step });
      return this.target.log(`${node.id}: wall clock stepped ${step} ms`);
    }
    // A forward jump of the monotonic clock (a pause) is within the lease's assumption only on the
    // leader itself (its lease just ends sooner); on a follower it is a clock running fast.
    const leader = this.target.leader();
    const jumper = beyondBound ? node : leader;
    if (!jumper) return;
    const ms = random.int(1, 300);
    jumper.clock!.apply({ jumpMs: ms });
    this.target.log(`${jumper.id}: monotonic clock jumped ${ms} ms forward`);
  }

  private changeMembership(): void {
    const leader = this.target.leader();
    if (!leader) return;
    const raft = leader.raft!;
    const random = this.target.random;
    const members = raft.getConfiguration().configuration.servers;
    const voters = members.filter((server) => server.suffrage === ServerSuffrage.Voter);
    const nodes = this.target.servers();
    const outsiders = nodes.filter((node) => !members.some((server) => server.id === node.id));
    const nonvoters = members.filter((server) => server.suffrage !== ServerSuffrage.Voter);
    const timeout = 600;
    let change: Promise<number>;
    let description: string;
    const roll = random.int(0, 4);
    if (roll === 0 && outsiders.length > 0) {
      const node = random.pick(outsiders);
      const asVoter = random.chance(0.6);
      // A new server the leader cannot reach never catches up: its catch-up deadline must end the change.
      const unreachable = asVoter && random.chance(0.3);
      if (unreachable) this.target.network.cutLink(leader.address, node.address);
      change = asVoter
        ? raft.addVoter(node.id, node.address, 0, timeout)
        : raft.addNonvoter(node.id, node.address, 0, timeout);
      description = `${asVoter ? 'addVoter' : 'addNonvoter'} ${node.id}${unreachable ? ' (unreachable)' : ''}`;
    } else if (roll === 1 && voters.length > 3) {
      // Sometimes the leader removes itself.
      const target = random.chance(0.3) ? leader.id : random.pick(members).id;
      change = raft.removeServer(target, 0, timeout);
      description = `removeServer ${target}`;
    } else if (roll === 2 && voters.length > 3) {
      const target = random.pick(voters).id;
      change = raft.demoteVoter(target, 0, timeout);
      description = `demoteVoter ${target}`;
    } else if (nonvoters.length > 0) {
      const target = random.pick(nonvoters);
      change = raft.addVoter(target.id, target.address, 0, timeout);
      description = `promote ${target.id}`;
    } else {
      return;
    }
    this.target.log(`${leader.id}: ${description}`);
    // A change made against a configuration that has moved on must be refused (hashicorp's
    // prevIndex): one that is not refused adds a stranger the trace shows.
    const stale = raft.getConfiguration().index - 1;
    // Sometimes a burst of them (an operator's script gone wrong): past the queue's bound each
    // is refused at once; the queued ones are refused as they come up.
    const burst = random.chance(0.1) ? MAX_QUEUED_MEMBERSHIP_CHANGES + 1 : 1;
    for (let i = 0; i < burst && stale > 0; i++)
      raft.addNonvoter('stale', 'sim:stale', stale, timeout).catch(() => {});
    change.then(
      (index) => {
        this.target.onMembershipChange();
        this.target.log(`${description} committed at ${index}`);
      },
      () => {},
    );
  }

  /** A leadership transfer with reads in flight on the old leader (its narrowest window). */
  private transfer(): void {
    const leader = this.target.leader();
    if (!leader) return;
    const { scheduler, random } = this.target;
    const started = scheduler.now;
    // Half the time the old leader hears of its successor late: the window in which a lease read
    // during the transfer would be stale stays open longer.
    const hearsLate = random.chance(0.5);
    if (hearsLate) {
      const others = this.target.servers().map((node) => node.address);
      this.slowInto(
        leader,
        others.filter((address) => address !== leader.address),
        30,
        60,
      );
    }
    this.target.log(`${leader.id}: leadership transfer${hearsLate ? ' (it hears late)' : ''}`);
    // A transfer to a server that is no voter must be refused.
    const nonvoter = leader
      .raft!.getConfiguration()
      .configuration.servers.find((server) => server.suffrage !== ServerSuffrage.Voter);
    if (nonvoter) leader.raft!.leadershipTransferToServer(nonvoter.id, nonvoter.address).catch(() => {});
    leader.raft!.leadershipTransfer().then(
      () => this.target.onTransfer(scheduler.now - started),
      () => {},
    );
    if (hearsLate) this.readsOn(leader, random.int(20, 40), 2, 6);
    else this.readsOn(leader, random.int(2, 6));
  }
}
