/**
 * RpcRelay.sendAppendEntries (src/raft/rpc.ts), the seam between the core's AppendEntries and the
 * transport: entries are read in, a batch too large for one frame goes as consecutive runs, and
 * the core gets one answer for the batch.
 */
import { describe, expect, it } from 'vitest';
import type { OutboundRequest } from '../../src/core/ready.js';
import {
  LogType,
  type AppendEntriesRequest,
  type AppendEntriesResponse,
  type LogEntry,
  type RaftResponse,
} from '../../src/core/types.js';
import { systemClock } from '../../src/platform/clock.js';
import { discardMetrics } from '../../src/raft/metrics.js';
import { RpcRelay, type RpcHost } from '../../src/raft/rpc.js';
import type { Transport } from '../../src/transport/types.js';
import { APPEND_ENTRIES_FRAME_OVERHEAD } from '../../src/wire/bounds.js';
import { LOG_WIRE_OVERHEAD } from '../../src/wire/log.js';

const ENTRY_BYTES = 1000;
/** Room for exactly three entries per frame. */
const FRAME = APPEND_ENTRIES_FRAME_OVERHEAD + 3 * (LOG_WIRE_OVERHEAD + ENTRY_BYTES);

function entry(index: number): LogEntry {
  const term = index < 5 ? 2 : 3;
  return {
    index,
    term,
    type: LogType.Command,
    data: new Uint8Array(ENTRY_BYTES),
    extensions: new Uint8Array(0),
    appendedAt: 0,
  };
}

/** A relay over a transport that records each AppendEntries and answers with `answer`. */
function relay(
  answer: (request: AppendEntriesRequest) => AppendEntriesResponse,
  maxFrameBytes?: number,
  cached: (lo: number, hi: number) => LogEntry[] | null = () => null,
) {
  const sent: AppendEntriesRequest[] = [];
  const results: RaftResponse[] = [];
  const transport = {
    maxFrameBytes,
    appendEntries: async (_to: unknown, request: AppendEntriesRequest) => {
      sent.push({ ...request });
      return answer(request);
    },
  } as unknown as Transport;
  const host: RpcHost = {
    stopped: () => false,
    step: () => {},
    onResponse: (_out, response) => void results.push(response),
    onFailure: () => {},
    isCurrentLeadership: () => true,
    readEntries: async (lo, hi) => Array.from({ length: hi - lo + 1 }, (_, i) => entry(lo + i)),
    sendSnapshot: () => Promise.reject(new Error('unused')),
    cachedEntries: cached,
    consumingSnapshot: () => false,
  };
  const rpcs = new RpcRelay(transport, systemClock, host, discardMetrics);
  const send = async (from: number, to: number) => {
    const request: AppendEntriesRequest = {
      kind: 'appendEntries',
      term: 3,
      leader: { id: 'a', address: 'addr-a' },
      prevLogIndex: from - 1,
      prevLogTerm: 2,
      entries: [],
      leaderCommitIndex: 6,
    };
    const out: OutboundRequest = {
      id: 1,
      to: { id: 'b', address: 'addr-b', suffrage: 0 },
      request,
      entriesFrom: from,
      entriesTo: to,
      after: 0,
      epoch: 1,
      heartbeatRound: 0,
      acknowledged: 0,
    };
    rpcs.send(out);
    // How many requests reached the transport before send() returned (no await in between).
    const sentAtOnce = sent.length;
    await waitUntil(() => results.length > 0);
    return { request, response: results[0], sentAtOnce };
  };
  return { sent, send };
}

async function waitUntil(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 1));
  expect(condition()).toBe(true);
}

const success = (request: AppendEntriesRequest): AppendEntriesResponse => ({
  term: 3,
  lastLog: request.prevLogIndex + request.entries.length,
  success: true,
  noRetryBackoff: false,
});

describe('RpcRelay.sendAppendEntries', () => {
  it('sends a batch that fits as one request carrying the entries read', async () => {
    const { sent, send } = relay(success, FRAME);
    const { request, response } = await send(2, 4);
    expect(sent.map((r) => r.entries.map((e) => e.index))).toEqual([[2, 3, 4]]);
    expect(request.entries.map((e) => e.index)).toEqual([2, 3, 4]);
    expect(response).toMatchObject({ success: true, lastLog: 4 });
  });

  it('cuts a larger batch into runs, each anchored at the one before, the commit index never ahead of a run', async () => {
    const { sent, send } = relay(success, FRAME);
    const { request, response } = await send(2, 9);
    expect(
      sent.map((r) => [r.prevLogIndex, r.prevLogTerm, r.entries.map((e) => e.index), r.leaderCommitIndex]),
    ).toEqual([
      [1, 2, [2, 3, 4], 4],
      [4, 2, [5, 6, 7], 6],
      [7, 3, [8, 9], 6],
    ]);
    // The core reads what was matched from the whole batch.
    expect(request.entries).toHaveLength(8);
    expect(response).toMatchObject({ success: true, lastLog: 9 });
  });

  it('stops at the first refusal and hands it to the core', async () => {
    const { sent, send } = relay(
      (r) =>
        r.prevLogIndex === 4 ? { term: 3, lastLog: 3, success: false, noRetryBackoff: true } : success(r),
      FRAME,
    );
    const { response } = await send(2, 9);
    expect(sent).toHaveLength(2);
    expect(response).toMatchObject({ success: false, lastLog: 3 });
  });

  it('writes cached entries to the transport within send(), with no hop (c1 latency)', async () => {
    const cache = (lo: number, hi: number) => Array.from({ length: hi - lo + 1 }, (_, i) => entry(lo + i));
    const { send } = relay(success, FRAME, cache);
    const { request, sentAtOnce } = await send(2, 4);
    expect(sentAtOnce).toBe(1);
    expect(request.entries.map((e) => e.index)).toEqual([2, 3, 4]);
  });

  it('reads entries not in memory from the store (a later turn)', async () => {
    const { sent, send } = relay(success, FRAME);
    const { sentAtOnce } = await send(2, 4);
    expect(sentAtOnce).toBe(0);
    expect(sent).toHaveLength(1);
  });

  it('sends everything at once when the transport has no frame limit', async () => {
    const { sent, send } = relay(success);
    await send(2, 9);
    expect(sent).toHaveLength(1);
  });
});
