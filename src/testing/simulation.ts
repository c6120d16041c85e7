/**
 * The seeded cluster simulator: N real Raft runtimes in one process under virtual time, with a
 * simulated network and disk, random faults, crashes and client traffic. A safety phase with
 * faults is followed by a liveness phase (everything healed): a leader must emerge within a bounded
 * number of election timeouts and every log and FSM must converge. The same seed replays the same run.
 */
import { ErrStoreCorrupt } from '../core/errors.js';
import type { CoreFaults } from '../core/raft.js';
import {
  ServerSuffrage,
  RaftState,
  type Configuration,
  type RaftRequest,
  type RaftResponse,
  type ServerAddress,
} from '../core/types.js';
import { bootstrapCluster } from '../raft/bootstrap.js';
import { defaultConfig, type Config } from '../raft/config.js';
import { readHardState } from '../raft/hard-state.js';
import { Raft } from '../raft/raft.js';
import { InmemSnapshotStore } from '../storage/inmem-snapshot.js';
import { InmemTransport } from '../transport/inmem.js';
import { SafetyChecker, type CheckedNode } from './checker.js';
import { SeededRandom } from './prng.js';
import { afterTicks, SETTLE_ROUNDS, ticksQueued } from './tick-counter.js';
import { Scheduler } from './scheduler.js';
import { SimDisk, SimMedium, SimSnapshotStore } from './sim-disk.js';
import { encodeCommand, SimFsm } from './sim-fsm.js';
import { calmNetwork, SimNetwork } from './sim-network.js';
import { SimOperator } from './sim-repair.js';
import { DiskDamage } from './sim-damage.js';
import { arriving, kindConfig, kindFaults, LEADER_KINDS, type LeaderKind } from './sim-peers.js';
import { FAULT_KINDS, FaultSchedule, type FaultNode, type FaultTarget } from './sim-faults.js';
import type { SkewedClock } from './skewed-clock.js';

/** One simulator run: `runSimulation({ seed })` replays exactly given the same options. */
export interface SimulationOptions {
  /** Decides every random choice of the run (faults, latencies, timeouts, client operations). */
  seed: number;
  /** Voters in the initial configuration (3 or 5). */
  nodes?: number;
  /** Extra server processes outside the initial configuration, for membership churn. */
  spares?: number;
  /** Virtual milliseconds of the safety phase (faults on); default 6000. */
  duration?: number;
  /** Deliberate core bugs (to show the checker catches them). */
  faults?: CoreFaults;
  /** The fault kinds injected (FAULT_KINDS, plus CLOCK_BEYOND_BOUND); default all of FAULT_KINDS. */
  faultKinds?: readonly string[];
  /**
   * How servers behave, picked per server at random from this list: `raftkit`, or as another
   * conforming implementation does (`hashicorp`, `etcd`, `hashicorp-legacy`; see LeaderKind).
   * Default all of LEADER_KINDS.
   */
  leaderKinds?: readonly LeaderKind[];
  /** Events kept for the trace of a failing seed; default 40. */
  traceLength?: number;
  /**
   * Test-only: the simulated disks read records without checking their checksums, so a record
   * damaged at rest is served (the integrity invariant must catch it).
   */
  skipChecksums?: boolean;
  /**
   * Test-only: settle every step with all SETTLE_ROUNDS rounds, even when a round queued no tick
   * (to show that stopping early changes no run).
   */
  fullSettle?: boolean;
  /** Test-only: as the liveness phase begins, a server stops with a gap in its log (DiskDamage.gap). */
  gapBeforeLiveness?: boolean;
}

