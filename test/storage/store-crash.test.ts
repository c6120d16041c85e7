/**
 * Crash test of the durable stores' contract (LmdbStore and WalStore, each on its own): a child
 * process (crash/store-child.mjs) writes
 * through the store and acknowledges each operation once its promises resolved; this test
 * SIGKILLs it at seeded random moments (during writes, and sometimes during startup and open),
 * reopens the store and checks that it opens, that the log is one contiguous range, and that the
 * whole content equals the state after some prefix of the plan that includes every acknowledged
 * operation: nothing acknowledged is missing or altered, nothing the child never wrote appears,
 * and no operation is half applied.
 *
 * The child imports dist/storage/, which `npm test` builds first (pretest). SIGKILL does not
 * drop the page cache, so this catches a store that acknowledges before its commit (see the
 * self-test below) but not one that skips fsync: RAFTKIT_CRASH_MODE=nosync runs the same
 * test against noSync stores, and it passes; only a power cut would tell the difference.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrNotFound } from '../../src/core/errors.js';
import { LmdbStore } from '../../src/storage/lmdb.js';
import type { LogStore, StableStore } from '../../src/storage/types.js';
import { WalStore } from '../../src/storage/wal.js';
import {
  STABLE_KEYS,
  applyOp,
  canonical,
  canonicalState,
  cloneState,
  emptyState,
  makePlan,
  seededRandom,
  type ModelState,
  type Plan,
  type PlannedEntry,
} from './crash/store-crash-model.js';

const here = dirname(fileURLToPath(import.meta.url));
const child = join(here, 'crash', 'store-child.mjs');
const compiled = ['lmdb.js', 'wal.js'].map((file) => join(here, '..', '..', 'dist', 'storage', file));

type Kind = 'lmdb' | 'wal';
type Store = LogStore & StableStore & { close(): Promise<void> };
/** Where each kind of store lives inside a lane's directory, and how the test reopens it. */
const STORES: Record<Kind, { file: string; open(path: string): Promise<Store> }> = {
  lmdb: { file: 'raft.lmdb', open: (path) => LmdbStore.open(path) },
  wal: { file: 'wal', open: (path) => WalStore.open(path) },
};

/** Two lanes (own store, own child) run side by side to use both cores; 2 x 26 = 52 kills. */
const LANES = 2;
const KILLS_PER_LANE = 26;
const KILLS = LANES * KILLS_PER_LANE;
const SEED = Number(process.env.RAFTKIT_CRASH_SEED ?? 20240611);
type Mode = 'durable' | 'early-ack' | 'nosync';
const MAIN_MODE = (process.env.RAFTKIT_CRASH_MODE ?? 'durable') as Mode;

interface ChildRun {
  acked: number;
  stderr: string;
  exit: string;
}

/**
 * Runs the child on `plan` and SIGKILLs it `delayMs` after it printed "ready" (or after spawn), or
 * as soon as it acknowledged `atAck` operations, whichever comes first: the time bound keeps
 * runs short on a slow disk, the acknowledgement bound keeps a fast disk (a RAM disk) from
 * finishing the plan before the kill.
 */
async function runChild(
  kind: Kind,
  path: string,
  planFile: string,
  mode: Mode,
  kill: { delayMs: number; fromSpawn: boolean; atAck: number },
) {
  const { delayMs, fromSpawn } = kill;
  const proc = spawn(process.execPath, [child, kind, path, planFile, mode], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: ChildRun = { acked: 0, stderr: '', exit: '' };
  let pending = '';
  let timer: NodeJS.Timeout | undefined;
  const killNow = () => proc.kill('SIGKILL');
  if (fromSpawn) timer = setTimeout(killNow, delayMs);
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk: string) => {
    pending += chunk;
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line === 'ready' && !fromSpawn) timer = setTimeout(killNow, delayMs);
      else if (line.startsWith('ack ')) {
        run.acked = Math.max(run.acked, Number(line.slice(4)));
        if (run.acked >= kill.atAck) killNow();
      }
    }
  });
  proc.stderr.on('data', (chunk: Buffer) => (run.stderr += chunk.toString()));
  await new Promise<void>((resolve) => {
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      run.exit = signal ?? `exit ${code}`;
      resolve();
    });
  });
  return run;
}

/** What the reopened store holds, in the model's canonical form. Throws if it does not open. */
async function readStore(kind: Kind, path: string): Promise<{ text: string; contiguous: boolean }> {
  const store = await STORES[kind].open(path);
  try {
    const first = await store.firstIndex();
    const last = await store.lastIndex();
    const logs: PlannedEntry[] = [];
    let contiguous = true;
    if (last > 0) {
      try {
        for (const e of await store.getLogs(first, last)) {
          const data = Buffer.from(e.data).toString('base64');
          logs.push([
            e.index,
            e.term,
            e.type,
            data,
            Buffer.from(e.extensions).toString('base64'),
            e.appendedAt,
          ]);
        }
      } catch {
        contiguous = false;
      }
    }
    const stable = new Map<string, string>();
    for (const key of STABLE_KEYS) {
      try {
        stable.set(key, Buffer.from(await store.get(key)).toString('hex'));
      } catch (error) {
        if (!(error instanceof ErrNotFound)) throw error;
      }
    }
    return { text: canonical(logs, stable), contiguous };
  } finally {
    await store.close();
  }
}

