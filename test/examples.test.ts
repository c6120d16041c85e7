/**
 * The programs in examples/ run as a user would run them: `node examples/<name>.js`, importing
 * 'raftkit' through package.json's exports (dist/, which `npm test` builds first). Each must print
 * what it did, exit 0 and leave nothing running. TCP examples get free ports as arguments.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { freePorts } from './kit/helpers.js';

const run = promisify(execFile);

/** Runs an example; rejects (failing the test) on a non-zero exit, a signal or the timeout. */
async function runExample(name: string, args: string[] = []): Promise<string[]> {
  const { stdout, stderr } = await run(process.execPath, [`examples/${name}`, ...args], { timeout: 45_000 });
  expect(stderr).toBe('');
  return stdout.trimEnd().split('\n');
}

async function loopbackAddresses(count: number): Promise<string[]> {
  return (await freePorts(count)).map((port) => `127.0.0.1:${port}`);
}

describe('examples', () => {
  it('inmem-cluster.js: three in-memory nodes elect a leader and replicate a journal', async () => {
    const lines = await runExample('inmem-cluster.js');
    expect(lines[0]).toMatch(/^leader: [abc] \(term \d+\)$/);
    expect(lines.slice(1, 4)).toEqual([
      expect.stringMatching(/^applied "first" at index \d+: journal has 1 lines$/),
      expect.stringMatching(/^applied "second" at index \d+: journal has 2 lines$/),
      expect.stringMatching(/^applied "third" at index \d+: journal has 3 lines$/),
    ]);
    expect(lines.slice(4)).toEqual([
      'a: first, second, third',
      'b: first, second, third',
      'c: first, second, third',
      'shut down',
    ]);
  });

  it('replicated-counter.js: a RaftNode counter over TCP survives a transfer and a restart', async () => {
    const addrs = await loopbackAddresses(3);
    const lines = await runExample('replicated-counter.js', addrs);
    const server = `(${addrs.map((addr) => addr.replaceAll('.', '\\.')).join('|')})`;
    expect(lines).toHaveLength(6);
    [5, 15, 35].forEach((total, i) =>
      expect(lines[i]).toMatch(new RegExp(`^leader ${server} added \\d+ at index \\d+: counter = ${total}$`)),
    );
    expect(lines[3]).toMatch(new RegExp(`^after the transfer, leader ${server} added 7: counter = 42$`));
    // The restarted server replays what it knew to be committed. A follower learns a commit with
    // the leader's next append or heartbeat, or at the commit tick (commitTimeout), not at once, so
    // this can be any total the cluster had reached (seen in a fresh-clone run: 15). The next line
    // checks that it then catches up.
    expect(lines[4]).toMatch(
      new RegExp(`^${server} restarted from its directory: counter = (0|5|15|35|42)$`),
    );
    expect(lines[5]).toBe('every server: 42, 42, 42');
  });

  it('lock-service.js: grants one holder at a time, and fencing tokens stop a stale write', async () => {
    const lines = await runExample('lock-service.js', await loopbackAddresses(3));
    expect(lines).toHaveLength(8);
    const [, first] = /^alice acquires "report": granted, token (\d+)$/.exec(lines[0]) ?? [];
    expect(first).toBeDefined();
    expect(lines[1]).toBe('bob acquires "report": refused, held by alice');
    expect(lines[2]).toBe(`alice writes: accepted "draft by alice" (token ${first})`);
    expect(lines[3]).toBe('alice releases "report": released');
    const [, second] = /^bob acquires "report": granted, token (\d+)$/.exec(lines[4]) ?? [];
    expect(Number(second)).toBeGreaterThan(Number(first));
    expect(lines[5]).toBe(`bob writes: accepted "final by bob" (token ${second})`);
    expect(lines[6]).toBe(`alice's delayed write: refused "retry of the draft" (token ${first} < ${second})`);
    expect(lines[7]).toBe('alice releases again: refused (bob holds it now)');
  });
});
