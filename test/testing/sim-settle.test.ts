/**
 * The simulator settles each step by rounds of process.nextTick, and stops after the first round
 * in which nothing but its own tick was queued. That shortcut must change no run: the same seeds
 * run with every round (the test-only `fullSettle`) must replay step for step. Settling one round
 * too few does change these seeds (stream hops of a snapshot transfer spill into the next step).
 */
import { describe, expect, it } from 'vitest';
import { runSimulation } from '../../src/testing/simulation.js';

describe('simulator settling', () => {
  it('stopping once a round queued no other tick gives the same runs as settling every round', async () => {
    for (const seed of [1, 3]) {
      const early = await runSimulation({ seed, traceLength: 100_000 });
      const full = await runSimulation({ seed, traceLength: 100_000, fullSettle: true });
      expect(early.violations, `seed ${seed}`).toEqual([]);
      expect(early.snapshotsInstalled, `seed ${seed}`).toBeGreaterThan(0);
      expect({ seed, steps: early.steps, acked: early.acked, reads: early.readsChecked }).toEqual({
        seed,
        steps: full.steps,
        acked: full.acked,
        reads: full.readsChecked,
      });
      expect(early.trace).toEqual(full.trace);
    }
  }, 120_000);
});
