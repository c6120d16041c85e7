/**
 * `npm run bench`: raftkit side by side with etcd and hashicorp/raft in one run, plus the floor,
 * the in-process library, a long-log restart and a large snapshot install. Writes
 * bench/RESULTS.md and bench/results.json (see bench/README.md).
 *
 *   npm run bench -- [--quick] [--repetitions 3] [--warmup 1] [--duration 10] [--keys 100000]
 *                    [--systems raftkit,hashicorp,etcd] [--parts floor,library,restart,snapshot,load]
 *                    [--restart-entries 1000000] [--snapshot-mib 256] [--out-dir bench]
 *   npm run bench -- --profile [--out-dir .tmp/bench-profile]     (see bench/profile.ts)
 *   npm run bench -- --trace [--duration 10] [--out-dir .tmp/bench-profile]  (its c1 trace alone)
 */
import { readFileSync, writeFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { cleanupGoNodes } from '../test/interop/harness.js';
import { runSystem, type LoadSettings, type SystemRun } from './cluster-load.js';
import type { LibrarySample } from './library.js';
import { runFloor } from './loadgen.js';
import { runProfile, traceC1 } from './profile.js';
import { computeRatios, renderMarkdown, summarizeSystems, type BenchResults } from './report.js';
import { measureRestart } from './restart.js';
import { measureSnapshotInstall } from './snapshot-install.js';
import { median } from './stats.js';
import { etcdSystem, hashicorpSystem, raftkitSystem, type SystemName, type SystemSpec } from './systems.js';
import { checkResults } from './check-results.js';
import {
  buildGoNode,
  buildLoadgen,
  ensureEtcd,
  ETCD_BIN,
  firstLine,
  killChildren,
  ROOT,
  runJson,
} from './tools.js';

const PARTS = ['floor', 'library', 'restart', 'snapshot', 'load'] as const;
type Part = (typeof PARTS)[number];

interface Options {
  quick: boolean;
  profile: boolean;
  trace: boolean;
  repetitions: number;
  load: LoadSettings;
  systems: SystemName[];
  parts: Part[];
  restartEntries: number;
  snapshotMiB: number;
  libraryS: { warmup: number; duration: number };
  floorS: number;
  outDir: string;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      trace: { type: 'boolean', default: false },
      repetitions: { type: 'string' },
      warmup: { type: 'string' },
      duration: { type: 'string' },
      keys: { type: 'string' },
      systems: { type: 'string', default: 'raftkit,hashicorp,etcd' },
      parts: { type: 'string', default: PARTS.join(',') },
      'restart-entries': { type: 'string' },
      'snapshot-mib': { type: 'string' },
      'out-dir': { type: 'string' },
    },
  });
  const quick = values.quick;
  const number = (text: string | undefined, full: number, short: number) =>
    text === undefined ? (quick ? short : full) : Number(text);
  const systems = values.systems.split(',') as SystemName[];
  for (const system of systems) {
    if (!['raftkit', 'hashicorp', 'etcd'].includes(system)) throw new Error(`--systems: unknown ${system}`);
  }
  const parts = values.parts.split(',') as Part[];
  for (const part of parts) if (!PARTS.includes(part)) throw new Error(`--parts: unknown ${part}`);
  const warmupS = number(values.warmup, 1, 0.3);
  const durationS = number(values.duration, 10, 1);
  return {
    quick,
    profile: values.profile,
    trace: values.trace,
    repetitions: number(values.repetitions, 3, 1),
    load: {
      warmupS,
      durationS,
      keys: number(values.keys, 100_000, 2_000),
      valueSize: 100,
      failoverS: quick ? 15 : 30,
      failoverKillS: quick ? 1 : 2,
    },
    systems,
    parts,
    restartEntries: number(values['restart-entries'], 1_000_000, 20_000),
    snapshotMiB: number(values['snapshot-mib'], 256, 16),
    libraryS: { warmup: warmupS, duration: durationS },
    floorS: quick ? 0.5 : 3,
    outDir: resolve(
      values['out-dir'] ??
        (values.profile || values.trace
          ? join(ROOT, '.tmp', 'bench-profile')
          : quick
            ? join(ROOT, '.tmp', 'bench-quick')
            : join(ROOT, 'bench')),
    ),
  };
}

const SYSTEMS: Record<SystemName, () => SystemSpec> = {
  raftkit: () => raftkitSystem(),
  hashicorp: () => hashicorpSystem,
  etcd: () => etcdSystem,
};

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function machineInfo(dataDir: string): Record<string, string | number> {
  const fs = firstLine('findmnt', ['-n', '-o', 'SOURCE,FSTYPE', '--target', dataDir]);
  return {
    cpus: cpus().length,
    'CPU model': cpus()[0]?.model ?? '?',
    'memory GiB': Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    'data disk': fs,
  };
}

function versions(options: Options): Record<string, string> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const commit = firstLine('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']);
  const debian = (name: string) => firstLine('dpkg-query', ['-W', '-f', '${Version}', name]);
  const out: Record<string, string> = { node: process.version, raftkit: `${pkg.version} (${commit})` };
  if (options.systems.includes('hashicorp')) {
    out['hashicorp/raft'] = debian('golang-github-hashicorp-raft-dev');
    out['raft-boltdb'] = debian('golang-github-hashicorp-raft-boltdb-dev');
  }
  if (options.systems.includes('etcd'))
    out.etcd = firstLine(ETCD_BIN, ['--version']).replace('etcd Version: ', '');
  out.go = firstLine('go', ['version']).replace('go version ', '');
  return out;
}

