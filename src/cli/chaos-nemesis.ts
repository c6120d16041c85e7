/**
 * The nemesis of a `raftkit chaos` run: seeded faults, several at once, each healed after a while.
 *
 * Every few hundred ms it draws a fault kind and starts it if it can (at most `maxActive` at a
 * time; a server is the victim of one fault at a time; one network fault and one membership change
 * at a time; a whole-cluster crash only when nothing else is active). A fault runs as its own task:
 * it injects, waits, heals, and logs both as events ("t+1234ms kill -9 n2 (leader)").
 */
import { sleep, type Clock } from '../index.js';
import type { ClockSkew } from '../testing/skewed-clock.js';
import type { SeededRandom } from '../testing/prng.js';
import {
  JOIN_TIMEOUT_MS,
  JSON_HEADERS,
  RESTART_TIMEOUT_MS,
  type ChaosCluster,
  type ChaosMember,
} from './chaos-cluster.js';
import { DiskFaults, type DiskAction } from './chaos-disk.js';

/**
 * kill: SIGKILL one server (the leader half the time), restart it; pause: SIGSTOP, then SIGCONT;
 * isolate: cut one server off; partition: a majority/minority split or a bridge (two halves that
 * only one server sees both of); crash: SIGKILL every server at once, restart them all;
 * membership: remove a member and re-add it empty, replace it with a new server, or transfer
 * leadership; clock: jump a server's clock forward and run it fast or slow; disk: fsync failures,
 * torn writes and read errors under one server's stores.
 */
export type ChaosFault =
  'kill' | 'pause' | 'isolate' | 'partition' | 'crash' | 'membership' | 'clock' | 'disk';
export const CHAOS_FAULTS: readonly ChaosFault[] = [
  'kill',
  'pause',
  'isolate',
  'partition',
  'crash',
  'membership',
  'clock',
  'disk',
];

export interface NemesisOptions {
  faults: readonly ChaosFault[];
  random: SeededRandom;
  clock: Clock;
  /** Logs one line of the schedule. */
  event: (line: string) => void;
  /** Faults active at once (default 2). */
  maxActive?: number;
  /** The disk faults to take turns with (default all of DISK_ACTIONS). */
  diskActions?: readonly DiskAction[];
}

