/**
 * `npm run bench -- --profile`: what raftkit spends its time on under the benchmark's load, for
 * bench/PROFILE.md.
 * - CPU: a fresh 3-node `kv serve` cluster under `node --cpu-prof` for c64 writes and another for
 *   c1 writes (warm-up + measured window as in the bench, then a graceful stop so the profiles are
 *   written), and the in-process library bench under `--cpu-prof` at 64 outstanding applies. Only
 *   the samples of the measured window count (not start-up).
 * - Latency: a fresh unprofiled cluster at c1 whose nodes record the marks of src/platform/trace.ts
 *   (RAFTKIT_TRACE_DIR), joined into the steps of one write (bench/c1-trace.ts), beside the floor
 *   (fdatasync, loopback round trip). `npm run bench -- --trace` runs this part alone.
 * The .cpuprofile files, each with its flame graph (folded stacks and an SVG: bench/flamegraph.ts),
 * the nodes' .trace files and summary.md (the tables and top-down trees) land in --out-dir.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupGoNodes, type ServerNode } from '../test/interop/harness.js';
import { readC1Steps, renderC1Steps } from './c1-trace.js';
import { fillKeys, type LoadSettings } from './cluster-load.js';
import { renderProfileSummary, summarizeProfile, type CpuProfile, type Window } from './cpuprofile.js';
import { foldedStacks, frameTree, renderFlameSvg, renderTopDown } from './flamegraph.js';
import type { LibrarySample } from './library.js';
import { runFloor, runLoad, type LoadSpec } from './loadgen.js';
import { raftkitSystem, startCluster } from './systems.js';
import { ROOT, runJson } from './tools.js';

const PROFILED_LOADS = [
  { name: 'c64', concurrency: 64 },
  { name: 'c1', concurrency: 1 },
];
const LIBRARY_OUTSTANDING = 64;
/** The top-down tree in summary.md: short enough to paste into a note. */
const TREE = { minPercent: 1, maxDepth: 14 };

/** The costs the issue suspects, by function name: inclusive shares say what each costs at most. */
const SUSPECTS = [
  'parserOnIncoming', // node:http request handling, the KV route included
  'readBody',
  'sendJson',
  'encodeCommand', // KV command JSON + base64
  'decodeCommand',
  'applyCommand',
  'persist', // KV snapshots: the first slice, up to the first await
  'writeSnapshotV3', // KV snapshots: the rest (an async writer resumes at its own frame, below no caller)
  'handleReady', // the runtime's Ready loop
  'sendAppendEntries',
  'requestToWire', // AppendEntries to msgpack, per follower
  'writeRequestFrame',
  'decodeRequestFrame',
  'decodeResponseFrame',
  'storeLogs',
  'writeGeneric', // socket writes (HTTP answers, RPCs)
  'writevGeneric',
  '(garbage collector)',
];

function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

function leaderFirst(nodes: ServerNode[], leader: ServerNode): ServerNode[] {
  return [leader, ...nodes.filter((node) => node !== leader)];
}

function target(ordered: ServerNode[]): Pick<LoadSpec, 'api' | 'urls' | 'pids'> {
  return {
    api: 'kv',
    urls: ordered.map((node) => `http://${node.httpAddress}`),
    pids: ordered.map((node) => node.pid!),
  };
}

/**
 * The leader first, with every key filled as the bench's load part does before it measures: the
 * profiled writes then overwrite keys (as the bench's do) instead of creating most of them.
 */
async function filledCluster(
  nodes: ServerNode[],
  leader: ServerNode,
  settings: LoadSettings,
): Promise<ServerNode[]> {
  const ordered = leaderFirst(nodes, leader);
  await fillKeys(target(ordered), settings);
  return ordered;
}

function writeLoad(
  ordered: ServerNode[],
  concurrency: number,
  settings: LoadSettings,
  durationS: number,
): LoadSpec {
  return {
    ...target(ordered),
    op: 'put',
    concurrency,
    warmupS: settings.warmupS,
    durationS,
    keys: settings.keys,
    valueSize: settings.valueSize,
  };
}

interface Profiled {
  title: string;
  /** File name of its flame graph: c64-leader, c64-follower-node2, library. */
  role: string;
  dir: string;
  window: Window;
}

/** Runs one load on a profiled cluster; returns each node's profile directory by its role. */
async function profileLoad(
  outDir: string,
  load: { name: string; concurrency: number },
  settings: LoadSettings,
  log: (line: string) => void,
): Promise<Profiled[]> {
  const profileDir = join(outDir, load.name);
  rmSync(profileDir, { recursive: true, force: true }); // a profile of an earlier run would be read instead
  const system = raftkitSystem(profileDir);
  const nodes = await startCluster(system);
  try {
    const ordered = await filledCluster(nodes, await system.leader(nodes), settings);
    // loadgen measures from warm-up end; the processes share the monotonic clock with the profiles.
    const fromUs = nowUs() + settings.warmupS * 1e6;
    const result = await runLoad(writeLoad(ordered, load.concurrency, settings, settings.durationS));
    const window = { fromUs, untilUs: fromUs + settings.durationS * 1e6 };
    log(
      `profile ${load.name}: ${Math.round(result.rate)} writes/s, p50 ${result.latency_ms.p50.toFixed(2)} ms (under the profiler)`,
    );
    // --cpu-prof writes the profile when the process exits normally.
    await Promise.all(ordered.map((node) => node.stop(60_000)));
    return ordered.map((node, i) => ({
      title: `${load.name} ${i === 0 ? 'leader' : 'follower'} (${node.id}), ${Math.round(result.rate)} writes/s`,
      role: i === 0 ? `${load.name}-leader` : `${load.name}-follower-${node.id}`,
      dir: join(profileDir, node.id),
      window,
    }));
  } finally {
    await cleanupGoNodes();
  }
}

