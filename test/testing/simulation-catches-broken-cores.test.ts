/**
 * The simulator is only worth something if it catches real bugs. The planted-bug campaign
 * (`npm run sim:campaign`) runs every bug for up to 2,000 seeds; this runs a sample of it that
 * is caught within a few seeds, one bug per rule family, so it stays fast.
 */
import { describe, expect, it } from 'vitest';
import { PLANTED_BUGS, runCampaign } from '../../src/testing/planted-bugs.js';
import { runSimulation } from '../../src/testing/simulation.js';

/** Bugs the campaign catches within a few seeds, with the invariant family that must catch them. */
const SAMPLE: [string, RegExp][] = [
  ['voteTwice', /election safety/],
  ['skipPrevLogCheck', /commit rule|committed entries agree|log matching/],
  ['followerCommitToLastIndex', /committed entries agree|log matching|state machine safety/],
  ['readWithoutConfirm', /stale read/],
  ['followerReadWithoutApply', /stale read/],
];

describe('planted-bug campaign (sample)', () => {
  it('lists at least 15 distinct bugs over every rule family', () => {
    expect(new Set(PLANTED_BUGS.map((bug) => bug.name)).size).toBeGreaterThanOrEqual(15);
    const families = new Set(PLANTED_BUGS.map((bug) => bug.rule.split(':')[0]));
    for (const family of ['elections', 'votes', 'log matching', 'truncation', 'snapshots', 'membership'])
      expect(families).toContain(family);
  });

  it('catches each sampled bug within 40 seeds, by the invariant that guards its rule', async () => {
    const bugs = PLANTED_BUGS.filter((bug) => SAMPLE.some(([name]) => name === bug.name));
    const rows = await runCampaign({ seeds: 40, bugs });
    for (const [name, invariant] of SAMPLE) {
      const row = rows.find((candidate) => candidate.bug.name === name)!;
      expect({ name, seed: row.seed }).not.toEqual({ name, seed: null });
      expect(row.caughtBy).toMatch(invariant);
    }
  }, 600_000);

  it('catches the lease bugs within 80 seeds (missed in 2,000 before the schedules aimed at a lease end)', async () => {
    const names = ['leaseWithoutDriftMargin', 'leaseDuringTransfer'];
    const rows = await runCampaign({
      seeds: 80,
      bugs: PLANTED_BUGS.filter((bug) => names.includes(bug.name)),
    });
    expect(rows.map((row) => row.bug.name)).toEqual(names);
    for (const row of rows) {
      expect({ name: row.bug.name, seed: row.seed }).not.toEqual({ name: row.bug.name, seed: null });
      expect(row.caughtBy).toMatch(/stale read/);
    }
  }, 600_000);

  // Skipped: pinned to a seed, and since the merges of this round (simulator coverage faults, the
  // disk's group commit, the core's vote and removal rules) seed 265 no longer reaches the path,
  // nor does any of seeds 1-600 with 3 nodes or 1-500 with 5. The guard it checked (simulation.ts,
  // liveness: a failed restart is a `restart failed` violation) stays; it needs a seed-free
  // trigger (a simulated store that fails to open in the liveness phase) before it can run again.
  it.skip('reports a server that cannot start when the liveness phase restarts it, instead of throwing', async () => {
    // snapshotKeepsStaleLog leaves a log with a gap; on seed 265 the server that holds it is down
    // when the liveness phase begins, and its start fails reading the log (this threw out of
    // runSimulation and stopped the whole campaign).
    const result = await runSimulation({ seed: 265, nodes: 3, faults: { snapshotKeepsStaleLog: true } });
    expect(result.violations).toEqual(['restart failed: log not found']);
  });

  it('replays a seed exactly', async () => {
    const first = await runSimulation({ seed: 42, nodes: 5 });
    const second = await runSimulation({ seed: 42, nodes: 5 });
    expect(second.steps).toBe(first.steps);
    expect(second.trace).toEqual(first.trace);
    expect(second.acked).toBe(first.acked);
  });
});
