import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/command.js';
import { simCommand } from '../../src/cli/sim.js';

async function run(argv: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await simCommand(argv, (line) => lines.push(line));
  return { code, lines };
}

describe('raftkit sim', () => {
  it('prints one summary line with seeds run, violations and seeds/s', async () => {
    const { code, lines } = await run(['--seeds', '2', '--seed', '5']);
    expect(code).toBe(0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^seeds run: 2, violations: 0 \(failing seeds: 0\), seeds\/s: [\d.]+, CPU ms\/seed: [\d.]+, steps\/seed: \d+, virtual ms\/seed: \d+ \|/,
    );
  });

  it('prints the replay command and the trace of a failing seed (here a deliberately broken core)', async () => {
    const { code, lines } = await run(['--seed', '1', '--seeds', '50', '--break', 'skipUpToDateCheck']);
    expect(code).toBe(1);
    expect(lines[0]).toMatch(/violations: [1-9]/);
    const replay = lines.find((line) => line.includes('replay:'));
    expect(replay).toMatch(/npm run sim -- --seed \d+ --nodes [35] --break skipUpToDateCheck/);
    expect(lines.some((line) => line.includes('last events:'))).toBe(true);
  });

  it('refuses bad flags with a usage error', async () => {
    await expect(run(['--seeds', 'many'])).rejects.toBeInstanceOf(UsageError);
    await expect(run(['--nodes', '4'])).rejects.toBeInstanceOf(UsageError);
    await expect(run(['--break', 'everything'])).rejects.toBeInstanceOf(UsageError);
    await expect(run(['--faults', 'crash,meteor'])).rejects.toThrow(/--faults takes/);
    await expect(run(['--faults', ''])).rejects.toBeInstanceOf(UsageError);
    await expect(run(['--leaders', 'raft'])).rejects.toBeInstanceOf(UsageError);
    await expect(run(['--jobs', '0'])).rejects.toBeInstanceOf(UsageError);
  });

  it('--json: the last line is one JSON object; a failing seed is listed with its violation and exit 1', async () => {
    const passing = await run([
      '--seed',
      '3',
      '--faults',
      'crash,partition',
      '--leaders',
      'hashicorp',
      '--json',
    ]);
    expect(passing.code).toBe(0);
    const summary = JSON.parse(passing.lines.at(-1)!) as Record<string, unknown>;
    expect(summary).toMatchObject({
      seeds: 1,
      failures: [],
      faults: ['crash', 'partition'],
      leaders: ['hashicorp'],
    });
    expect(summary.seedsPerSecond).toBeGreaterThan(0);
    // The work behind the speed: a 6000 ms safety phase plus the liveness phase, thousands of steps.
    expect(summary.cpuMsPerSeed).toBeGreaterThan(0);
    expect(summary.stepsPerSeed).toBeGreaterThan(1000);
    expect(summary.virtualMsPerSeed).toBeGreaterThanOrEqual(6000);
    const failing = await run(['--seed', '1', '--seeds', '20', '--break', 'voteTwice', '--json']);
    expect(failing.code).toBe(1);
    const report = JSON.parse(failing.lines.at(-1)!) as {
      failures: { seed: number; violation: string; replay: string }[];
    };
    expect(report.failures).toHaveLength(1);
    expect(report.failures[0].violation).toMatch(/election safety/);
    expect(report.failures[0].replay).toContain(`--seed ${report.failures[0].seed} `);
  });
});
