import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/core/clock.js';
import { encodeCommand, httpAddressKey } from '../../src/kv/commands.js';
import { joinCluster, kvRequest, runKvClient, type CliIo } from '../../src/kv/client.js';
import { KvHttpServer } from '../../src/kv/http.js';
import { LogType } from '../../src/core/types.js';
import { FakeSingleNodeCluster } from './fake-cluster.js';

let leader: FakeSingleNodeCluster;
let follower: FakeSingleNodeCluster;
const servers: KvHttpServer[] = [];
let leaderUrl: string;
let followerUrl: string;

function seed(cluster: FakeSingleNodeCluster, key: string, value: string) {
  cluster.fsm.apply({
    index: 0,
    term: 1,
    type: LogType.Command,
    data: encodeCommand({ op: 'put', key, value: Buffer.from(value) }),
    extensions: new Uint8Array(),
    appendedAt: 0,
  });
}

async function serve(cluster: FakeSingleNodeCluster): Promise<string> {
  const server = new KvHttpServer({ cluster, fsm: cluster.fsm });
  servers.push(server);
  return server.listen(0);
}

/** Virtual time that jumps ahead on every timer, so retry loops finish at once. */
function instantClock(onSleep: () => void = () => {}): Clock {
  let now = 0;
  return {
    now: () => now,
    wallTime: () => now,
    setTimer(delayMs, fn) {
      now += delayMs;
      onSleep();
      setImmediate(fn);
      return { cancel() {} };
    },
  };
}

beforeEach(async () => {
  leader = new FakeSingleNodeCluster('n1');
  follower = new FakeSingleNodeCluster('n2', '127.0.0.1:7002');
  leaderUrl = await serve(leader);
  followerUrl = await serve(follower);
  follower.follow('n1', '127.0.0.1:7001');
  seed(follower, httpAddressKey('n1'), leaderUrl);
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function cli(argv: string[], extra: Partial<CliIo> = {}) {
  const out: Buffer[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: { write: (chunk) => out.push(Buffer.from(chunk)) },
    stderr: { write: (chunk) => err.push(String(chunk)) },
    env: {},
    clock: instantClock(),
    ...extra,
  };
  const code = await runKvClient(argv, io);
  return { code, stdout: Buffer.concat(out), stderr: err.join('') };
}

describe('raftkit kv client commands', () => {
  it('put, get and del round-trip with exit code 0', async () => {
    const put = await cli(['put', 'greeting', 'hello', '--addr', leaderUrl]);
    expect(put).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(put.stdout.toString())).toEqual({ index: 1 });
    const get = await cli(['get', 'greeting', '--addr', leaderUrl]);
    expect(get.code).toBe(0);
    expect(get.stdout.toString()).toBe('hello');
    expect((await cli(['del', 'greeting', '--addr', leaderUrl])).code).toBe(0);
    const missing = await cli(['get', 'greeting', '--addr', leaderUrl]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/not found/);
  });

  it('follows the redirect from a follower to the leader', async () => {
    expect((await cli(['put', 'a/b', 'v', '--addr', followerUrl])).code).toBe(0);
    expect(Buffer.from(leader.fsm.get('a/b')!).toString()).toBe('v');
    expect(follower.fsm.get('a/b')).toBeUndefined();
    expect((await cli(['get', 'a/b', `--addr=${followerUrl}`])).stdout.toString()).toBe('v');
  });

  it('get --stale reads the follower itself', async () => {
    seed(follower, 'local', 'follower copy');
    const get = await cli(['get', 'local', '--stale', '--addr', followerUrl]);
    expect(get.stdout.toString()).toBe('follower copy');
  });

  it('takes --addr from RAFTKIT_ADDR', async () => {
    expect((await cli(['put', 'k', 'v'], { env: { RAFTKIT_ADDR: leaderUrl } })).code).toBe(0);
  });

  it('reads the value from stdin when none is given', async () => {
    const stdin = Readable.from([Buffer.from([0, 1]), Buffer.from([2, 255])]);
    expect((await cli(['put', 'bin', '--addr', leaderUrl], { stdin })).code).toBe(0);
    expect((await cli(['get', 'bin', '--addr', leaderUrl])).stdout).toEqual(Buffer.from([0, 1, 2, 255]));
  });

  it('put --prev is compare-and-set; a mismatch exits 1', async () => {
    expect((await cli(['put', 'k', 'one', '--prev', '', '--addr', leaderUrl])).code).toBe(0);
    const clash = await cli(['put', 'k', 'two', '--prev', '', '--addr', leaderUrl]);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toMatch(/compare-and-set failed/);
    expect((await cli(['put', 'k', 'two', '--prev', 'one', '--addr', leaderUrl])).code).toBe(0);
    expect(Buffer.from(leader.fsm.get('k')!).toString()).toBe('two');
  });

  it('status prints pretty JSON', async () => {
    const status = await cli(['status', '--addr', followerUrl]);
    expect(status.code).toBe(0);
    expect(status.stdout.toString()).toContain('\n  "id": "n2",\n');
    expect(JSON.parse(status.stdout.toString())).toMatchObject({
      id: 'n2',
      state: 'Follower',
      leader: { id: 'n1' },
    });
  });

  it('a refused write exits 1 with the server error', async () => {
    const res = await cli(['put', '_raftkit/x', 'v', '--addr', leaderUrl]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/reserved/);
  });

  it('an unreachable server exits 1', async () => {
    const res = await cli(['status', '--addr', 'http://127.0.0.1:1']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/cannot reach/);
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
      expect(leader.applyCalls + follower.applyCalls).toBe(0);
    });
  }
});

