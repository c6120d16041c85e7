/**
 * `raftkit chaos`: the KV service as real processes, real faults, and a linearizability verdict.
 *
 * It starts N `raftkit kv serve` processes on free loopback ports, runs concurrent clients that
 * write unique values to a few keys and read them back (linearizable reads, through any server:
 * followers redirect), and a seeded nemesis that, one fault at a time, SIGKILLs a server (the
 * leader half the time) and restarts it, SIGSTOPs one and resumes it, cuts one off from the others
 * (the servers' /debug/isolate switch), or SIGKILLs them all at once and restarts them. At the end every fault is healed, each key is read
 * once more, and the whole history goes through `checkKvLinearizability` (src/testing). A write
 * whose answer never came (timeout, connection reset, 5xx) counts as of unknown outcome: it may or
 * may not have happened, and the checker allows both.
 *
 * `--break stale-reads` starts the servers with `--debug-stale-reads` (every read answered from
 * local state), which the checker must catch. Timing is real, so runs are not replayable from the
 * seed; the seed fixes the sequence of faults and operations, and the history is kept in
 * `<dir>/history.json` when the verdict is not clean (or with `keep`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep, systemClock, type Clock } from '../index.js';
import type { StatusBody } from '../kv/contract.js';
import {
  checkKvLinearizability,
  type KvOperation,
  type LinearizabilityReport,
} from '../testing/linearizability.js';
import { SeededRandom } from '../testing/prng.js';
import { freePorts } from './free-ports.js';
import {
  childProcessLauncher,
  defaultCliPath,
  demoNodeSpecs,
  type ChildNodeProcess,
  type DemoNodeSpec,
} from './node-processes.js';

/**
 * kill: SIGKILL one server (the leader half the time), restart it later; pause: SIGSTOP one, then
 * SIGCONT; isolate: cut one off from the others, then heal; crash: SIGKILL every server at once
 * (the whole cluster dies mid-write; only what reached the disk survives), restart them all.
 */
export type ChaosFault = 'kill' | 'pause' | 'isolate' | 'crash';
export const CHAOS_FAULTS: readonly ChaosFault[] = ['kill', 'pause', 'isolate', 'crash'];

export interface ChaosOptions {
  nodes?: number;
  /** How long clients and nemesis run, in ms (default 30 s). */
  durationMs?: number;
  seed?: number;
  clients?: number;
  keys?: number;
  /** Faults the nemesis may inject (default all). */
  faults?: readonly ChaosFault[];
  /** Where the servers keep their data (default a new temporary directory). */
  dir?: string;
  /** Keep the directory (and history.json) even after a clean verdict. */
  keep?: boolean;
  logStore?: 'wal' | 'lmdb';
  /** Run deliberately broken servers (reads from local state), to watch the checker fail. */
  breakStaleReads?: boolean;
  cliPath?: string;
  clock?: Clock;
  log?: (line: string) => void;
}

export interface ChaosCounts {
  writesOk: number;
  writesUnknown: number;
  writesFailed: number;
  readsOk: number;
  readsFailed: number;
}

export interface ChaosReport {
  seed: number;
  counts: ChaosCounts;
  /** The faults injected, as "t+1234ms kill n2 (leader)" lines. */
  events: string[];
  linearizability: LinearizabilityReport;
  /** The data directory if it was kept (history.json inside), else null. */
  kept: string | null;
}

/** Raft timings for quick recovery on one machine (hashicorp's defaults are for real networks). */
const TUNING = ['--heartbeat-timeout', '300', '--election-timeout', '300', '--leader-lease-timeout', '150'];
const REQUEST_TIMEOUT_MS = 1500;
const READY_TIMEOUT_MS = 30_000;

type Outcome = { status: number; body: string } | { error: 'refused' | 'unknown' };