export class Nemesis {
  /** Faults started, by kind. */
  readonly injected: Partial<Record<ChaosFault, number>> = {};
  private readonly busy = new Set<ChaosMember>();
  /** Servers killed or paused right now: at most a minority, so that the cluster can still serve. */
  private readonly down = new Set<ChaosMember>();
  private readonly active = new Set<Promise<void>>();
  private networkBusy = false;
  /** A whole-cluster crash runs alone: nothing else starts until every server answers again. */
  private crashing = false;
  private membershipBusy = false;
  private membershipChanges = 0;
  /** The disk faults (chaos-disk.ts) and what they found. */
  readonly disk: DiskFaults;

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly options: NemesisOptions,
  ) {
    for (const fault of options.faults) this.injected[fault] = 0;
    this.disk = new DiskFaults(cluster, options.clock, options.event, options.diskActions);
  }

  /** Starts faults until `until` (on the clock), then waits for every active one to heal. */
  async run(until: number): Promise<void> {
    const { clock, random } = this.options;
    const maxActive = this.options.maxActive ?? 2;
    while (clock.now() < until) {
      await sleep(clock, random.int(500, 2500));
      // Drawn whether or not it starts, so that the draws do not depend on timing.
      const fault = random.pick(this.options.faults);
      const forked = random.fork();
      if (clock.now() >= until || this.active.size >= maxActive) continue;
      const task = this.start(fault, forked);
      if (task === null) continue;
      this.injected[fault]! += 1;
      const tracked: Promise<void> = task.finally(() => this.active.delete(tracked));
      this.active.add(tracked);
    }
    await Promise.all([...this.active]);
  }

  /** The fault's task, or null when it cannot start now. */
  private start(fault: ChaosFault, random: SeededRandom): Promise<void> | null {
    const downFor = random.int(500, 3000);
    if (this.crashing) return null;
    switch (fault) {
      case 'crash':
        if (this.active.size > 0) return null;
        this.crashing = true;
        return this.crash(downFor).finally(() => (this.crashing = false));
      case 'isolate':
      case 'partition':
        if (this.networkBusy) return null;
        this.networkBusy = true;
        return this.partition(fault, random, downFor).finally(() => (this.networkBusy = false));
      case 'membership':
        // Only with every server idle: a membership change with one down can leave no quorum.
        if (this.membershipBusy || this.busy.size > 0) return null;
        this.membershipBusy = true;
        return this.membership(random, downFor).finally(() => (this.membershipBusy = false));
      case 'disk':
        return this.diskFault(random, downFor);
      default: {
        const victims = this.cluster.members.filter(
          (member) => member.process.running && !this.busy.has(member),
        );
        if (victims.length === 0) return null;
        return this.onOne(fault, random, victims, downFor);
      }
    }
  }

  private event(line: string): void {
    this.options.event(line);
  }

  private async onOne(
    fault: 'kill' | 'pause' | 'clock',
    random: SeededRandom,
    victims: ChaosMember[],
    downFor: number,
  ): Promise<void> {
    const leader = random.chance(0.5) ? await this.cluster.leader() : null;
    const victim = leader !== null && victims.includes(leader) ? leader : random.pick(victims);
    if (this.busy.has(victim)) return; // taken while the leader was looked up
    this.busy.add(victim);
    if (fault !== 'clock') this.down.add(victim);
    const name = `${victim.spec.id}${victim === leader ? ' (leader)' : ''}`;
    try {
      if (fault === 'kill') {
        this.event(`kill -9 ${name}`);
        victim.process.signal('SIGKILL');
        await victim.process.exited();
        await sleep(this.options.clock, downFor);
        if (this.cluster.members.includes(victim)) victim.process.start();
        this.event(`restart ${victim.spec.id}`);
        const up = await this.cluster.untilUp(victim, RESTART_TIMEOUT_MS);
        this.event(
          `${victim.spec.id} ${up ? 'is up' : `is not up (${victim.process.lastExit ?? 'no answer'})`}`,
        );
      } else if (fault === 'pause') {
        this.event(`pause ${name} (SIGSTOP)`);
        victim.process.signal('SIGSTOP');
        await sleep(this.options.clock, downFor);
        victim.process.signal('SIGCONT');
        this.event(`resume ${victim.spec.id}`);
      } else {
        const skew: ClockSkew = {
          jumpMs: random.int(0, 3000),
          wallJumpMs: random.int(-60_000, 60_000),
          rate: random.pick([0.5, 0.8, 1.25, 2]),
        };
        this.event(`clock ${name}: now +${skew.jumpMs}ms, wall ${skew.wallJumpMs}ms, rate ${skew.rate}`);
        victim.process.send({ raftkitClock: skew });
        await sleep(this.options.clock, downFor);
        victim.process.send({ raftkitClock: { rate: 1 } });
        this.event(`clock ${victim.spec.id}: rate 1`);
      }
    } finally {
      this.busy.delete(victim);
      this.down.delete(victim);
    }
  }

  /** A disk fault on one server; a damaged log's repair is a membership change, so it runs alone. */
  private diskFault(random: SeededRandom, downFor: number): Promise<void> | null {
    const repairs = this.disk.peek() === 'corrupt';
    if (repairs && (this.membershipBusy || this.busy.size > 0)) return null;
    const victims = this.cluster.members.filter((member) => member.process.running && !this.busy.has(member));
    if (victims.length === 0) return null;
    const victim = random.pick(victims);
    this.busy.add(victim);
    if (repairs) this.membershipBusy = true;
    return this.disk.inject(victim, downFor).finally(() => {
      this.busy.delete(victim);
      if (repairs) this.membershipBusy = false;
    });
  }

  private async crash(downFor: number): Promise<void> {
    this.event('kill -9 every server');
    const members = [...this.cluster.members];
    for (const member of members) member.process.signal('SIGKILL');
    await Promise.all(members.map((member) => member.process.exited()));
    await sleep(this.options.clock, downFor);
    for (const member of members) member.process.start();
    this.event('restart every server');
    await Promise.all(members.map((member) => this.cluster.untilUp(member, RESTART_TIMEOUT_MS)));
  }

  /** isolate: one server alone; partition: a random majority/minority split, or a bridge. */
  private async partition(
    fault: 'isolate' | 'partition',
    random: SeededRandom,
    downFor: number,
  ): Promise<void> {
    const ids = shuffled(
      random,
      this.cluster.members.map((member) => member.spec.id),
    );
    if (fault === 'isolate' && random.chance(0.5)) {
      // Half the time the leader, as kill and pause do: an isolated leader that still answers is
      // where lost acknowledged writes and stale reads show (a random pick finds it one time in n).
      const leader = (await this.cluster.leader())?.spec.id;
      if (leader !== undefined && ids.includes(leader)) ids.unshift(...ids.splice(ids.indexOf(leader), 1));
    }
    const blocked = new Map<string, string[]>();
    const cut = (sideA: string[], sideB: string[]) => {
      for (const a of sideA) blocked.set(a, [...(blocked.get(a) ?? []), ...sideB]);
      for (const b of sideB) blocked.set(b, [...(blocked.get(b) ?? []), ...sideA]);
    };
    let description: string;
    if (fault === 'isolate') {
      cut(ids.slice(0, 1), ids.slice(1));
      description = `isolate ${ids[0]}`;
    } else if (ids.length >= 3 && random.chance(0.4)) {
      const bridge = ids[0];
      const rest = ids.slice(1);
      const half = Math.floor(rest.length / 2);
      cut(rest.slice(0, half), rest.slice(half));
      description = `bridge partition ${rest.slice(0, half).join(',')} | ${rest.slice(half).join(',')} via ${bridge}`;
    } else {
      const minority = random.int(1, Math.floor((ids.length - 1) / 2) + 1);
      cut(ids.slice(0, minority), ids.slice(minority));
      description = `partition ${ids.slice(0, minority).join(',')} | ${ids.slice(minority).join(',')}`;
    }
    this.event(description);
    await this.cluster.network(blocked);
    await sleep(this.options.clock, downFor);
    await this.cluster.network(new Map());
    this.event('heal network');
  }

  /**
   * Replace a member with a new server, remove one and re-add it empty, or transfer leadership, in
   * turn (so that a short run sees each).
   */
  private async membership(random: SeededRandom, downFor: number): Promise<void> {
    const action = (['replace', 'readd', 'transfer'] as const)[this.membershipChanges++ % 3];
    if (action === 'transfer') {
      const leader = await this.cluster.leader();
      if (leader === null) return this.event('transfer leadership: no leader');
      const outcome = await this.cluster.request(leader, 'POST', '/cluster/transfer', {
        body: '{}',
        headers: JSON_HEADERS,
      });
      this.event(
        `transfer leadership from ${leader.spec.id}: ${'status' in outcome ? outcome.status : outcome.error}`,
      );
      return;
    }
    const victim = random.pick(this.cluster.members);
    this.busy.add(victim);
    let joined: ChaosMember | undefined;
    try {
      const { removed, answer } = await this.cluster.remove(victim);
      this.event(`remove ${victim.spec.id}: ${removed ? 'removed' : 'still a member'} (${answer})`);
      if (!removed) return;
      await sleep(this.options.clock, downFor);
      joined = await this.cluster.join(action === 'readd' ? victim : null);
      // A joining server is this fault's until it is a member (no other fault's victim meanwhile).
      this.busy.add(joined);
      this.event(
        `${action === 'readd' ? 're-add' : `replace ${victim.spec.id} with`} ${joined.spec.id} (empty, --join)`,
      );
      const configured = await this.cluster.untilConfigured(joined.spec.id, JOIN_TIMEOUT_MS);
      this.event(`${joined.spec.id} ${configured ? 'is a member' : 'not a member yet'}`);
    } finally {
      this.busy.delete(victim);
      if (joined !== undefined) this.busy.delete(joined);
    }
  }
}

function shuffled<T>(random: SeededRandom, items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = random.int(0, i + 1);
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}
