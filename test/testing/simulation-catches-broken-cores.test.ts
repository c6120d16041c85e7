/**
 * The simulator is only worth something if it catches real bugs: each deliberately broken core
 * variant (switched on by a test-only fault flag) must be caught within 500 seeds.
 */
import { describe, expect, it } from 'vitest';
import type { CoreFaults } from '../../src/core/raft.js';
import { runSeeds } from '../../src/testing/run-seeds.js';
import { runSimulation } from '../../src/testing/simulation.js';

const brokenVariants: [keyof CoreFaults, string][] = [
  ['commitPreviousTermEntries', 'commit by counting replicas of earlier-term entries (paper figure 8)'],
  ['voteWithoutPersist', 'grant a vote without persisting it'],
  ['skipUpToDateCheck', 'grant votes without the log up-to-date check'],
  ['readWithoutConfirm', 'answer reads without confirming leadership'],
];

describe('simulator sharpness', () => {
  for (const [fault, description] of brokenVariants) {
    it(`catches a core that would ${description} within 500 seeds`, async () => {
      const summary = await runSeeds({ seeds: 500, faults: { [fault]: true }, stopOnFailure: true });
      expect(summary.failures).toHaveLength(1);
      expect(summary.failures[0].violations[0]).toMatch(
        /safety|completeness|committed|lost|went back|stale read/,
      );
    }, 600_000);
  }

  it('replays a seed exactly', async () => {
    const first = await runSimulation({ seed: 42, nodes: 5 });
    const second = await runSimulation({ seed: 42, nodes: 5 });
    expect(second.steps).toBe(first.steps);
    expect(second.trace).toEqual(first.trace);
    expect(second.acked).toBe(first.acked);
  });
});
