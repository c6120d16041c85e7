/**
 * A log record damaged at rest in the middle of a node's log (issue 16, part 1): the simulated
 * disk finds it by checksum (ErrStoreCorrupt) when the store opens or the record is read, the
 * node refuses it and is repaired from the others (wiped, its old identity removed, a new one
 * added) while the workload runs on, and no node ever applies or receives the damaged record.
 */
import { describe, expect, it } from 'vitest';
import { ErrStoreCorrupt } from '../../src/core/errors.js';
import { LogType, type LogEntry } from '../../src/core/types.js';
import { SeededRandom } from '../../src/testing/prng.js';
import { Scheduler } from '../../src/testing/scheduler.js';
import { SimDisk, SimMedium } from '../../src/testing/sim-disk.js';
import { runSimulation, type SimulationResult } from '../../src/testing/simulation.js';

function entries(from: number, to: number): LogEntry[] {
  return Array.from({ length: to - from + 1 }, (_, i) => ({
    index: from + i,
    term: 1,
    type: LogType.Command,
    data: new TextEncoder().encode(`value ${from + i}`),
    extensions: new Uint8Array(0),
    appendedAt: 0,
  }));
}

function medium(): SimMedium {
  const medium = new SimMedium();
  medium.storeLogsSync(entries(1, 10));
  return medium;
}

function disk(on: SimMedium, skipChecksums = false): SimDisk {
  return new SimDisk(on, new Scheduler(), new SeededRandom(1), { min: 1, max: 4 }, { skipChecksums });
}

describe('SimMedium: a record damaged at rest', () => {
  it('is refused by checksum when the store opens and when it is read; its neighbours still read', async () => {
    const damaged = medium();
    const entry = damaged.damageMiddle((lo, hi) => {
      expect([lo, hi]).toEqual([2, 10]); // never the first or the last record
      return 5;
    });
    expect(entry?.index).toBe(5);
    expect(() => disk(damaged).open()).toThrow(ErrStoreCorrupt);
    await expect(disk(damaged).getLogs(3, 7)).rejects.toThrow(/record 5: checksum mismatch/);
    await expect(disk(damaged).getLog(5)).rejects.toBeInstanceOf(ErrStoreCorrupt);
    expect((await disk(damaged).getLogs(6, 10)).map((each) => each.index)).toEqual([6, 7, 8, 9, 10]);
    expect(() => disk(medium()).open()).not.toThrow();
  });

  it('is served as it lies when the test-only switch skips the checksums (what the integrity invariant must catch)', async () => {
    const damaged = medium();
    damaged.damageMiddle(() => 4);
    expect(() => disk(damaged, true).open()).not.toThrow();
    const [record] = await disk(damaged, true).getLogs(4, 4);
    expect(new TextDecoder().decode(record.data)).not.toBe('value 4');
  });

  it("gives a record no honest node writes: a damaged noop is not the next leader's noop at its index", async () => {
    // Soak seeds 3316 and 4425 once failed the integrity invariant without any bug: the damage
    // bumped a noop's term, which made it the very noop the next leader wrote at that index.
    const noops = new SimMedium();
    const noop = (index: number, term: number): LogEntry => ({
      index,
      term,
      type: LogType.Noop,
      data: new Uint8Array(0),
      extensions: new Uint8Array(0),
      appendedAt: 0,
    });
    noops.storeLogsSync([...entries(1, 2), noop(3, 5), ...entries(4, 5)]);
    const damaged = noops.damage(3)!;
    const nextLeaders = noop(3, 6);
    const record = (entry: LogEntry) => ({ term: entry.term, type: entry.type, data: [...entry.data] });
    expect(record(damaged)).not.toEqual(record(nextLeaders));
    expect(damaged.term).toBe(5);
    await expect(disk(noops).getLog(3)).rejects.toBeInstanceOf(ErrStoreCorrupt);
  });

  it('damages its own copy of the record, never the buffer it was handed', () => {
    const shared = Buffer.from('value 4');
    const copy = new SimMedium();
    copy.storeLogsSync([...entries(1, 3), { ...entries(4, 4)[0], data: shared }, ...entries(5, 6)]);
    copy.damage(4);
    expect(shared.toString()).toBe('value 4');
  });

  it('a log of fewer than three records has no middle to damage', () => {
    const short = new SimMedium();
    short.storeLogsSync(entries(1, 2));
    expect(short.damageMiddle(() => 1)).toBeNull();
  });
});

const DISK_FAULTS = ['disk', 'crash', 'partition', 'membership'];

async function seeds(count: number, skipChecksums: boolean): Promise<SimulationResult[]> {
  const results: SimulationResult[] = [];
  for (let seed = 1; seed <= count; seed++)
    results.push(await runSimulation({ seed, faultKinds: DISK_FAULTS, skipChecksums }));
  return results;
}

describe('the simulator with records damaged at rest', () => {
  it('detects each damaged record it reads, repairs the node from the others, and keeps every invariant', async () => {
    const results = await seeds(10, false);
    for (const result of results) expect(result.violations, `seed ${result.seed}`).toEqual([]);
    const detected = results.filter((result) => result.damageDetected > 0);
    // Which faults a seed draws moves with any change to the code's timing; at the time of
    // writing 5 of these 10 seeds found damage (seeds 1-20: 12 of 20).
    expect(detected.length).toBeGreaterThanOrEqual(3);
    for (const result of results) {
      expect(result.damageDetected).toBeLessThanOrEqual(result.recordsDamaged);
      // Every repair the run started finished before it converged.
      expect(result.repairs, `seed ${result.seed}`).toBe(result.damageDetected);
    }
  });

  it('catches a store that skips checksum verification: a node applies or receives a damaged record', async () => {
    let caught: string | undefined;
    for (let seed = 1; seed <= 20 && caught === undefined; seed++) {
      const result = await runSimulation({ seed, faultKinds: DISK_FAULTS, skipChecksums: true });
      caught = result.violations.find((violation) => violation.includes('integrity:'));
    }
    expect(caught).toMatch(/integrity: n\d+(r\d+)? (applied|stored \(was sent\)) the damaged record \d+/);
  });
});
