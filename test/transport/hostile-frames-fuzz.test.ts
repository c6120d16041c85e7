/**
 * Fuzzes a live node of a 3-node cluster over TCP with random, truncated, mutated and hostile
 * frames (see fuzz-frames.ts) on many connections, while the cluster keeps taking writes.
 * FUZZ_SEED and FUZZ_FRAMES override the seed and the number of frames.
 */
import type { Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { RaftState } from '../../src/core/types.js';
import { SeededRandom } from '../../src/testing/prng.js';
import { leaderOf, startCluster, stopCluster, write, type ClusterNode } from './cluster-node.js';
import { nextPlan, type Plan } from './fuzz-frames.js';
import { rawClient, recordingLogger, waitFor } from './helpers.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_240_611);
const FRAMES = Number(process.env.FUZZ_FRAMES ?? 10_000);
const WORKERS = 16;
const MiB = 1024 * 1024;

interface Outcome {
  closedByServer: boolean;
}

/** Sends a plan's frames (split at random points) and waits for the server to finish with it. */
async function runPlan(address: string, plan: Plan, rng: SeededRandom): Promise<Outcome> {
  const socket: Socket = await rawClient(address);
  socket.on('error', () => {});
  socket.on('data', () => {});
  let weEnded = false;
  const closed = new Promise<boolean>((resolve) => socket.on('close', () => resolve(!weEnded)));
  const all = Buffer.concat(plan.frames);
  let at = 0;
  while (at < all.length && !socket.destroyed) {
    const n = rng.chance(0.7) ? all.length - at : rng.int(1, all.length - at + 1);
    socket.write(all.subarray(at, at + n));
    at += n;
    if (at < all.length) await new Promise((r) => setImmediate(r));
  }
  if (!plan.fatal) {
    // Let the server answer what it can, then hang up (it may be waiting for more bytes).
    await new Promise((r) => setTimeout(r, rng.int(0, 5)));
    weEnded = true;
    socket.end();
  }
  const timer = setTimeout(() => socket.destroy(), plan.fatal ? 5000 : 2000);
  const closedByServer = await closed;
  clearTimeout(timer);
  return { closedByServer };
}

let nodes: ClusterNode[] = [];
afterAll(async () => {
  await stopCluster(nodes);
});

describe('transport fuzz', () => {
  it(`survives ${FRAMES} hostile frames (seed ${SEED}) while the cluster keeps committing`, async () => {
    const logger = recordingLogger();
    nodes = await startCluster(3, [logger]);
    const target = nodes[0];
    await write(nodes, 'start');

    const rng = new SeededRandom(SEED);
    let framesSent = 0;
    let fatalPlans = 0;
    const unclosedFatal: string[] = [];
    const categories = new Map<string, number>();

    const memory = () => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const baseline = memory();
    let peak = baseline;
    let shutdownSeen = false;
    const sampler = setInterval(() => {
      peak = Math.max(peak, memory());
      if ((target.raft?.state ?? RaftState.Shutdown) === RaftState.Shutdown) shutdownSeen = true;
    }, 50);

    let fuzzing = true;
    const committed: string[] = [];
    const writer = (async () => {
      for (let i = 0; fuzzing; i++) {
        try {
          await write(nodes, `during-${i}`, 3000);
          committed.push(`during-${i}`);
        } catch {
          // Counted below: writes must keep succeeding overall, not each one.
        }
      }
    })();

    const worker = async (wrng: SeededRandom): Promise<void> => {
      while (framesSent < FRAMES) {
        const plan = nextPlan(wrng);
        framesSent += plan.frames.length;
        categories.set(plan.category, (categories.get(plan.category) ?? 0) + 1);
        const outcome = await runPlan(target.address, plan, wrng);
        if (plan.fatal) {
          fatalPlans++;
          if (!outcome.closedByServer) unclosedFatal.push(plan.category);
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: WORKERS }, () => worker(rng.fork())));
    } finally {
      fuzzing = false;
      clearInterval(sampler);
    }
    await writer;

    expect(framesSent).toBeGreaterThanOrEqual(FRAMES);
    expect(unclosedFatal).toEqual([]);
    expect(shutdownSeen).toBe(false);
    expect(target.raft!.state).not.toBe(RaftState.Shutdown);
    // Every refused connection was logged with the peer's address and the reason.
    const refusals = logger.records.filter((r) => r.msg === 'closing connection: bad request');
    expect(refusals.length).toBeGreaterThanOrEqual(fatalPlans);
    for (const r of refusals) {
      expect(r.obj.remote).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(typeof r.obj.reason).toBe('string');
    }
    expect(peak - baseline).toBeLessThan(100 * MiB);
    expect(committed.length).toBeGreaterThan(0);

    const after: string[] = [];
    for (let i = 0; i < 10; i++) {
      await write(nodes, `after-${i}`);
      after.push(`after-${i}`);
    }
    await waitFor(() => {
      const first = JSON.stringify(nodes[0].fsm.items);
      return nodes.every((n) => JSON.stringify(n.fsm.items) === first);
    }, 10_000);
    const items = new Set(nodes[0].fsm.items);
    for (const command of [...committed, ...after]) expect(items.has(command)).toBe(true);
    expect(leaderOf(nodes)).toBeDefined();
    console.log(
      `fuzz seed ${SEED}: ${framesSent} frames, ${fatalPlans} refused connections, ` +
        `${committed.length} writes committed during, peak memory growth ${((peak - baseline) / MiB).toFixed(1)} MiB, ` +
        `plans ${JSON.stringify(Object.fromEntries(categories))}`,
    );
  });
});
