/** The KV service on a Raft server (src/kv/service.ts): publishing this server's HTTP address. */
import { describe, expect, it } from 'vitest';
import { announceHttpAddress } from '../../src/kv/service.js';
import { FakeSingleNodeCluster } from './fake-cluster.js';

describe('announceHttpAddress', () => {
  it('writes the address once while leading, and never as a follower', async () => {
    const cluster = new FakeSingleNodeCluster();
    expect(await announceHttpAddress(cluster, cluster.fsm, 'http://127.0.0.1:8001')).toBe(true);
    expect(cluster.fsm.httpAddress('n1')).toBe('http://127.0.0.1:8001');
    expect(await announceHttpAddress(cluster, cluster.fsm, 'http://127.0.0.1:8001')).toBe(false);
    cluster.follow('n2');
    expect(await announceHttpAddress(cluster, cluster.fsm, 'http://127.0.0.1:9001')).toBe(false);
    expect(cluster.applyCalls).toBe(1);
  });
});