export async function runChaos(options: ChaosOptions = {}): Promise<ChaosReport> {
  const clock = options.clock ?? systemClock;
  const seed = options.seed ?? 1;
  const random = new SeededRandom(seed);
  const log = options.log ?? (() => {});
  const count = options.nodes ?? 3;
  const keys = Array.from({ length: options.keys ?? 5 }, (_, i) => `k${i}`);
  const root = options.dir ?? mkdtempSync(join(tmpdir(), 'raftkit-chaos-'));
  const ports = await freePorts(2 * count);
  const specs = demoNodeSpecs({
    nodes: count,
    raftPorts: ports.slice(0, count),
    httpPorts: ports.slice(count),
    dataRoot: root,
    extraServeArgs: [
      ...TUNING,
      ...(options.logStore ? ['--log-store', options.logStore] : []),
      ...(options.breakStaleReads ? ['--debug-stale-reads'] : []),
    ],
  });
  const launch = childProcessLauncher(options.cliPath ?? defaultCliPath(), clock);
  const processes = specs.map(launch);
  const started = clock.now();
  const since = () => `t+${Math.round(clock.now() - started)}ms`;
  const events: string[] = [];
  const event = (line: string) => {
    events.push(`${since()} ${line}`);
    log(`chaos: ${events[events.length - 1]}`);
  };

  const request = async (
    spec: DemoNodeSpec,
    method: string,
    path: string,
    body?: string,
  ): Promise<Outcome> => {
    const controller = new AbortController();
    const timer = clock.setTimer(REQUEST_TIMEOUT_MS, () => controller.abort());
    try {
      const response = await fetch(`${spec.httpUrl}${path}`, { method, body, signal: controller.signal });
      return { status: response.status, body: await response.text() };
    } catch (error) {
      const code = ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code;
      return { error: code === 'ECONNREFUSED' ? 'refused' : 'unknown' };
    } finally {
      timer.cancel();
    }
  };

  const history: KvOperation[] = [];
  const counts: ChaosCounts = { writesOk: 0, writesUnknown: 0, writesFailed: 0, readsOk: 0, readsFailed: 0 };

  /** One write of a unique value, recorded with its outcome. */
  const write = async (client: number, key: string, value: string, spec: DemoNodeSpec) => {
    const start = clock.now();
    const outcome = await request(spec, 'PUT', `/kv/${key}`, value);
    const end = clock.now();
    if ('status' in outcome && outcome.status === 200) {
      counts.writesOk++;
      history.push({ client, key, kind: 'write', value, start, end });
    } else if ('error' in outcome && outcome.error === 'refused') {
      counts.writesFailed++; // never reached a server
    } else {
      counts.writesUnknown++;
      history.push({ client, key, kind: 'write', value, start, end: Infinity });
    }
    return 'status' in outcome && outcome.status === 200;
  };

  /** One linearizable read, recorded when it got an answer. */
  const read = async (client: number, key: string, spec: DemoNodeSpec) => {
    const start = clock.now();
    const outcome = await request(spec, 'GET', `/kv/${key}`);
    const end = clock.now();
    if ('status' in outcome && (outcome.status === 200 || outcome.status === 404)) {
      counts.readsOk++;
      const value = outcome.status === 200 ? outcome.body : undefined;
      history.push({ client, key, kind: 'read', value, start, end });
      return true;
    }
    counts.readsFailed++;
    return false;
  };

  const isolated = new Set<number>();
  const isolate = async (victim: number | null) => {
    // Symmetric: the victim drops everyone, everyone drops the victim; null heals all.
    await Promise.all(
      specs.map((spec, i) => {
        const peers =
          victim === null
            ? []
            : i === victim
              ? specs.filter((_, j) => j !== i).map((s) => s.id)
              : [specs[victim].id];
        const body = JSON.stringify(peers.length === 0 ? { heal: true } : { peers });
        return request(spec, 'POST', '/debug/isolate', body);
      }),
    );
    isolated.clear();
    if (victim !== null) isolated.add(victim);
  };

  const leaderIndex = async (): Promise<number | null> => {
    for (const spec of specs) {
      const outcome = await request(spec, 'GET', '/status');
      if (!('status' in outcome) || outcome.status !== 200) continue;
      const id = (JSON.parse(outcome.body) as StatusBody).leader.id;
      const index = specs.findIndex((s) => s.id === id);
      if (index >= 0) return index;
    }
    return null;
  };

  /** Until a write through some server succeeds (the cluster serves again). */
  const untilServing = async (what: string) => {
    const deadline = clock.now() + READY_TIMEOUT_MS;
    for (let n = 0; ; n++) {
      const spec = specs[n % specs.length];
      const outcome = await request(spec, 'PUT', '/kv/chaos-ready', `${n}`);
      if ('status' in outcome && outcome.status === 200) return;
      if (processes.every((server) => !server.running)) {
        const why = processes.map((server, i) => `${specs[i].id}: ${server.lastExit}`).join(', ');
        throw new Error(`chaos: every server exited (${why}); logs in ${root}/n*.log`);
      }
      if (clock.now() > deadline) throw new Error(`chaos: the cluster did not serve ${what} within 30 s`);
      await sleep(clock, 100);
    }
  };

  const nemesis = async (until: number) => {
    const faults = options.faults ?? CHAOS_FAULTS;
    while (clock.now() < until) {
      await sleep(clock, random.int(500, 1500));
      if (clock.now() >= until) break;
      const fault = random.pick(faults);
      const leader = fault === 'kill' && random.chance(0.5) ? await leaderIndex() : null;
      const victim = leader ?? random.int(0, specs.length);
      const name = `${specs[victim].id}${leader === null ? '' : ' (leader)'}`;
      const server = processes[victim];
      const downFor = random.int(300, 1500);
      if (fault === 'crash') {
        event('kill -9 every server');
        for (const each of processes) each.signal('SIGKILL');
        await Promise.all(processes.map((each) => each.exited()));
        await sleep(clock, downFor);
        for (const each of processes) each.start();
        event('restart every server');
      } else if (fault === 'kill') {
        event(`kill -9 ${name}`);
        server.signal('SIGKILL');
        await server.exited();
        await sleep(clock, downFor);
        server.start();
        event(`restart ${specs[victim].id}`);
      } else if (fault === 'pause') {
        event(`pause ${name} (SIGSTOP)`);
        server.signal('SIGSTOP');
        await sleep(clock, downFor);
        server.signal('SIGCONT');
        event(`resume ${specs[victim].id}`);
      } else {
        event(`isolate ${name}`);
        await isolate(victim);
        await sleep(clock, downFor);
        await isolate(null);
        event('heal');
      }
    }
  };

  const client = async (id: number, random: SeededRandom, until: () => boolean) => {
    for (let n = 0; !until(); n++) {
      const key = random.pick(keys);
      const spec = random.pick(specs);
      const ok = random.chance(0.5) ? await write(id, key, `c${id}-${n}`, spec) : await read(id, key, spec);
      if (!ok) await sleep(clock, random.int(10, 50));
    }
  };

  let clean = false;
  try {
    for (const server of processes) server.start();
    await untilServing('at start');
    event(`serving: ${count} servers, ${options.clients ?? 4} clients, keys ${keys.join(',')}`);
    const until = clock.now() + (options.durationMs ?? 30_000);
    let stop = false;
    const clients = Array.from({ length: options.clients ?? 4 }, (_, i) =>
      client(i, random.fork(), () => stop),
    );
    await nemesis(until);
    stop = true;
    await Promise.all(clients);
    if (isolated.size > 0) await isolate(null);
    await untilServing('after the faults');
    event('healed; final reads');
    for (const key of keys) {
      for (let attempt = 0; !(await read(-1, key, specs[attempt % specs.length])); attempt++) {
        if (attempt > 50) throw new Error(`chaos: final read of ${key} kept failing`);
        await sleep(clock, 100);
      }
    }
    const linearizability = checkKvLinearizability(history);
    clean = linearizability.ok;
    const keep = options.keep === true || !clean;
    if (keep) {
      const serializable = history.map((op) => ({ ...op, end: op.end === Infinity ? null : op.end }));
      writeFileSync(
        join(root, 'history.json'),
        JSON.stringify({ seed, events, history: serializable }, null, 1),
      );
    }
    return { seed, counts, events, linearizability, kept: keep ? root : null };
  } finally {
    await Promise.all(processes.map((server: ChildNodeProcess) => server.stop()));
    if (clean && options.keep !== true && options.dir === undefined)
      rmSync(root, { recursive: true, force: true });
  }
}