describe('kvRequest', () => {
  it('retries 503 until a leader appears', async () => {
    follower.follow(null);
    let sleeps = 0;
    const clock = instantClock(() => {
      if (++sleeps === 3) follower.follow('n1', '127.0.0.1:7001');
    });
    const res = await kvRequest(followerUrl, 'PUT', '/kv/x', { body: 'v', clock });
    expect(res.status).toBe(200);
    expect(sleeps).toBe(3);
  });

  it('gives up on 503 at the deadline', async () => {
    follower.follow(null);
    const res = await kvRequest(followerUrl, 'GET', '/kv/x', { clock: instantClock(), timeout: 1000 });
    expect(res.status).toBe(503);
  });

  it('stops following a redirect loop', async () => {
    // Each node names the other as leader.
    leader.follow('n2', '127.0.0.1:7002');
    seed(leader, httpAddressKey('n2'), followerUrl);
    const res = await kvRequest(followerUrl, 'GET', '/kv/x', { maxRedirects: 3 });
    expect(res.status).toBe(307);
  });
});

describe('joinCluster', () => {
  const request = { id: 'n4', address: '127.0.0.1:7004', http: 'http://127.0.0.1:8004', voter: true };

  it('joins through a follower', async () => {
    await joinCluster(followerUrl, request, { clock: instantClock() });
    expect(leader.calls).toEqual(['addVoter n4 127.0.0.1:7004']);
    expect(leader.fsm.httpAddress('n4')).toBe('http://127.0.0.1:8004');
  });

  it('fails at once when the request is refused', async () => {
    await expect(
      joinCluster(leaderUrl, { ...request, id: 'bad id' }, { clock: instantClock() }),
    ).rejects.toThrow(/join refused.*400/);
  });

  it('retries an unreachable member until the deadline', async () => {
    let sleeps = 0;
    const clock = instantClock(() => sleeps++);
    await expect(joinCluster('http://127.0.0.1:1', request, { clock, timeout: 1000 })).rejects.toThrow(
      /cannot reach/,
    );
    expect(sleeps).toBeGreaterThan(2);
  });
});