/** What one run did and found; the run passed when `violations` is empty. */
export interface SimulationResult {
  /** The seed that replays this run. */
  seed: number;
  /** Voters in the initial configuration. */
  nodes: number;
  /** Safety or liveness properties broken, each naming the property; empty when the run passed. */
  violations: string[];
  /** The last events before the run ended (most useful when it failed). */
  trace: string[];
  /** Scheduler events run (each followed by the safety checks). */
  steps: number;
  /** Client writes acknowledged (each must survive). */
  acked: number;
  /** Times a server became leader. */
  elections: number;
  /** Snapshots installed on followers by InstallSnapshot. */
  snapshotsInstalled: number;
  /** Membership changes committed (adds, removals, promotions, demotions). */
  membershipChanges: number;
  /** Linearizable reads whose results were checked. */
  readsChecked: number;
  /** Durations of completed leadership transfers, in virtual ms. */
  transfers: number[];
  /** Log records damaged at rest (the disk fault's corruption). */
  recordsDamaged: number;
  /** Times a server refused to start on a damaged log (ErrStoreCorrupt) and was wiped for repair. */
  damageDetected: number;
  /** Repairs whose membership changes (old identity out, new one in) all committed. */
  repairs: number;
  /** Snapshot streams cut mid-transfer (the snapshot-cut fault): each install must fail cleanly. */
  snapshotStreamsCut: number;
  /** Times a server's disk lost the synced tail of its log (a disk fault): it must be repaired. */
  tailsLost: number;
  /** Virtual time at the end of the run, in ms. */
  virtualMs: number;
}
export { LEADER_KINDS, type LeaderKind } from './sim-peers.js';

interface SimNode extends CheckedNode, FaultNode {
  address: string;
  durable: SimMedium;
  snapshots: InmemSnapshotStore;
  /** A record of its log was damaged at rest and the damage is not yet found. */
  damaged: boolean;
  /** Times it was wiped and came back under a new identity. */
  incarnation: number;
  disk: SimDisk | null;
  snapshotView: SimSnapshotStore | null;
  transport: InmemTransport | null;
  alive: boolean;
  generation: number;
  clock: SkewedClock | null;
  leaderKind: LeaderKind;
}

/** The simulated servers' election (and heartbeat) timeout, in virtual ms. */
export const SIMULATED_ELECTION_TIMEOUT = 100;
/** Election timeouts allowed after healing for a leader to emerge. */
const LIVENESS_ELECTION_TIMEOUTS = 20;
/** Further election timeouts allowed for every server to converge. */
const CONVERGENCE_ELECTION_TIMEOUTS = 40;

/**
 * Runs one seeded simulation: a safety phase full of faults and client traffic, then a liveness
 * phase with everything healed. Resolves with what happened; it does not throw on a violation.
 */
export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  return new Simulation(options).run();
}

