/** The `raftkit kv put|get|del|status` client commands (src/cli/kv-client.ts), run through the CLI's dispatcher. */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/command.js';
import { runCaptured } from './cli-io.js';
import { useLeaderAndFollower } from './leader-and-follower.js';

const nodes = useLeaderAndFollower();

function cli(argv: string[], extra: Partial<CliIo> = {}) {
  return runCaptured(['kv', ...argv], extra);
}

describe('raftkit kv client commands', () => {
  it('put, get and del round-trip with exit code 0', async () => {
    const put = await cli(['put', 'greeting', 'hello', '--addr', nodes.leaderUrl]);
    expect(put).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(put.stdout.toString())).toEqual({ index: 1, revision: 1 });
    const get = await cli(['get', 'greeting', '--addr', nodes.leaderUrl]);
    expect(get.code).toBe(0);
    expect(get.stdout.toString()).toBe('hello');
    expect((await cli(['del', 'greeting', '--addr', nodes.leaderUrl])).code).toBe(0);
    const missing = await cli(['get', 'greeting', '--addr', nodes.leaderUrl]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/not found/);
  });

  it('follows the redirect from a follower to the leader', async () => {
    expect((await cli(['put', 'a/b', 'v', '--addr', nodes.followerUrl])).code).toBe(0);
    expect(Buffer.from(nodes.leader.fsm.get('a/b')!).toString()).toBe('v');
    expect(nodes.follower.fsm.get('a/b')).toBeUndefined();
    expect((await cli(['get', 'a/b', `--addr=${nodes.followerUrl}`])).stdout.toString()).toBe('v');
  });

  it('get --stale reads the follower itself', async () => {
    nodes.follower.seed('local', 'follower copy');
    const get = await cli(['get', 'local', '--stale', '--addr', nodes.followerUrl]);
    expect(get.stdout.toString()).toBe('follower copy');
  });

  it('takes --addr from RAFTKIT_ADDR', async () => {
    expect((await cli(['put', 'k', 'v'], { env: { RAFTKIT_ADDR: nodes.leaderUrl } })).code).toBe(0);
  });

  it('reads the value from stdin when none is given', async () => {
    const stdin = Readable.from([Buffer.from([0, 1]), Buffer.from([2, 255])]);
    expect((await cli(['put', 'bin', '--addr', nodes.leaderUrl], { stdin })).code).toBe(0);
    expect((await cli(['get', 'bin', '--addr', nodes.leaderUrl])).stdout).toEqual(
      Buffer.from([0, 1, 2, 255]),
    );
  });

  it('put --prev is compare-and-set; a mismatch exits 1', async () => {
    expect((await cli(['put', 'k', 'one', '--prev', '', '--addr', nodes.leaderUrl])).code).toBe(0);
    const clash = await cli(['put', 'k', 'two', '--prev', '', '--addr', nodes.leaderUrl]);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toMatch(/compare-and-set failed/);
    expect((await cli(['put', 'k', 'two', '--prev', 'one', '--addr', nodes.leaderUrl])).code).toBe(0);
    expect(Buffer.from(nodes.leader.fsm.get('k')!).toString()).toBe('two');
  });

  it('status prints pretty JSON', async () => {
    const status = await cli(['status', '--addr', nodes.followerUrl]);
    expect(status.code).toBe(0);
    expect(status.stdout.toString()).toContain('\n  "id": "n2",\n');
    expect(JSON.parse(status.stdout.toString())).toMatchObject({
      id: 'n2',
      state: 'Follower',
      leader: { id: 'n1' },
    });
  });

  it('a refused write exits 1 with the server error', async () => {
    const res = await cli(['put', '_raftkit/x', 'v', '--addr', nodes.leaderUrl]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/reserved/);
  });

  it('an unreachable server exits 1', async () => {
    for (const command of [['status'], ['get', 'k']]) {
      const res = await cli([...command, '--addr', 'http://127.0.0.1:1', '--timeout', '1']);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/cannot reach/);
    }
  });

  const usage: string[][] = [
    [],
    ['frobnicate'],
    ['get'],
    ['get', 'a', 'b'],
    ['put'],
    ['status', 'x'],
    ['get', 'k', '--prev', 'x'],
    ['put', 'k', 'v', '--stale'],
    ['get', 'k', '--addr'],
    ['get', 'k', '--addr', 'localhost:8001'],
    ['put', 'k'],
  ];
  for (const argv of usage) {
    it(`exits 2 on usage error: ${JSON.stringify(argv)}`, async () => {
      const res = await cli(argv);
      expect(res.code).toBe(2);
      expect(res.stderr).toMatch(/usage: raftkit kv/);
      expect(nodes.leader.applyCalls + nodes.follower.applyCalls).toBe(0);
    });
  }
});
