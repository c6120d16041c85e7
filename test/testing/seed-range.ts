/** Shared body of the simulator seed-range tests (split in files so vitest runs them in parallel). */
import { expect, it } from 'vitest';
import { replayCommand, runSeeds } from '../../src/testing/run-seeds.js';

export function seedRangeTest(firstSeed: number, seeds: number): void {
  it(`seeds ${firstSeed}..${firstSeed + seeds - 1} (3 and 5 nodes, all faults) keep every invariant`, async () => {
    const summary = await runSeeds({ firstSeed, seeds });
    const report = summary.failures.map(
      (failure) =>
        `${failure.violations[0]}\n  replay: ${replayCommand(failure, {})}\n  ${failure.trace.join('\n  ')}`,
    );
    expect(report).toEqual([]);
    expect(summary.seedsRun).toBe(seeds);
    // The runs must actually do something: elections happened and writes were acknowledged.
    expect(summary.elections).toBeGreaterThanOrEqual(seeds);
    expect(summary.acked).toBeGreaterThan(seeds * 10);
    // ...and the scenarios the issues name happened: snapshots sent to followers, membership
    // churn, leadership transfers, linearizable reads checked against the write history.
    expect(summary.snapshotsInstalled).toBeGreaterThan(seeds);
    expect(summary.membershipChanges).toBeGreaterThan(seeds / 10);
    expect(summary.transfers.length).toBeGreaterThan(seeds / 10);
    expect(summary.readsChecked).toBeGreaterThan(seeds * 10);
  }, 600_000);
}
