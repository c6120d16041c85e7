/**
 * Two in-process KV servers over fake single-node clusters: n1 leads, n2 follows it and knows its
 * HTTP address. Fresh for each test of the file that calls `useLeaderAndFollower()`.
 */
import { afterEach, beforeEach } from 'vitest';
import type { Clock } from '../../src/core/clock.js';
import { httpAddressKey } from '../../src/kv/commands.js';
import { KvHttpServer } from '../../src/kv/http/server.js';
import { FakeSingleNodeCluster } from '../kv/fake-cluster.js';

export interface LeaderAndFollower {
  readonly leader: FakeSingleNodeCluster;
  readonly follower: FakeSingleNodeCluster;
  readonly leaderUrl: string;
  readonly followerUrl: string;
}

export function useLeaderAndFollower(): LeaderAndFollower {
  const servers: KvHttpServer[] = [];
  const serve = async (cluster: FakeSingleNodeCluster): Promise<string> => {
    const server = new KvHttpServer({ cluster, fsm: cluster.fsm });
    servers.push(server);
    return server.listen(0);
  };
  const pair = {} as { -readonly [K in keyof LeaderAndFollower]: LeaderAndFollower[K] };
  beforeEach(async () => {
    pair.leader = new FakeSingleNodeCluster('n1');
    pair.follower = new FakeSingleNodeCluster('n2', '127.0.0.1:7002');
    pair.leaderUrl = await serve(pair.leader);
    pair.followerUrl = await serve(pair.follower);
    pair.follower.follow('n1', '127.0.0.1:7001');
    pair.follower.seed(httpAddressKey('n1'), pair.leaderUrl);
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });
  return pair;
}

/** Virtual time that jumps ahead on every timer, so retry loops finish at once. */
export function instantClock(onSleep: () => void = () => {}): Clock {
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
