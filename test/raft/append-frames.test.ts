/**
 * AppendEntries stay below the receiver's frame limit (issue 11 item 2, leader side): the bound the
 * runtime budgets with holds for real frames, a batch too large for one frame is cut into runs,
 * and an entry that could never fit is refused by apply() before anything is written.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrTooLarge } from '../../src/core/errors.js';
import { LogType, type AppendEntriesRequest, type LogEntry } from '../../src/core/types.js';
import { entriesBudget, splitByBytes } from '../../src/raft/append-frames.js';
import { APPEND_ENTRIES_FRAME_OVERHEAD, MAX_PEER_BYTES } from '../../src/wire/bounds.js';
import { requestToWire } from '../../src/wire/convert.js';
import { Encoder } from '../../src/wire/encoder.js';
import { writeRequestFrame } from '../../src/wire/frames.js';
import { logWireBound } from '../../src/wire/log.js';
import {
  kill,
  leaderOf,
  restart,
  startCluster,
  stopCluster,
  write,
  type ClusterNode,
} from '../transport/cluster-node.js';
import { waitFor } from '../support/wait.js';

function entry(index: number, bytes: number): LogEntry {
  return {
    index,
    term: 2 ** 40,
    type: LogType.Command,
    data: new Uint8Array(bytes).fill(7),
    extensions: new Uint8Array(bytes % 5).fill(1),
    appendedAt: Date.UTC(2026, 0, 1),
  };
}

describe('the frame bound', () => {
  it('covers the encoded AppendEntries with the longest peer fields and large numbers', () => {
    const entries = [0, 1, 300, 70_000].map((bytes, i) => entry(2 ** 45 + i, bytes));
    const peer = 'x'.repeat(MAX_PEER_BYTES);
    const request: AppendEntriesRequest = {
      kind: 'appendEntries',
      term: 2 ** 47,
      leader: { id: peer, address: peer },
      prevLogIndex: 2 ** 47,
      prevLogTerm: 2 ** 47,
      entries,
      leaderCommitIndex: 2 ** 47,
    };
    const encoder = new Encoder();
    writeRequestFrame(encoder, requestToWire(request));
    const bound = APPEND_ENTRIES_FRAME_OVERHEAD + entries.reduce((sum, e) => sum + logWireBound(e), 0);
    expect(encoder.length).toBeLessThanOrEqual(bound);
    // And it is not loose by more than the peer fields' share and the per-entry slack.
    expect(bound - encoder.length).toBeLessThan(APPEND_ENTRIES_FRAME_OVERHEAD);
  });

  it('cuts a batch into consecutive runs that each fit, a lone oversized entry alone', () => {
    const entries = [10, 10, 10, 500, 10].map((bytes, i) => entry(i + 1, bytes));
    const budget = 3 * logWireBound(entries[0]);
    const runs = splitByBytes(entries, budget);
    expect(runs.map((run) => run.map((e) => e.index))).toEqual([[1, 2, 3], [4], [5]]);
    expect(splitByBytes(entries, 1 << 20)).toEqual([entries]);
    expect(entriesBudget(1 << 20)).toBe((1 << 20) - APPEND_ENTRIES_FRAME_OVERHEAD);
  });
});

describe('a leader whose batch is larger than the frame limit', () => {
  let nodes: ClusterNode[] = [];
  afterEach(async () => {
    await stopCluster(nodes);
    nodes = [];
  });

  const FRAME = 256 * 1024;

  it('replicates it in several frames, and refuses an entry that can never fit', async () => {
    nodes = await startCluster(3, [], 'lmdb', { maxFrameBytes: FRAME });
    await write(nodes, 'first');
    const leader = leaderOf(nodes)!;
    const follower = nodes.find((node) => node !== leader)!;
    await kill(follower);
    // 40 entries of 20 KiB: the catch-up batch (up to 64 entries) is ~800 KiB, three frames' worth.
    // (write() retries through an election, so an entry may commit twice: compare, do not count.)
    const big = (i: number) => `${i}:`.padEnd(20 * 1024, 'x');
    await Promise.all(Array.from({ length: 40 }, (_, i) => write(nodes, big(i), 30_000)));
    await restart(follower);
    const caughtUp = () => {
      const current = leaderOf(nodes);
      const items = current?.fsm.items;
      return items && items.length >= 41 && follower.fsm.items.join() === items.join() ? current : undefined;
    };
    const current = await waitFor(caughtUp, 20_000, 'the follower catches up');

    const lastIndex = current.raft!.lastIndex();
    await expect(current.raft!.apply(new Uint8Array(FRAME))).rejects.toBeInstanceOf(ErrTooLarge);
    await expect(current.raft!.apply(new Uint8Array(FRAME))).rejects.toThrow(/cannot be replicated/);
    expect(current.raft!.lastIndex()).toBe(lastIndex);
  }, 60_000);
});