/** Samples the 1-minute load average every 5 s for RESULTS.md (bench code may read real time). */
function sampleLoad(): { stop(): number[] } {
  const samples = [loadavg()[0]];
  const timer = setInterval(() => samples.push(loadavg()[0]), 5000);
  return {
    stop() {
      clearInterval(timer);
      samples.push(loadavg()[0]);
      return samples;
    },
  };
}

async function runLibrary(options: Options, root: string): Promise<LibrarySample[]> {
  const dir = mkdtempSync(join(root, 'library-'));
  return runJson<LibrarySample[]>(process.execPath, [
    join(ROOT, 'dist-bench', 'bench', 'library.js'),
    '--dir',
    dir,
    '--warmup',
    String(options.libraryS.warmup),
    '--duration',
    String(options.libraryS.duration),
  ]);
}

async function runLoadPart(options: Options, results: BenchResults): Promise<void> {
  const runs: SystemRun[] = [];
  for (let repetition = 0; repetition < options.repetitions; repetition++) {
    // Rotating the order spreads slow spells of the shared machine across the systems.
    const order = options.systems.map((_, i) => options.systems[(i + repetition) % options.systems.length]);
    for (const name of order) {
      log(`repetition ${repetition + 1}/${options.repetitions}: ${name}`);
      runs.push(await runSystem(SYSTEMS[name](), repetition, options.load, () => loadavg()[0], log));
    }
  }
  results.runs = runs;
  results.systems = summarizeSystems(runs);
  const { ratios, runs: ratioRuns } = computeRatios(runs);
  results.ratios = ratios;
  results.ratio_runs = ratioRuns;
}

async function runBench(options: Options, root: string): Promise<BenchResults> {
  const load = sampleLoad();
  const results: BenchResults = {
    generated: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    quick: options.quick,
    machine: machineInfo(root),
    versions: versions(options),
    settings: {
      ...options.load,
      repetitions: options.repetitions,
      systems: options.systems,
      parts: options.parts,
    },
    load: { load1Min: NaN, load1Median: NaN, load1Max: NaN, otherCoresMedian: NaN },
    systems: {},
    ratios: {},
    ratio_runs: {},
    runs: [],
  };
  try {
    if (options.parts.includes('floor')) {
      results.floor = await runFloor(root, options.floorS);
      log(`floor: ${JSON.stringify(results.floor)}`);
    }
    if (options.parts.includes('library')) {
      results.library = await runLibrary(options, root);
      log(`library: ${JSON.stringify(results.library)}`);
    }
    if (options.parts.includes('restart')) {
      results.restart = await measureRestart(root, options.restartEntries, options.repetitions, log);
    }
    if (options.parts.includes('snapshot')) {
      results.snapshot_install = await measureSnapshotInstall(options.snapshotMiB, log);
      log(`snapshot install: ${JSON.stringify(results.snapshot_install)}`);
    }
    if (options.parts.includes('load')) await runLoadPart(options, results);
  } finally {
    const samples = load.stop();
    const others = results.runs.flatMap((run) => Object.values(run.phases).map((phase) => phase.otherCores));
    results.load = {
      load1Min: Math.min(...samples),
      load1Median: median(samples),
      load1Max: Math.max(...samples),
      otherCoresMedian: median(others),
    };
  }
  return results;
}

async function prepare(options: Options): Promise<void> {
  buildLoadgen();
  if (options.profile || options.trace || options.parts.some((part) => part !== 'floor')) {
    // raftkit's `kv serve` runs from dist/ (npm run build); this script from dist-bench/.
    readFileSync(join(ROOT, 'dist', 'cli.js'));
  }
  if (options.parts.includes('load') && options.systems.includes('hashicorp')) buildGoNode();
  if (options.parts.includes('load') && options.systems.includes('etcd')) ensureEtcd();
}

/** Everything this run started, ended: Ctrl-C, errors and normal exits alike. */
async function cleanup(root: string): Promise<void> {
  killChildren();
  await cleanupGoNodes();
  rmSync(root, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const options = parseOptions();
  await prepare(options);
  const root = mkdtempSync(join(tmpdir(), 'raftkit-bench-'));
  const interrupted = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping every process and removing ${root}`);
    void cleanup(root).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    if (options.profile) {
      await runProfile(options.outDir, options.load, root, log);
      return;
    }
    if (options.trace) {
      mkdirSync(options.outDir, { recursive: true });
      log(await traceC1(options.outDir, options.load, root));
      return;
    }
    const results = await runBench(options, root);
    mkdirSync(options.outDir, { recursive: true });
    writeFileSync(join(options.outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(options.outDir, 'RESULTS.md'), renderMarkdown(results));
    log(`wrote ${join(options.outDir, 'RESULTS.md')} and results.json`);
    const problems = checkResults(results);
    if (problems.length > 0) {
      log(`results are incomplete:\n  ${problems.join('\n  ')}`);
      process.exitCode = 1;
    }
  } finally {
    await cleanup(root);
  }
}

try {
  await main();
} catch (error) {
  log(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
}