/** The prefix j (acked <= j <= acked + depth) whose state the store holds, or a description of why none. */
function matchPrefix(start: ModelState, plan: Plan, acked: number, actual: string) {
  const state = cloneState(start);
  for (let j = 0; j < acked && j < plan.ops.length; j++) applyOp(state, plan.ops[j]);
  const ackedText = canonicalState(state);
  for (let j = acked; j <= Math.min(acked + plan.depth, plan.ops.length); j++) {
    if (canonicalState(state) === actual) return { matched: j, state };
    if (j < plan.ops.length) applyOp(state, plan.ops[j]);
  }
  return { matched: -1, state, why: firstDifference(ackedText, actual) };
}

function firstDifference(expected: string, actual: string): string {
  const want = expected.split('\n');
  const got = actual.split('\n');
  for (let i = 0; i < Math.max(want.length, got.length); i++) {
    if (want[i] !== got[i]) {
      const cut = (s: string | undefined) => (s === undefined ? '<none>' : s.slice(0, 60));
      return `line ${i}: acknowledged state has ${cut(want[i])}, store has ${cut(got[i])}`;
    }
  }
  return 'no difference';
}

interface Outcome {
  generation: number;
  acked: number;
  matched: number;
  contiguous: boolean;
  why?: string;
  exit: string;
}

/**
 * Kills and checks `generations` times in a row (each run continues from what the previous one
 * left); stops early at the first violation when `stopAtViolation`.
 */
async function crashLoop(
  kind: Kind,
  dir: string,
  mode: Mode,
  seed: number,
  generations: number,
  stopAtViolation: boolean,
) {
  await mkdir(dir, { recursive: true });
  const random = seededRandom(seed);
  const path = join(dir, STORES[kind].file);
  const planFile = join(dir, 'plan.json');
  let state = emptyState();
  const outcomes: Outcome[] = [];
  for (let generation = 0; generation < generations; generation++) {
    const plan = makePlan(random, state, 300);
    await writeFile(planFile, JSON.stringify(plan));
    const fromSpawn = random() < 0.15;
    const delayMs = Math.floor(random() * (fromSpawn ? 150 : 80));
    const atAck = 1 + Math.floor(random() * 250);
    const run = await runChild(kind, path, planFile, mode, { delayMs, fromSpawn, atAck });
    if (run.stderr !== '') throw new Error(`child failed (${run.exit}): ${run.stderr}`);
    const actual = await readStore(kind, path);
    const match = matchPrefix(state, plan, run.acked, actual.text);
    outcomes.push({
      generation,
      acked: run.acked,
      matched: match.matched,
      contiguous: actual.contiguous,
      why: match.why,
      exit: run.exit,
    });
    if (match.matched < 0 || !actual.contiguous) {
      if (stopAtViolation) break;
      throw new Error(`generation ${generation}: ${JSON.stringify(outcomes.at(-1))}`);
    }
    state = match.state;
  }
  return outcomes;
}

describe.each(['lmdb', 'wal'] as const)('%s store survives SIGKILL', (kind) => {
  let dir: string;

  beforeAll(async () => {
    for (const file of compiled) {
      if (!existsSync(file))
        throw new Error(`${file} is missing: run \`npm run build\` first (npm test does)`);
    }
    dir = await mkdtemp(join(tmpdir(), `raftkit-${kind}-crash-`));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it(`keeps every acknowledged write across ${KILLS} kills (mode ${MAIN_MODE}, seed ${SEED})`, async () => {
    const lanes = Array.from({ length: LANES }, (_, lane) =>
      crashLoop(kind, join(dir, `lane${lane}`), MAIN_MODE, SEED + lane * 7919, KILLS_PER_LANE, false),
    );
    const outcomes = (await Promise.all(lanes)).flat();
    expect(outcomes).toHaveLength(KILLS);
    expect(outcomes.every((o) => o.matched >= o.acked && o.contiguous)).toBe(true);
    // A good share of the kills must land while writes are in progress, or the test proves little.
    const killedMidStream = outcomes.filter((o) => o.exit === 'SIGKILL' && o.acked > 0);
    expect(killedMidStream.length).toBeGreaterThanOrEqual(KILLS / 4);
    if (kind === 'wal') {
      // The runs must have rolled over to new segments and compacted old ones away.
      const names = (await readdir(join(dir, 'lane0', 'wal'))).filter((name) => name.endsWith('.wal'));
      expect(Math.min(...names.map((name) => Number(name.slice(0, 20))))).toBeGreaterThan(3);
    }
  }, 120_000);

  it('detects a store that acknowledges writes before they commit', async () => {
    const outcomes = await crashLoop(kind, join(dir, 'early'), 'early-ack', SEED + 1, 20, true);
    const violation = outcomes.at(-1)!;
    expect(violation.matched).toBe(-1);
    expect(violation.why).toMatch(/acknowledged state has/);
    console.log(`early-ack store caught after ${outcomes.length} kill(s): ${JSON.stringify(violation)}`);
  });
});
