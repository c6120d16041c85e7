/**
 * `npm run bench -- --profile`: CPU profiles of raftkit under the benchmark's load, for
 * bench/PROFILE.md. A fresh 3-node `kv serve` cluster runs under `node --cpu-prof` for each of
 * c64 writes and c1 writes (warm-up + measured window as in the bench, then a graceful stop so the
 * profiles are written), and the in-process library bench runs under `--cpu-prof` at 64
 * outstanding applies. The .cpuprofile files (open them in Chrome DevTools or speedscope for flame
 * graphs) and summary.md with the top functions per process land in --out-dir.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupGoNodes } from '../test/interop/harness.js';
import type { LoadSettings } from './cluster-load.js';
import { renderProfileSummary, summarizeProfile, type CpuProfile } from './cpuprofile.js';
import { runLoad } from './loadgen.js';
import { raftkitSystem, startCluster } from './systems.js';
import { ROOT, runJson } from './tools.js';

const PROFILED_LOADS = [
  { name: 'c64', concurrency: 64 },
  { name: 'c1', concurrency: 1 },
];
const LIBRARY_OUTSTANDING = 64;

/** Runs one load on a profiled cluster; returns each node's profile directory by its role. */
async function profileLoad(
  outDir: string,
  load: { name: string; concurrency: number },
  settings: LoadSettings,
  log: (line: string) => void,
): Promise<[string, string][]> {
  const profileDir = join(outDir, load.name);
  const system = raftkitSystem(profileDir);
  const nodes = await startCluster(system);
  try {
    const leader = await system.leader(nodes);
    const ordered = [leader, ...nodes.filter((node) => node !== leader)];
    const result = await runLoad({
      api: 'kv',
      urls: ordered.map((node) => `http://${node.httpAddress}`),
      pids: ordered.map((node) => node.pid!),
      op: 'put',
      concurrency: load.concurrency,
      warmupS: settings.warmupS,
      durationS: settings.durationS,
      keys: settings.keys,
      valueSize: settings.valueSize,
    });
    log(
      `profile ${load.name}: ${Math.round(result.rate)} writes/s, p50 ${result.latency_ms.p50.toFixed(2)} ms (slowed by the profiler)`,
    );
    // --cpu-prof writes the profile when the process exits normally.
    await Promise.all(ordered.map((node) => node.stop(60_000)));
    return ordered.map((node, i) => [
      `${load.name} ${i === 0 ? 'leader' : 'follower'} (${node.id})`,
      join(profileDir, node.id),
    ]);
  } finally {
    await cleanupGoNodes();
  }
}

function summarizeDir(title: string, dir: string): string {
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
  if (file === undefined) return `### ${title}\n\nno profile written in ${dir}\n`;
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  return renderProfileSummary(`${title}: ${join(dir, file).replace(ROOT, '')}`, summarizeProfile(profile));
}

export async function runProfile(
  outDir: string,
  settings: LoadSettings,
  root: string,
  log: (line: string) => void,
): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const profiled: [string, string][] = [];
  for (const load of PROFILED_LOADS) profiled.push(...(await profileLoad(outDir, load, settings, log)));
  const libraryProfile = join(outDir, 'library');
  const library = await runJson<unknown>(process.execPath, [
    '--cpu-prof',
    '--cpu-prof-dir',
    libraryProfile,
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
  log(`profile library: ${JSON.stringify(library)}`);
  profiled.push([
    `library, ${LIBRARY_OUTSTANDING} outstanding applies (3 nodes, one process)`,
    libraryProfile,
  ]);
  const summary = profiled.map(([title, dir]) => summarizeDir(title, dir)).join('\n');
  writeFileSync(join(outDir, 'summary.md'), `# CPU profiles\n\n${summary}`);
  log(`wrote ${join(outDir, 'summary.md')}`);
}
