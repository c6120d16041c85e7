/**
 * The seeded cluster simulator: N real Raft runtimes in one process under virtual time, with a
 * simulated network and disk, random faults, crashes and client traffic. A safety phase with
 * faults is followed by a liveness phase (everything healed): a leader must emerge within a bounded
 * number of election timeouts and every log and FSM must converge. The same seed replays the same run.
 */
import type { CoreFaults } from '../core/raft.js';
import { ServerSuffrage, RaftState, type Configuration } from '../core/types.js';
import { bootstrapCluster } from '../raft/bootstrap.js';
import { defaultConfig, type Config } from '../raft/config.js';
import { Raft } from '../raft/raft.js';
import { InmemStore } from '../storage/inmem.js';
import { InmemSnapshotStore } from '../storage/inmem-snapshot.js';
import { InmemTransport } from '../transport/inmem.js';
import { SafetyChecker, type CheckedNode } from './checker.js';
import { SeededRandom } from './prng.js';
import { Scheduler } from './scheduler.js';
import { SimDisk } from './sim-disk.js';
import { encodeCommand, SimFsm } from './sim-fsm.js';
import { calmNetwork, SimNetwork } from './sim-network.js';

export interface SimulationOptions {
  seed: number;
  nodes?: number;
  /** Virtual milliseconds of the safety phase. */
  duration?: number;
  /** Deliberate core bugs (to show the checker catches them). */
  faults?: CoreFaults;
  /** Events kept for the trace of a failing seed. */
  traceLength?: number;
}

export interface SimulationResult {
  seed: number;
  nodes: number;
  violations: string[];
  trace: string[];
  steps: number;
  acked: number;
  elections: number;
  snapshotsInstalled: number;
  virtualMs: number;
}

interface SimNode extends CheckedNode {
  address: string;
  durable: InmemStore;
  snapshots: InmemSnapshotStore;
  disk: SimDisk | null;
  transport: InmemTransport | null;
  alive: boolean;
  generation: number;
}

/** Election timeouts allowed after healing for a leader to emerge. */
const LIVENESS_ELECTION_TIMEOUTS = 20;
/** Further election timeouts allowed for every server to converge. */
const CONVERGENCE_ELECTION_TIMEOUTS = 40;

export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  return new Simulation(options).run();
}

