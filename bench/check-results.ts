/**
 * Is a results.json complete and sane? Every number the run was asked for must be there, finite
 * and positive (a smoke test of the bench itself: no speed is judged). `npm run bench` exits 1
 * when this finds problems, which is what the CI's quick run relies on.
 */
import type { BenchResults } from './report.js';

/** The ratios the issue names; required whenever raftkit and that peer both ran. */
export const REQUIRED_RATIOS = [
  'writes_c16_vs_etcd',
  'writes_c16_vs_hashicorp',
  'writes_c64_vs_etcd',
  'writes_c64_vs_hashicorp',
  'p50_c1_vs_etcd',
  'p99_c1_vs_etcd',
  'reads_c64_vs_etcd',
];

function positive(problems: string[], name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    problems.push(`${name} is ${String(value)}, not a positive number`);
  }
}

export function checkResults(results: BenchResults): string[] {
  const problems: string[] = [];
  const parts = (results.settings.parts ?? []) as string[];
  const systems = (results.settings.systems ?? []) as string[];
  if (parts.includes('load')) {
    for (const system of systems) {
      const summary = results.systems[system as keyof BenchResults['systems']];
      if (summary === undefined) {
        problems.push(`no results for ${system}`);
        continue;
      }
      for (const [phase, p] of Object.entries(summary.phases)) {
        positive(problems, `${system}.${phase}.rate`, p.rate);
        positive(problems, `${system}.${phase}.p50Ms`, p.p50Ms);
        positive(problems, `${system}.${phase}.p99Ms`, p.p99Ms);
        positive(problems, `${system}.${phase}.serverCpuPer1k`, p.serverCpuPer1k);
        positive(problems, `${system}.${phase}.leaderRssMiB`, p.leaderRssMiB);
      }
      positive(problems, `${system}.failover.medianMs`, summary.failover.medianMs);
    }
    for (const name of REQUIRED_RATIOS) {
      const peer = name.slice(name.lastIndexOf('_vs_') + 4);
      if (systems.includes('raftkit') && systems.includes(peer))
        positive(problems, `ratios.${name}`, results.ratios[name]);
    }
  }
  if (parts.includes('floor')) {
    positive(problems, 'floor.fdatasync_per_s', results.floor?.fdatasync_per_s);
    positive(problems, 'floor.loopback_rtt_p50_us', results.floor?.loopback_rtt_p50_us);
  }
  if (parts.includes('library')) {
    if (!results.library?.length) problems.push('no library results');
    for (const sample of results.library ?? []) {
      positive(problems, `library[${sample.outstanding}].appliesPerS`, sample.appliesPerS);
    }
  }
  if (parts.includes('restart')) {
    positive(problems, 'restart.raftCreateMs', results.restart?.raftCreateMs);
    positive(problems, 'restart.processToServingMs', results.restart?.processToServingMs);
  }
  if (parts.includes('snapshot')) {
    positive(problems, 'snapshot_install.mbPerS', results.snapshot_install?.mbPerS);
    positive(problems, 'snapshot_install.newcomerRssAfterMiB', results.snapshot_install?.newcomerRssAfterMiB);
  }
  return problems;
}