async function profileLibrary(outDir: string, settings: LoadSettings, root: string): Promise<Profiled> {
  const dir = join(outDir, 'library');
  rmSync(dir, { recursive: true, force: true });
  const [sample] = await runJson<LibrarySample[]>(process.execPath, [
    '--cpu-prof',
    '--cpu-prof-dir',
    dir,
    join(ROOT, 'dist-bench', 'bench', 'library.js'),
    '--dir',
    mkdtempSync(join(root, 'library-')),
    '--outstanding',
    String(LIBRARY_OUTSTANDING),
    '--warmup',
    String(settings.warmupS),
    '--duration',
    String(settings.durationS),
  ]);
  return {
    role: 'library',
    title: `library, ${LIBRARY_OUTSTANDING} outstanding applies (3 nodes in one process), ${Math.round(sample.appliesPerS)} applies/s`,
    dir,
    window: sample.windowUs,
  };
}

/**
 * The tables of one process's profile, and its flame graph beside the .cpuprofile: folded stacks
 * (`<role>.folded`) and an SVG (`<role>.svg`) of the measured window, plus a top-down tree for the summary.
 */
function summarizeDir({ title, role, dir, window }: Profiled): string {
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
  if (file === undefined) return `### ${title}\n\nno profile written in ${dir}\n`;
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  const summary = summarizeProfile(profile, { window, focus: SUSPECTS });
  const tree = frameTree(profile, window);
  const base = join(dir, role);
  writeFileSync(`${base}.folded`, foldedStacks(tree));
  writeFileSync(`${base}.svg`, renderFlameSvg(tree, `${title}, ${summary.busyPercent.toFixed(0)}% busy`));
  const shown = (path: string) => path.replace(ROOT, '');
  return [
    renderProfileSummary(`${title}: ${shown(join(dir, file))}`, summary),
    `Flame graph: ${shown(`${base}.svg`)}, folded stacks: ${shown(`${base}.folded`)}. ` +
      `Top-down, inclusive % of the busy samples (frames from ${TREE.minPercent}%, ${TREE.maxDepth} levels):`,
    '',
    '```',
    renderTopDown(tree, TREE),
    '```',
    '',
  ].join('\n');
}

/**
 * c1 on a fresh cluster whose nodes record trace marks (into `<outDir>/c1-trace/`, written when
 * they stop): the steps of one write across the leader and a follower.
 */
export async function traceC1(outDir: string, settings: LoadSettings, root: string): Promise<string> {
  const floor = await runFloor(root, 2);
  const traceDir = join(outDir, 'c1-trace');
  rmSync(traceDir, { recursive: true, force: true });
  mkdirSync(traceDir, { recursive: true });
  const system = raftkitSystem();
  // The nodes inherit this process's environment (test/interop/harness.ts spawns them).
  process.env.RAFTKIT_TRACE_DIR = traceDir;
  let nodes: ServerNode[];
  try {
    nodes = await startCluster(system);
  } finally {
    delete process.env.RAFTKIT_TRACE_DIR;
  }
  try {
    // Not filled first, unlike the profiled loads: each node keeps a bounded number of marks
    // (src/platform/trace.ts), and the fill's 100,000 writes would use them all up before the
    // measured window. At c1 an overwrite and a created key differ by microseconds.
    const ordered = leaderFirst(nodes, await system.leader(nodes));
    const load = await runLoad(writeLoad(ordered, 1, settings, settings.durationS));
    // The marks are written when a node exits normally.
    await Promise.all(ordered.map((node) => node.stop(60_000)));
    return [
      '### c1: one write, step by step (trace marks on all three nodes)',
      '',
      `The floor on this disk and loopback just before: fdatasync p50 ${floor.fdatasync_p50_ms.toFixed(3)} ms, ` +
        `loopback round trip p50 ${floor.loopback_rtt_p50_us.toFixed(1)} µs. ` +
        `${Math.round(load.rate)} writes/s, p99 ${load.latency_ms.p99.toFixed(2)} ms.`,
      '',
      renderC1Steps(readC1Steps(traceDir), load.latency_ms.p50),
    ].join('\n');
  } finally {
    await cleanupGoNodes();
  }
}

export async function runProfile(
  outDir: string,
  settings: LoadSettings,
  root: string,
  log: (line: string) => void,
): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const profiled: Profiled[] = [];
  for (const load of PROFILED_LOADS) profiled.push(...(await profileLoad(outDir, load, settings, log)));
  profiled.push(await profileLibrary(outDir, settings, root));
  const c1 = await traceC1(outDir, settings, root);
  log(c1);
  const summary = [c1, ...profiled.map(summarizeDir)].join('\n');
  writeFileSync(join(outDir, 'summary.md'), `# Profiles\n\n${summary}`);
  log(`wrote ${join(outDir, 'summary.md')}`);
}