class Simulation implements FaultTarget {
  readonly random: SeededRandom;
  readonly scheduler = new Scheduler();
  readonly network: SimNetwork;
  readonly maxClockDrift: number;
  readonly electionTimeout = SIMULATED_ELECTION_TIMEOUT;
  private readonly schedule: FaultSchedule;
  private readonly operator = new SimOperator(this);
  private damageDetected = 0;
  /** The previous leader, for reads in flight on it while a new leader takes over. */
  private lastLeader: SimNode | null = null;
  private readonly checker: SafetyChecker;
  private readonly damage: DiskDamage<SimNode>;
  private readonly nodes: SimNode[] = [];
  private readonly config: Config;
  private readonly trace: string[] = [];
  private readonly traceLength: number;
  private steps = 0;
  private clientSeq = 0;
  private elections = 0;
  private snapshotsInstalled = 0;
  private membershipChanges = 0;
  private readonly transfers: number[] = [];
  private safetyPhase = true;
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly options: SimulationOptions) {
    this.random = new SeededRandom(options.seed);
    this.network = new SimNetwork(this.scheduler, this.random.fork());
    this.traceLength = options.traceLength ?? 40;
    this.checker = new SafetyChecker(() => `t=${this.scheduler.now} step=${this.steps}`);
    this.damage = new DiskDamage({
      random: this.random,
      checker: this.checker,
      servers: () => this.nodes,
      leader: () => this.leader(),
      repairBusy: () => this.operator.busy(),
      crash: (node, restart) => this.crash(node, restart),
      log: (line) => this.log(line),
      track: (work) => this.track(work),
    });
    this.network.onResponse = (from, request, response) => this.onResponse(from, request, response);
    this.network.arriving = (from, to, request) =>
      arriving(
        (address) => this.nodes.find((node) => node.address === address)?.leaderKind,
        from,
        to,
        request,
      );
    const random = this.random;
    this.config = {
      ...defaultConfig(),
      heartbeatTimeout: SIMULATED_ELECTION_TIMEOUT,
      electionTimeout: SIMULATED_ELECTION_TIMEOUT,
      leaderLeaseTimeout: 50,
      commitTimeout: 10,
      maxAppendEntries: random.pick([1, 4, 16]),
      maxInflightAppends: random.pick([1, 2, 4]),
      snapshotThreshold: random.pick([8, 16, 32, 64]),
      snapshotLogLimit: 1, // under the threshold: the applied-entry check uses it, every seed runs as before
      trailingLogs: random.pick([0, 2, 8]),
      snapshotInterval: 150,
      // Short enough for a new server that cannot catch up to reach its deadline within a run.
      catchUpTimeout: 300,
    };
    this.maxClockDrift = this.config.maxClockDrift;
    this.schedule = new FaultSchedule(this, options.faultKinds ?? FAULT_KINDS);
  }

  faultsOn(): boolean {
    return this.safetyPhase;
  }

  servers(): readonly SimNode[] {
    return this.nodes;
  }

  violation(message: string): void {
    this.checker.violations.push(`t=${this.scheduler.now} step=${this.steps}: ${message}`);
  }

  onMembershipChange(): void {
    this.membershipChanges++;
  }

  onTransfer(ms: number): void {
    this.transfers.push(ms);
  }

  log(line: string): void {
    this.trace.push(`[${this.scheduler.now}] ${line}`);
    if (this.trace.length > this.traceLength) this.trace.shift();
  }

  async run(): Promise<SimulationResult> {
    const count = this.options.nodes ?? 3;
    const spares = this.options.spares ?? 1;
    const servers: Configuration = { servers: [] };
    const leaderKinds = this.options.leaderKinds ?? LEADER_KINDS;
    for (let i = 1; i <= count + spares; i++) {
      const node: SimNode = {
        id: `n${i}`,
        address: `sim:${i}`,
        durable: new SimMedium(),
        snapshots: new InmemSnapshotStore(),
        disk: null,
        snapshotView: null,
        damaged: false,
        incarnation: 0,
        transport: null,
        raft: null,
        fsm: null,
        alive: false,
        generation: 0,
        clock: null,
        leaderKind: this.random.pick(leaderKinds),
        failNextWrite: () => node.disk?.failNextWrite(),
      };
      this.nodes.push(node);
      if (i <= count)
        servers.servers.push({ id: node.id, address: node.address, suffrage: ServerSuffrage.Voter });
    }
    // Spares start empty: they never campaign until a leader adds them. One seed in four
    // bootstraps the voters live, on running servers (Raft.bootstrapCluster, as `kv serve
    // --bootstrap` does), instead of writing their stores before they start.
    const live = this.options.seed % 4 === 3;
    const voters = this.nodes.slice(0, count);
    for (const node of live ? [] : voters) {
      await bootstrapCluster(
        { ...this.config, localId: node.id },
        node.durable,
        node.durable,
        node.snapshots,
        servers,
      );
    }
    for (const node of this.nodes) await this.start(node);
    // Not awaited: the write completes in virtual time, which runs only once the loop starts.
    for (const node of live ? voters : []) node.raft!.bootstrapCluster(servers).catch(() => {});

    const duration = this.options.duration ?? 6000;
    this.scheduleClient();
    this.schedule.start();
    await this.runUntil(duration);
    if (this.checker.violations.length === 0) await this.liveness(duration);
    // Abandon the processes (virtual time stops here, so a graceful shutdown would wait forever).
    for (const node of this.nodes) if (node.alive) this.crash(node);
    return {
      seed: this.options.seed,
      nodes: count,
      violations: this.checker.violations,
      trace: this.trace,
      steps: this.steps,
      acked: this.checker.ackedCount,
      elections: this.elections,
      snapshotsInstalled: this.snapshotsInstalled,
      membershipChanges: this.membershipChanges,
      readsChecked: this.checker.readsChecked,
      transfers: this.transfers,
      recordsDamaged: this.damage.recordsDamaged,
      damageDetected: this.damageDetected,
      repairs: this.operator.repaired,
      snapshotStreamsCut: this.network.snapshotsCut,
      tailsLost: this.damage.tailsLost,
      virtualMs: this.scheduler.now,
    };
  }

  // ---- the loop ---------------------------------------------------------------------------------

  private async runUntil(time: number, done?: () => boolean): Promise<boolean> {
    // From here on this runs in microtasks, so each settling tick is queued from one (see below).
    await null;
    while (this.checker.violations.length === 0) {
      if (done?.()) return true;
      let ticks = ticksQueued();
      const ran = this.scheduler.step(time);
      // Settle: the work the event started runs to completion (see SETTLE_ROUNDS), inline (an
      // async helper per step was one more promise and frame per step). Our tick runs only once
      // every microtask has run (it is queued from one), and after it only ticks run: a round in
      // which no tick but ours was queued left nothing behind, and further rounds would change
      // nothing (most steps queue none: streams do, in snapshot transfers).
      for (let round = 0; round < SETTLE_ROUNDS; round++) {
        await new Promise<void>(afterTicks);
        if (ticksQueued() === ticks + 1 && !this.options.fullSettle) break;
        ticks = ticksQueued();
      }
      while (this.pending.size > 0) await Promise.all([...this.pending]);
      if (!ran) return done?.() ?? false;
      this.steps++;
      this.checker.check(this.nodes);
      if (this.steps % 64 === 0) this.checker.checkLogMatching(this.nodes);
    }
    return false;
  }

  private async liveness(safetyEnd: number): Promise<void> {
    this.safetyPhase = false;
    this.network.heal();
    this.network.faults = calmNetwork();
    const gapped = this.options.gapBeforeLiveness && this.nodes.find((node) => node.alive);
    if (gapped) await this.damage.gap(gapped);
    // A server that cannot start (a planted bug left its log with a gap) is a finding, not a crash.
    for (const node of this.nodes) if (!node.alive) await this.start(node).catch(this.restartFailed);
    if (this.checker.violations.length > 0) return;
    this.log('liveness phase: healed');
    const electionTimeout = this.config.electionTimeout;
    const leaderBy = safetyEnd + LIVENESS_ELECTION_TIMEOUTS * electionTimeout;
    const leaderFound = await this.runUntil(leaderBy, () => this.leader() !== null);
    if (this.checker.violations.length > 0) return;
    if (!leaderFound) {
      this.checker.violations.push(
        `liveness: no leader within ${LIVENESS_ELECTION_TIMEOUTS} election timeouts after healing`,
      );
      return;
    }
    // One last write from the healed cluster, then everyone must converge on it.
    const leader = this.leader()!;
    this.clientWrite(leader);
    const convergeBy = this.scheduler.now + CONVERGENCE_ELECTION_TIMEOUTS * electionTimeout;
    // A repair under way (a wiped server's old identity out, its new one in) must finish too.
    const converged = await this.runUntil(convergeBy, () => this.converged() && !this.operator.busy());
    this.checker.checkLogMatching(this.nodes);
    if (this.checker.violations.length > 0) return;
    if (!converged) {
      const states = this.nodes
        .filter((n) => n.alive)
        .map(
          (n) =>
            `${n.id}:${RaftState[n.raft!.state]} t${n.raft!.currentTerm()} last=${n.raft!.lastIndex()} commit=${n.raft!.commitIndex()} applied=${n.raft!.appliedIndex()}`,
        );
      this.checker.violations.push(`liveness: logs/FSMs did not converge: ${states.join(', ')}`);
      return;
    }
    // What an operator reads (hashicorp's Stats) agrees with the runtime on every converged server,
    // and reloading its configuration (hashicorp's ReloadConfig) is accepted.
    for (const node of this.nodes) {
      const raft = node.raft;
      raft?.reloadConfig(raft.reloadableConfig());
      const stats = raft?.stats();
      if (
        raft &&
        (stats!.last_log_index !== `${raft.lastIndex()}` || stats!.commit_index !== `${raft.commitIndex()}`)
      )
        this.checker.violations.push(`stats: ${node.id} reports ${JSON.stringify(stats)}`);
    }
    this.checker.checkAcknowledged();
  }

  /** The leader of the highest term (an old one cut off may still believe it leads). */
  leader(): SimNode | null {
    let leader: SimNode | null = null;
    for (const node of this.nodes) {
      if (!node.alive || node.raft!.state !== RaftState.Leader) continue;
      if (!leader || node.raft!.currentTerm() > leader.raft!.currentTerm()) leader = node;
    }
    return leader;
  }

  /** Every member of the leader's configuration holds and has applied the leader's whole log. */
  private converged(): boolean {
    const leader = this.leader();
    if (!leader) return false;
    const target = leader.raft!.lastIndex();
    const { configuration } = leader.raft!.getConfiguration();
    const members = this.nodes.filter((node) =>
      configuration.servers.some((server) => server.id === node.id),
    );
    return members.every(
      (node) =>
        node.alive &&
        node.raft!.lastIndex() === target &&
        node.raft!.appliedIndex() === target &&
        node.fsm!.hash === leader.fsm!.hash &&
        node.fsm!.lastIndex === leader.fsm!.lastIndex,
    );
  }

  // ---- nodes --------------------------------------------------------------------------------------

  private async start(node: SimNode): Promise<void> {
    const generation = ++node.generation;
    const alive = () => node.alive && node.generation === generation;
    const disk = new SimDisk(
      node.durable,
      this.scheduler,
      this.random.fork(),
      { min: 1, max: 4 },
      {
        skipChecksums: this.options.skipChecksums,
        onStore: (entries) => this.checker.checkIntact(`${node.id} stored (was sent)`, entries),
      },
    );
    try {
      disk.open();
    } catch (error) {
      if (!(error instanceof ErrStoreCorrupt)) throw error;
      return this.refused(node, error);
    }
    node.alive = true;
    const clock = this.scheduler.clockFor(alive);
    node.clock = clock;
    this.schedule.skew(node);
    node.disk = disk;
    node.snapshotView = new SimSnapshotStore(node.snapshots, this.scheduler, this.random.fork());
    node.transport = new InmemTransport(this.network, node.address, { clock, timeout: 150 });
    node.fsm = new SimFsm(node.id, this.checker);
    const raft = await Raft.create({
      config: { ...this.config, ...kindConfig(node.leaderKind), localId: node.id },
      fsm: node.fsm,
      logStore: node.disk,
      stableStore: node.disk,
      snapshotStore: node.snapshotView,
      transport: node.transport,
      clock,
      random: this.random.fork(),
      faults: kindFaults(node.leaderKind, this.options.faults),
    });
    node.raft = raft;
    raft.on('snapshotInstalled', () => alive() && this.snapshotsInstalled++);
    raft.on('stateChange', (state: RaftState) => {
      if (!alive()) return;
      this.log(`${node.id} -> ${RaftState[state]} term ${raft.currentTerm()}`);
      if (state === RaftState.Shutdown) {
        // Removed from the cluster (shutdownOnRemove) or fail-stopped by a disk fault: an
        // operator restarts the process later.
        this.crash(node, { tear: false, downMs: this.random.int(50, 500) });
        return;
      }
      if (state === RaftState.Leader) {
        this.elections++;
        this.checker.onLeader(node.id, raft.currentTerm(), node);
        // A new leader's first commit while reads are in flight on the old one.
        const previous = this.lastLeader;
        if (previous && previous !== node && previous.alive && this.safetyPhase) this.readBurst(previous);
        this.lastLeader = node;
      }
    });
    this.checker.onStarted(node);
    this.log(
      `${node.id} started (generation ${generation}) commit=${raft.commitIndex()} applied=${raft.appliedIndex()}`,
    );
  }

  /**
   * `node`'s store refused to open (a record damaged at rest): the operator wipes it and starts it
   * empty under a new identity, then fixes the configuration (SimOperator).
   */
  private async refused(node: SimNode, error: Error): Promise<void> {
    this.damageDetected++;
    node.damaged = false;
    const oldId = node.id;
    this.log(`${oldId} refuses to start: ${error.message}; wiped for repair`);
    node.incarnation++;
    const base = node.address.replace(/r\d+$/, '');
    node.id = `${oldId.replace(/r\d+$/, '')}r${node.incarnation}`;
    node.address = `${base}r${node.incarnation}`;
    node.durable = new SimMedium();
    node.snapshots = new InmemSnapshotStore();
    await this.start(node);
    this.operator.replaced(oldId, node.id, node.address);
  }

  corrupt(node: SimNode, downMs: number | null): void {
    this.damage.corrupt(node, downMs);
  }

  loseTail(node: SimNode, downMs: number): void {
    this.damage.loseTail(node, downMs);
  }

  /**
   * Kills the process: nothing unpersisted survives (with `tear`, the disk write in flight lands
   * torn), nothing it scheduled ever runs. It restarts after `downMs` (the liveness phase also
   * restarts at once whatever is down when it begins).
   */
  crash(node: SimNode, restart?: { tear: boolean; downMs: number }): void {
    if (!node.alive) return;
    node.alive = false;
    node.disk!.crash(restart?.tear ?? false);
    node.snapshotView!.alive = false;
    this.network.unregister(node.transport!);
    this.log(`${node.id} crashed${restart?.tear ? ' (torn write)' : ''}`);
    node.raft = null;
    node.fsm = null;
    node.clock = null;
    if (!restart) return;
    const generationAtCrash = node.generation;
    this.scheduler.after(restart.downMs, () => {
      if (!node.alive && node.generation === generationAtCrash) this.track(this.start(node));
    });
  }

  /** A granted vote leaving its voter: the checker compares it with what the voter's disk holds. */
  private onResponse(from: ServerAddress, request: RaftRequest, response: RaftResponse): void {
    if (request.kind !== 'requestVote' || !(response as { granted?: boolean }).granted) return;
    const voter = this.nodes.find((node) => node.address === from);
    if (!voter) return;
    // The disk only changes in scheduled events, so this read sees it as of the grant.
    this.track(
      readHardState(voter.durable).then((durable) =>
        this.checker.onVoteGranted(voter.id, request.term, request.candidate, durable),
      ),
    );
  }

  // ---- workload -----------------------------------------------------------------------------------

  private scheduleClient(): void {
    this.scheduler.after(this.random.int(2, 20), () => {
      if (!this.safetyPhase) return;
      // Mostly to the leader (where writes succeed); sometimes anywhere, to exercise refusals.
      const node = (this.random.chance(0.85) && this.leader()) || this.random.pick(this.nodes);
      if (node.alive) {
        if (this.random.chance(0.3)) this.clientRead(node);
        else this.clientWrite(node);
      }
      this.scheduleClient();
    });
  }

  private clientWrite(node: SimNode): void {
    const payloadValue = `${this.options.seed}-${++this.clientSeq}`;
    const data = encodeCommand({ key: `k${this.random.int(0, 4)}`, value: payloadValue });
    const payload = new TextDecoder().decode(data);
    node.raft!.apply(data, { timeout: 400 }).then(
      (result) => this.checker.onAcked(result.index, payload),
      () => {},
    );
  }

  /** Reads of both kinds at once on `node` (read index and, on a leader, lease). */
  readBurst(node: SimNode): void {
    if (node.alive) this.clientRead(node, false);
    if (node.alive) this.clientRead(node, true);
  }

  /** A linearizable read: read index, then the local register once applied up to it. */
  private clientRead(node: SimNode, lease = this.random.chance(0.3)): void {
    const key = `k${this.random.int(0, 4)}`;
    const floor = this.checker.readFloor(key);
    const fsm = node.fsm!;
    node.raft!.readIndex({ timeout: 400, lease }).then(
      () => this.checker.onRead(node.id, key, fsm.registers.get(key), floor),
      () => {},
    );
  }

  private readonly restartFailed = (error: Error): void => {
    this.checker.violations.push(`restart failed: ${error.message}`);
  };

  private track(started: Promise<unknown>): void {
    const promise = started.catch(this.restartFailed);
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise));
  }
}
