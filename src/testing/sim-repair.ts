/**
 * The simulated operator's repair of a server whose log was found damaged (ErrStoreCorrupt), the
 * way `raftkit chaos` repairs a real one (chaos-disk.ts): its data is wiped and it comes back empty
 * under a new identity (as etcd re-adds a member under a new ID, so that no message meant for the
 * old one reaches it), the old identity is removed from the configuration and the new one added,
 * through whoever leads, while the workload runs on.
 */
import { ServerSuffrage } from '../core/types.js';
import type { SeededRandom } from './prng.js';
import type { Scheduler } from './scheduler.js';
import type { FaultNode } from './sim-faults.js';

/** What the operator needs from the simulation. */
export interface RepairHost {
  readonly random: SeededRandom;
  readonly scheduler: Scheduler;
  leader(): FaultNode | null;
  log(line: string): void;
}

/** How long a membership change of the repair may wait, in virtual ms. */
const CHANGE_TIMEOUT = 600;

/** Carries out repairs one membership change at a time until the configuration is whole again. */
export class SimOperator {
  /** Old identities still in the configuration. */
  private readonly removals = new Set<string>();
  /** New identities (id -> address) not yet in it. */
  private readonly additions = new Map<string, string>();
  /** The latest wake-up scheduled (earlier ones are stale). */
  private wake = 0;
  /** Repairs whose configuration changes all committed. */
  repaired = 0;

  constructor(private readonly host: RepairHost) {}

  /** Whether a repair is still under way (another damaged member now could leave no quorum). */
  busy(): boolean {
    return this.removals.size + this.additions.size > 0;
  }

  /** `oldId`'s data was wiped; it now runs empty as `id` at `address`. */
  replaced(oldId: string, id: string, address: string): void {
    this.removals.add(oldId);
    this.additions.set(id, address);
    this.later();
  }

  /** Looks again after `ms` (any earlier call to later is superseded). */
  private later(ms = this.host.random.int(20, 80)): void {
    if (!this.busy()) return;
    const wake = ++this.wake;
    this.host.scheduler.after(ms, () => {
      if (wake === this.wake) this.next();
    });
  }

  /** The next change the leader's configuration still needs: old identities out first, then new ones in. */
  private next(): void {
    const leader = this.host.leader();
    if (!leader) return this.later();
    const raft = leader.raft!;
    const members = raft.getConfiguration().configuration.servers;
    const suffrage = (id: string) => members.find((server) => server.id === id)?.suffrage;
    for (const id of this.removals) if (suffrage(id) === undefined) this.removals.delete(id);
    for (const id of this.additions.keys())
      if (suffrage(id) === ServerSuffrage.Voter) this.additions.delete(id);
    const old = this.removals.values().next().value;
    const added = this.additions.entries().next().value;
    let change: Promise<number>;
    let what: string;
    if (old !== undefined) {
      change = raft.removeServer(old, 0, CHANGE_TIMEOUT);
      what = `removeServer ${old}`;
    } else if (added !== undefined && suffrage(added[0]) === undefined) {
      // A non-voter first, then promoted: a failed catch-up of addVoter would remove the new server
      // again, and a server that learns of its own removal stops (shutdownOnRemove).
      change = raft.addNonvoter(added[0], added[1], 0, CHANGE_TIMEOUT);
      what = `addNonvoter ${added[0]}`;
    } else if (added !== undefined) {
      change = raft.addVoter(added[0], added[1], 0, CHANGE_TIMEOUT);
      what = `promote ${added[0]}`;
    } else {
      this.repaired++;
      return this.host.log('operator: repair done');
    }
    this.host.log(`operator (repair): ${leader.id}: ${what}`);
    change.then(
      (index) => {
        this.host.log(`operator (repair): ${what} committed at ${index}`);
        this.later();
      },
      () => this.later(),
    );
    // A leader that crashes never settles its promises: look again after the change's timeout anyway.
    this.later(CHANGE_TIMEOUT + 100);
  }
}
