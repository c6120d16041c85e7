/**
 * The public API's arguments are checked before anything is written (issue 15 part 1), partial
 * config reloads merge (part 2), and every wait refuses a signal that is already aborted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrAborted, ErrApplyTimeout, ErrInvalidConfig } from '../../src/core/errors.js';
import { defaultConfig, validateConfig } from '../../src/raft/config.js';
import type { Raft } from '../../src/raft/raft.js';
import { TestCluster, waitFor } from './helpers.js';

const clusters: TestCluster[] = [];
afterEach(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.shutdown()));
});

async function cluster(): Promise<TestCluster> {
  const c = new TestCluster();
  clusters.push(c);
  await c.start(['a', 'b', 'c']);
  await c.leader();
  return c;
}

// What a JavaScript caller (or `as any`) can pass.
const loose = (raft: Raft) => raft as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;

describe('argument checks', () => {
  it('apply of a string is a TypeError and writes nothing; every replica applies the same bytes', async () => {
    const c = await cluster();
    const leader = await c.leader();
    await c.write(1);
    const before = leader.raft.lastIndex();
    await expect(loose(leader.raft).apply('a string')).rejects.toBeInstanceOf(TypeError);
    await expect(loose(leader.raft).apply([1, 2, 3])).rejects.toThrow(/Uint8Array/);
    await expect(loose(leader.raft).apply(null)).rejects.toBeInstanceOf(TypeError);
    await expect(loose(leader.raft).applyLog({ data: 'x' })).rejects.toBeInstanceOf(TypeError);
    await expect(
      loose(leader.raft).applyLog({ data: new Uint8Array(1), extensions: 'x' }),
    ).rejects.toBeInstanceOf(TypeError);
    expect(leader.raft.lastIndex()).toBe(before);
    await c.write(1, 'after');
    await waitFor(() => c.nodes.every((n) => n.fsm.items.length === 2), 5000, 'every replica to apply');
    for (const node of c.nodes) expect(node.fsm.items).toEqual(['v0', 'after0']);
  });

  it('wait options are checked: timeout a non-negative integer, signal an AbortSignal', async () => {
    const c = await cluster();
    const leader = await c.leader();
    const before = leader.raft.lastIndex();
    const data = new Uint8Array([1]);
    await expect(leader.raft.apply(data, { timeout: -1 })).rejects.toBeInstanceOf(RangeError);
    await expect(leader.raft.apply(data, { timeout: Number.NaN })).rejects.toBeInstanceOf(RangeError);
    await expect(loose(leader.raft).apply(data, { timeout: '100' })).rejects.toBeInstanceOf(TypeError);
    await expect(loose(leader.raft).apply(data, { signal: {} })).rejects.toBeInstanceOf(TypeError);
    await expect(loose(leader.raft).apply(data, 'fast')).rejects.toBeInstanceOf(TypeError);
    await expect(loose(leader.raft).barrier({ timeout: -5 })).rejects.toBeInstanceOf(RangeError);
    await expect(loose(leader.raft).readIndex({ lease: 'yes' })).rejects.toBeInstanceOf(TypeError);
    expect(leader.raft.lastIndex()).toBe(before);
  });

  it('membership and transfer arguments are checked before the configuration changes', async () => {
    const c = await cluster();
    const leader = await c.leader();
    const { index } = leader.raft.getConfiguration();
    const raft = loose(leader.raft);
    await expect(raft.addVoter(7, 'addr-x')).rejects.toBeInstanceOf(TypeError);
    await expect(raft.addVoter('', 'addr-x')).rejects.toBeInstanceOf(RangeError);
    await expect(raft.addNonvoter('x', undefined)).rejects.toBeInstanceOf(TypeError);
    await expect(raft.removeServer('b', -1)).rejects.toBeInstanceOf(RangeError);
    await expect(raft.demoteVoter('b', 0, -3)).rejects.toBeInstanceOf(RangeError);
    await expect(raft.leadershipTransferToServer('b', 5)).rejects.toBeInstanceOf(TypeError);
    await expect(raft.waitApplied(-1)).rejects.toBeInstanceOf(RangeError);
    expect(leader.raft.getConfiguration().index).toBe(index);
  });

  it('a signal already aborted refuses every wait at once, as apply does', async () => {
    const c = await cluster();
    const leader = await c.leader();
    const follower = c.nodes.find((n) => n !== leader)!;
    const signal = AbortSignal.abort();
    await expect(leader.raft.apply(new Uint8Array(1), { signal })).rejects.toBeInstanceOf(ErrAborted);
    await expect(leader.raft.verifyLeader({ signal })).rejects.toBeInstanceOf(ErrAborted);
    await expect(leader.raft.readIndex({ signal })).rejects.toBeInstanceOf(ErrAborted);
    await expect(follower.raft.readIndex({ signal })).rejects.toBeInstanceOf(ErrAborted);
    await expect(leader.raft.waitApplied(10_000, { signal })).rejects.toBeInstanceOf(ErrAborted);
    await expect(leader.raft.removeServer('b', 0, { signal })).rejects.toBeInstanceOf(ErrAborted);
    expect(leader.raft.getConfiguration().configuration.servers).toHaveLength(3);
  });

  it("a follower's readIndex honours its timeout when the leader cannot answer", async () => {
    const c = await cluster();
    const leader = await c.leader();
    const follower = c.nodes.find((n) => n !== leader)!;
    // The leader takes requests and never answers them.
    leader.raft.transport.setHandler(() => {});
    await expect(follower.raft.readIndex({ timeout: 200 })).rejects.toBeInstanceOf(ErrApplyTimeout);
    const controller = new AbortController();
    const reading = follower.raft.readIndex({ signal: controller.signal });
    controller.abort();
    await expect(reading).rejects.toBeInstanceOf(ErrAborted);
  });
});

describe('reloadConfig', () => {
  it('a partial reload merges with the current values; reloadableConfig() reads them', async () => {
    const c = await cluster();
    const leader = await c.leader();
    const before = leader.raft.reloadableConfig();
    leader.raft.reloadConfig({ trailingLogs: 5 });
    expect(leader.raft.reloadableConfig()).toEqual({ ...before, trailingLogs: 5 });
    // JavaScript callers may pass undefined for a field they do not mean to change.
    leader.raft.reloadConfig({ heartbeatTimeout: undefined, snapshotThreshold: 7 });
    expect(leader.raft.reloadableConfig()).toEqual({ ...before, trailingLogs: 5, snapshotThreshold: 7 });
    expect(leader.raft.config.heartbeatTimeout).toBe(before.heartbeatTimeout);
    // Failover still works after the reloads (timeouts intact).
    await c.stop(leader);
    await c.leader();
  });

  it('an invalid reload, or one of a field that is not reloadable, changes nothing', async () => {
    const c = await cluster();
    const leader = await c.leader();
    const before = leader.raft.reloadableConfig();
    expect(() => leader.raft.reloadConfig({ electionTimeout: 1 })).toThrow(ErrInvalidConfig);
    expect(() => leader.raft.reloadConfig({ trailingLogs: -1 })).toThrow(ErrInvalidConfig);
    expect(() => leader.raft.reloadConfig({ snapshotLogLimit: -1 })).toThrow(ErrInvalidConfig);
    expect(() => leader.raft.reloadConfig({ localId: 'z' } as never)).toThrow(/cannot be reloaded/);
    expect(() => loose(leader.raft).reloadConfig(null)).toThrow(TypeError);
    expect(leader.raft.reloadableConfig()).toEqual(before);
  });
});

describe('config validation', () => {
  it('protocolVersion other than 3 is refused, not ignored', () => {
    for (const protocolVersion of [0, 1, 2, 4]) {
      expect(() => validateConfig({ ...defaultConfig(), localId: 'a', protocolVersion })).toThrow(
        /ProtocolVersion \d is not supported/,
      );
    }
    expect(() => validateConfig({ ...defaultConfig(), localId: 'a' })).not.toThrow();
  });

  it('snapshotLogLimit must be a non-negative safe integer; 0 (the timer only) is allowed', () => {
    const base = { ...defaultConfig(), localId: 'a' };
    for (const snapshotLogLimit of [-1, 1.5, Number.NaN, Infinity, 2 ** 53, '10' as never]) {
      expect(() => validateConfig({ ...base, snapshotLogLimit })).toThrow(/snapshotLogLimit/);
    }
    for (const snapshotLogLimit of [0, 1, 65_536]) {
      expect(() => validateConfig({ ...base, snapshotLogLimit })).not.toThrow();
    }
  });

  it('catchUpTimeout must be a duration no shorter than electionTimeout', () => {
    expect(() => validateConfig({ ...defaultConfig(), localId: 'a', catchUpTimeout: 10 })).toThrow(
      ErrInvalidConfig,
    );
  });
});

describe('lastContact', () => {
  it('is a Date: now on the leader, the last heartbeat on a follower', async () => {
    const c = await cluster();
    const leader = await c.leader();
    const follower = c.nodes.find((n) => n !== leader)!;
    await c.write(1);
    const before = Date.now();
    const onLeader = leader.raft.lastContact();
    expect(onLeader).toBeInstanceOf(Date);
    expect(Math.abs(onLeader!.getTime() - before)).toBeLessThan(1000);
    const onFollower = follower.raft.lastContact();
    expect(onFollower).toBeInstanceOf(Date);
    expect(before - onFollower!.getTime()).toBeLessThan(5000);
  });
});