class Simulation {
  private readonly random: SeededRandom;
  private readonly scheduler = new Scheduler();
  private readonly network: SimNetwork;
  private readonly checker: SafetyChecker;
  private readonly nodes: SimNode[] = [];
  private readonly config: Config;
  private readonly trace: string[] = [];
  private readonly traceLength: number;
  private steps = 0;
  private clientSeq = 0;
  private elections = 0;
  private snapshotsInstalled = 0;
  private faultsOn = true;
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly options: SimulationOptions) {
    this.random = new SeededRandom(options.seed);
    this.network = new SimNetwork(this.scheduler, this.random.fork());
    this.traceLength = options.traceLength ?? 40;
    this.checker = new SafetyChecker(() => `t=${this.scheduler.now} step=${this.steps}`);
    const random = this.random;
    this.config = {
      ...defaultConfig(),
      heartbeatTimeout: 100,
      electionTimeout: 100,
      leaderLeaseTimeout: 50,
      commitTimeout: 10,
      maxAppendEntries: random.pick([1, 4, 16]),
      maxInflightAppends: random.pick([1, 2, 4]),
      snapshotThreshold: random.pick([8, 16, 32, 64]),
      trailingLogs: random.pick([0, 2, 8]),
      snapshotInterval: 150,
    };
  }

  private log(line: string): void {
    this.trace.push(`[${this.scheduler.now}] ${line}`);
    if (this.trace.length > this.traceLength) this.trace.shift();
  }

  async run(): Promise<SimulationResult> {
    const count = this.options.nodes ?? 3;
    const servers: Configuration = { servers: [] };
    for (let i = 1; i <= count; i++) {
      const node: SimNode = {
        id: `n${i}`,
        address: `sim:${i}`,
        durable: new InmemStore(),
        snapshots: new InmemSnapshotStore(),
        disk: null,
        transport: null,
        raft: null,
        fsm: null,
        alive: false,
        generation: 0,
      };
      this.nodes.push(node);
      servers.servers.push({ id: node.id, address: node.address, suffrage: ServerSuffrage.Voter });
    }
    for (const node of this.nodes) {
      await bootstrapCluster(
        { ...this.config, localId: node.id },
        node.durable,
        node.durable,
        node.snapshots,
        servers,
      );
    }
    for (const node of this.nodes) await this.start(node);

    const duration = this.options.duration ?? 6000;
    this.scheduleClient();
    this.scheduleFault();
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
      virtualMs: this.scheduler.now,
    };
  }

  // ---- the loop ---------------------------------------------------------------------------------

  private async runUntil(time: number, done?: () => boolean): Promise<boolean> {
    while (this.checker.violations.length === 0) {
      if (done?.()) return true;
      const ran = this.scheduler.step(time);
      await settle();
      while (this.pending.size > 0) await Promise.all([...this.pending]);
      if (!ran) return done?.() ?? false;
      this.steps++;
      this.checker.check(this.nodes);
      if (this.steps % 64 === 0) this.checker.checkLogMatching(this.nodes);
    }
    return false;
  }

  private async liveness(safetyEnd: number): Promise<void> {
    this.faultsOn = false;
    this.network.heal();
    this.network.faults = calmNetwork();
    for (const node of this.nodes) if (!node.alive) await this.start(node);
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
    const converged = await this.runUntil(convergeBy, () => this.converged());
    this.checker.checkLogMatching(this.nodes);
    if (this.checker.violations.length > 0) return;
    if (!converged) {
      const states = this.nodes.map(
        (n) =>
          `${n.id}:${RaftState[n.raft!.state]} t${n.raft!.currentTerm()} last=${n.raft!.lastIndex()} commit=${n.raft!.commitIndex()} applied=${n.raft!.appliedIndex()}`,
      );
      this.checker.violations.push(`liveness: logs/FSMs did not converge: ${states.join(', ')}`);
      return;
    }
    this.checker.checkAcknowledged();
  }

  private leader(): SimNode | null {
    return this.nodes.find((node) => node.alive && node.raft!.state === RaftState.Leader) ?? null;
  }

  private converged(): boolean {
    const first = this.nodes[0];
    const leader = this.leader();
    if (!leader) return false;
    const target = leader.raft!.lastIndex();
    return this.nodes.every(
      (node) =>
        node.alive &&
        node.raft!.lastIndex() === target &&
        node.raft!.appliedIndex() === target &&
        node.fsm!.hash === first.fsm!.hash &&
        node.fsm!.lastIndex === first.fsm!.lastIndex,
    );
  }

  // ---- nodes --------------------------------------------------------------------------------------

  private async start(node: SimNode): Promise<void> {
    const generation = ++node.generation;
    const alive = () => node.alive && node.generation === generation;
    node.alive = true;
    const clock = this.scheduler.clockFor(alive);
    node.disk = new SimDisk(node.durable, this.scheduler, this.random.fork(), { min: 1, max: 4 });
    node.transport = new InmemTransport(this.network, node.address, { clock, timeout: 150 });
    node.fsm = new SimFsm(node.id, this.checker);
    const raft = await Raft.create({
      config: { ...this.config, localId: node.id },
      fsm: node.fsm,
      logStore: node.disk,
      stableStore: node.disk,
      snapshotStore: node.snapshots,
      transport: node.transport,
      clock,
      random: this.random.fork(),
      faults: this.options.faults,
    });
    node.raft = raft;
    raft.on('snapshotInstalled', () => alive() && this.snapshotsInstalled++);
    raft.on('stateChange', (state: RaftState) => {
      if (!alive()) return;
      this.log(`${node.id} -> ${RaftState[state]} term ${raft.currentTerm()}`);
      if (state === RaftState.Leader) {
        this.elections++;
        this.checker.onLeader(node.id, raft.currentTerm(), node);
      }
    });
    this.checker.onStarted(node);
    this.log(
      `${node.id} started (generation ${generation}) commit=${raft.commitIndex()} applied=${raft.appliedIndex()}`,
    );
  }

  /** Kills the process: nothing unpersisted survives, nothing it scheduled ever runs. */
  private crash(node: SimNode): void {
    node.alive = false;
    node.disk!.alive = false;
    this.network.unregister(node.transport!);
    this.log(`${node.id} crashed`);
    node.raft = null;
    node.fsm = null;
  }

  // ---- workload -----------------------------------------------------------------------------------

  private scheduleClient(): void {
    this.scheduler.after(this.random.int(2, 20), () => {
      if (!this.faultsOn) return;
      // Mostly to the leader (where writes succeed); sometimes anywhere, to exercise refusals.
      const node = (this.random.chance(0.85) && this.leader()) || this.random.pick(this.nodes);
      if (node.alive) this.clientWrite(node);
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

  // ---- faults -------------------------------------------------------------------------------------

  private scheduleFault(): void {
    this.scheduler.after(this.random.int(50, 400), () => {
      if (!this.faultsOn) return;
      this.injectFault();
      this.scheduleFault();
    });
  }

  private injectFault(): void {
    const random = this.random;
    const addresses = this.nodes.map((node) => node.address);
    const roll = random.int(0, 10);
    switch (roll) {
      case 0:
      case 1: {
        const shuffled = addresses.slice().sort(() => random.next() - 0.5);
        const cut = random.int(1, shuffled.length);
        this.network.heal();
        this.network.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
        this.log(`partition ${shuffled.slice(0, cut).join(',')} | ${shuffled.slice(cut).join(',')}`);
        return;
      }
      case 2: {
        const from = random.pick(addresses);
        const to = random.pick(addresses.filter((a) => a !== from));
        this.network.cutLink(from, to);
        this.log(`one-way cut ${from} -> ${to}`);
        return;
      }
      case 3: {
        const leader = this.leader();
        if (!leader) return;
        this.network.heal();
        this.network.partition([[leader.address], addresses.filter((a) => a !== leader.address)]);
        this.log(`isolate leader ${leader.id}`);
        return;
      }
      case 4:
        this.network.heal();
        this.log('heal');
        return;
      case 5: {
        this.network.faults = {
          loss: random.pick([0, 0.05, 0.2]),
          duplicate: random.pick([0, 0.05, 0.2]),
          reorder: random.pick([0, 0.05, 0.2]),
          minLatency: 1,
          maxLatency: random.pick([3, 10, 30]),
        };
        this.log(`network ${JSON.stringify(this.network.faults)}`);
        return;
      }
      case 6:
      case 7:
      case 8: {
        // Leaders crash more often than others: that is where commit-rule bugs hide.
        const live = this.nodes.filter((n) => n.alive);
        const node = (roll === 8 && this.leader()) || random.pick(live);
        if (!node) return;
        this.crash(node);
        this.scheduler.after(random.int(20, 600), () => {
          if (!node.alive && this.faultsOn) this.track(this.start(node));
        });
        return;
      }
      default:
        return;
    }
  }

  private track(promise: Promise<unknown>): void {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise));
  }
}

/** Lets every microtask and nextTick that the last event started run to completion. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
