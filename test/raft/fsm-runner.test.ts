/** FsmRunner (src/raft/fsm-runner.ts): the per-entry path of an FSM without applyBatch. */
import { describe, expect, it } from 'vitest';
import { LogType, type LogEntry } from '../../src/core/types.js';
import type { FSM } from '../../src/raft/fsm.js';
import { FsmRunner } from '../../src/raft/fsm-runner.js';
import { discardMetrics } from '../../src/raft/metrics.js';
import { Scheduler } from '../../src/testing/scheduler.js';

const command = (index: number): LogEntry => ({
  index,
  term: 1,
  type: LogType.Command,
  data: new TextEncoder().encode(`c${index}`),
  extensions: new Uint8Array(0),
  appendedAt: 0,
});

function runnerFor(fsm: FSM, entries: LogEntry[]) {
  const applied: [number, unknown][] = [];
  const errors: Error[] = [];
  const runner = new FsmRunner(
    fsm,
    { index: 0, term: 0, configuration: { configuration: { servers: [] }, index: 0 } },
    (lo, hi) => Promise.resolve(entries.filter((e) => e.index >= lo && e.index <= hi)),
    () => ({ servers: [] }),
    (entry, response) => applied.push([entry.index, response]),
    (error) => errors.push(error),
    { sink: discardMetrics, clock: new Scheduler().clockFor(() => true), isLeader: () => false },
  );
  return { runner, applied, errors };
}

describe('FsmRunner without applyBatch', () => {
  it('applies the entries of one read in one synchronous run: no microtask hop per entry', async () => {
    // A microtask queued while entry 1 applies runs before entry 2 applies only if the runner
    // awaits between entries (one promise per entry).
    const hopBefore: boolean[] = [];
    let hopped = false;
    const fsm: FSM = {
      apply(log) {
        hopBefore.push(hopped);
        hopped = false;
        queueMicrotask(() => (hopped = true));
        return `ok${log.index}`;
      },
      snapshot: () => Promise.reject(new Error('unused')),
      restore: () => Promise.reject(new Error('unused')),
    };
    const entries = [1, 2, 3, 4].map(command);
    const { runner, applied, errors } = runnerFor(fsm, entries);
    runner.advance(4);
    await runner.idle();
    expect(applied).toEqual([
      [1, 'ok1'],
      [2, 'ok2'],
      [3, 'ok3'],
      [4, 'ok4'],
    ]);
    expect(hopBefore).toEqual([false, false, false, false]);
    expect(errors).toEqual([]);
    expect(runner.applied).toBe(4);
  });

  it('still waits for an FSM that returns promises, in order, and turns throws and rejections into responses', async () => {
    const failure = new Error('refused');
    const order: string[] = [];
    const fsm: FSM = {
      apply(log) {
        order.push(`start${log.index}`);
        if (log.index === 2) throw failure;
        if (log.index === 3) return Promise.reject(failure);
        return new Promise((resolve) =>
          setImmediate(() => {
            order.push(`end${log.index}`);
            resolve(`ok${log.index}`);
          }),
        );
      },
      snapshot: () => Promise.reject(new Error('unused')),
      restore: () => Promise.reject(new Error('unused')),
    };
    const { runner, applied, errors } = runnerFor(fsm, [1, 2, 3, 4].map(command));
    runner.advance(4);
    await runner.idle();
    expect(order).toEqual(['start1', 'end1', 'start2', 'start3', 'start4', 'end4']);
    expect(applied).toEqual([
      [1, 'ok1'],
      [2, failure],
      [3, failure],
      [4, 'ok4'],
    ]);
    expect(errors).toEqual([]);
  });
});
