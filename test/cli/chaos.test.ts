/**
 * `raftkit chaos` end to end (dist/cli.js, built by `npm test`'s pretest): real kv serve processes
 * under SIGKILL, SIGSTOP and partitions must produce a linearizable history, and deliberately
 * broken servers (reads from local state) must not. Longer runs: `raftkit chaos --duration 120`.
 */
import { existsSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatChaosReport, parseChaosArgs } from '../../src/cli/chaos-command.js';
import { runChaos } from '../../src/cli/chaos.js';
import { UsageError } from '../../src/cli/command.js';

const cliPath = resolve('dist/cli.js');

describe('raftkit chaos', () => {
  it('finds the history of a healthy cluster under kill -9, whole-cluster crashes, SIGSTOP and partitions linearizable', async () => {
    const report = await runChaos({ durationMs: 6000, seed: 5, cliPath });
    const text = formatChaosReport(report).join('\n');
    expect(report.linearizability.ok, text).toBe(true);
    expect(report.counts.writesOk).toBeGreaterThan(20);
    expect(report.counts.readsOk).toBeGreaterThan(20);
    expect(report.events.filter((line) => /kill -9|pause|isolate/.test(line)).length).toBeGreaterThanOrEqual(
      2,
    );
    expect(report.kept).toBeNull();
    console.log(text);
  }, 90_000);

  it('catches servers that answer reads from local state, and keeps the history', async () => {
    const report = await runChaos({
      durationMs: 4000,
      seed: 6,
      faults: ['isolate'],
      breakStaleReads: true,
      cliPath,
    });
    try {
      expect(report.linearizability.ok).toBe(false);
      const bad = report.linearizability.keys.find((key) => key.verdict === 'violation')!;
      expect(bad.stuck!.some((op) => op.kind === 'read')).toBe(true);
      expect(existsSync(`${report.kept}/history.json`)).toBe(true);
      expect(formatChaosReport(report).at(-2)).toBe('linearizable: NO');
    } finally {
      if (report.kept) rmSync(report.kept, { recursive: true, force: true });
    }
  }, 90_000);

  it('refuses bad flags with a usage error', () => {
    expect(parseChaosArgs(['--duration', '20', '--faults', 'kill,isolate', '--nodes', '5'])).toMatchObject({
      durationMs: 20_000,
      faults: ['kill', 'isolate'],
      nodes: 5,
      breakStaleReads: false,
    });
    for (const argv of [
      ['--nodes', '4'],
      ['--faults', 'meteor'],
      ['--duration', '0'],
      ['--break', 'votes'],
      ['--what'],
    ]) {
      expect(() => parseChaosArgs(argv)).toThrow(UsageError);
    }
  });
});
