/**
 * hashicorp's NotifyCh as a NotifyChannel (issue 15 part 5): every leadership transition in order,
 * never two equal values in a row, a bounded buffer that drops the oldest pair of transitions when
 * a consumer is behind (so what it reads still alternates and ends at the server's state), and
 * the end of iteration at shutdown.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrInvalidConfig } from '../../src/core/errors.js';
import { RaftState } from '../../src/core/types.js';
import { MAX_NOTIFY_CAPACITY, NotifyChannel } from '../../src/raft/notify-channel.js';
import { TestCluster, waitFor, type TestNode } from './helpers.js';

/** Reads what is buffered now, without waiting for more. */
async function drain(channel: NotifyChannel): Promise<boolean[]> {
  const values: boolean[] = [];
  while (channel.size > 0) {
    const { value, done } = await channel.next();
    if (done) break;
    values.push(value);
  }
  return values;
}

function sendAll(channel: NotifyChannel, values: boolean[]): void {
  for (const value of values) channel.send(value);
}

describe('NotifyChannel', () => {
  it('hands each transition to a waiting reader, in order, and ignores repeats', async () => {
    const channel = new NotifyChannel();
    const first = channel.next();
    const second = channel.next();
    sendAll(channel, [false, true, true, false, false]);
    expect(await first).toEqual({ value: true, done: false });
    expect(await second).toEqual({ value: false, done: false });
    expect(channel.size).toBe(0);
  });

  it('a full buffer drops the oldest pair: what is read alternates and ends at the latest state', async () => {
    const channel = new NotifyChannel({ capacity: 3 });
    sendAll(channel, [true, false, true, false]); // full at [T F T]; F drops T F -> [T F]
    expect(channel.size).toBe(2);
    sendAll(channel, [true, false, true]); // [T F T], then F -> [T F], then T -> [T F T]
    expect(channel.dropped).toBe(4);
    expect(await drain(channel)).toEqual([true, false, true]);
  });

  it('keeps alternating from the last value read, whatever the capacity and the number of flaps', async () => {
    for (const capacity of [1, 2, 3, 4, 7]) {
      for (const flaps of [1, 2, 5, 20]) {
        const channel = new NotifyChannel({ capacity });
        channel.send(true);
        const read = [(await channel.next()).value];
        for (let i = 0; i < flaps; i++) sendAll(channel, [false, true]);
        channel.send(false);
        read.push(...(await drain(channel)));
        expect(channel.size).toBe(0);
        for (let i = 1; i < read.length; i++) expect(read[i], `capacity ${capacity}`).toBe(!read[i - 1]);
        expect(read.at(-1)).toBe(false);
        expect(read.length - 1 + channel.dropped).toBe(2 * flaps + 1);
        expect(read.length - 1).toBeLessThanOrEqual(capacity);
      }
    }
  });

  it('capacity 1: a lead-and-lose while nobody reads leaves nothing to read', async () => {
    const channel = new NotifyChannel({ capacity: 1 });
    sendAll(channel, [true, false]);
    expect(channel.size).toBe(0);
    expect(channel.dropped).toBe(2);
    channel.send(true);
    expect(await drain(channel)).toEqual([true]);
  });

  it('close: buffered values are still read, then iteration ends; a waiting reader ends at once', async () => {
    const idle = new NotifyChannel();
    const waiting = idle.next();
    idle.close();
    expect(await waiting).toEqual({ value: undefined, done: true });

    const channel = new NotifyChannel();
    sendAll(channel, [true, false]);
    channel.close();
    channel.send(true);
    const read: boolean[] = [];
    for await (const leader of channel) read.push(leader);
    expect(read).toEqual([true, false]);
  });

  it('refuses a capacity outside 1..MAX_NOTIFY_CAPACITY and options that are not an object', () => {
    for (const capacity of [0, -1, 1.5, MAX_NOTIFY_CAPACITY + 1, Number.NaN, '4']) {
      expect(() => new NotifyChannel({ capacity: capacity as number }), String(capacity)).toThrow(RangeError);
    }
    expect(() => new NotifyChannel(null as unknown as object)).toThrow(TypeError);
    expect(new NotifyChannel({ capacity: MAX_NOTIFY_CAPACITY }).capacity).toBe(MAX_NOTIFY_CAPACITY);
  });
});

describe('config.notifyCh on a running cluster', () => {
  const clusters: TestCluster[] = [];
  afterEach(async () => {
    await Promise.all(clusters.splice(0).map((c) => c.shutdown()));
  });

  async function cluster(
    capacity?: number,
  ): Promise<{ c: TestCluster; channels: Map<string, NotifyChannel> }> {
    const channels = new Map<string, NotifyChannel>();
    const c = new TestCluster((id) => {
      const channel = new NotifyChannel({ capacity });
      channels.set(id, channel);
      return { notifyCh: channel };
    });
    clusters.push(c);
    await c.start(['a', 'b', 'c']);
    return { c, channels };
  }

  const other = (c: TestCluster, leader: TestNode) => c.nodes.find((n) => n !== leader)!;

  it('true on becoming leader, false on losing it (transfer), false and the end at shutdown', async () => {
    const { c, channels } = await cluster();
    const first = await c.leader();
    expect(await channels.get(first.id)!.next()).toEqual({ value: true, done: false });
    const target = other(c, first);
    await first.raft.leadershipTransferToServer(target.id, target.address);
    expect(await channels.get(first.id)!.next()).toEqual({ value: false, done: false });
    expect(await channels.get(target.id)!.next()).toEqual({ value: true, done: false });
    await c.stop(target);
    expect(await drain(channels.get(target.id)!)).toEqual([false]);
    expect(await channels.get(target.id)!.next()).toEqual({ value: undefined, done: true });
    // The third server: whatever it read (nothing, or a term of its own), iteration ends at shutdown.
    const third = c.nodes.find((n) => n !== first)!;
    await c.stop(third);
    const read: boolean[] = [];
    for await (const leader of channels.get(third.id)!) read.push(leader);
    expect([[], [true, false]]).toContainEqual(read);
  });

  it('a consumer that reads nothing while leadership flaps gets bounded, alternating values ending at the state', async () => {
    const { c, channels } = await cluster(2);
    let leader = await c.leader();
    const flapper = leader;
    for (let i = 0; i < 6; i++) {
      const target = leader === flapper ? other(c, flapper) : flapper;
      await leader.raft.leadershipTransferToServer(target.id, target.address);
      leader = await waitFor(
        () => (target.raft.state === RaftState.Leader ? target : undefined),
        5000,
        'the target to lead',
      );
    }
    const channel = channels.get(flapper.id)!;
    expect(channel.size).toBeLessThanOrEqual(2);
    expect(channel.dropped).toBeGreaterThan(0);
    const read = await drain(channel);
    for (let i = 1; i < read.length; i++) expect(read[i]).toBe(!read[i - 1]);
    expect(read.at(-1)).toBe(flapper.raft.state === RaftState.Leader);
  });

  it('refuses one channel for two servers (ErrInvalidConfig) and anything but a NotifyChannel', async () => {
    const shared = new NotifyChannel();
    const c = new TestCluster({ notifyCh: shared });
    clusters.push(c);
    await expect(c.start(['a', 'b'])).rejects.toBeInstanceOf(ErrInvalidConfig);
    const wrong = new TestCluster({ notifyCh: { send() {} } as unknown as NotifyChannel });
    clusters.push(wrong);
    await expect(wrong.start(['x'])).rejects.toThrow(/notifyCh must be a NotifyChannel/);
  });
});
