/**
 * The Raft paper's rules (Ongaro & Ousterhout 2014, section numbers in the test names) and
 * hashicorp's additions, checked on the pure core.
 */
import { describe, expect, it } from 'vitest';
import type { RaftCore } from '../../src/core/raft.js';
import {
  LogType,
  RaftState,
  ServerSuffrage,
  type AppendEntriesRequest,
  type AppendEntriesResponse,
  type LogEntry,
  type RequestVoteResponse,
} from '../../src/core/types.js';
import {
  afterStartupQuiet,
  configurationOf,
  deliver,
  drain,
  entry,
  makeCore,
  requestsOf,
} from './harness.js';

const three = configurationOf(['a', 'b', 'c']);

function appendRequest(over: Partial<AppendEntriesRequest>): AppendEntriesRequest {
  return {
    kind: 'appendEntries',
    term: 2,
    leader: { id: 'b', address: 'addr-b' },
    prevLogIndex: 1,
    prevLogTerm: 1,
    entries: [],
    leaderCommitIndex: 1,
    ...over,
  };
}

/** Makes the core leader; returns the Ready it produced on winning (Noop and heartbeats). */
function elect(core: RaftCore) {
  core.tick(1000);
  const ready = drain(core);
  for (const out of requestsOf(ready, 'requestVote')) {
    core.onResponse(out, { term: core.term, granted: true });
  }
  return drain(core);
}

describe('5.2 leader election', () => {
  it('a follower that hears nothing for an election timeout becomes a candidate, votes for itself and asks for votes', () => {
    const core = makeCore('a', three);
    core.tick(99);
    expect(core.state).toBe(RaftState.Follower);
    core.tick(1000);
    expect(core.state).toBe(RaftState.Candidate);
    expect(core.term).toBe(2);
    expect(core.vote?.id).toBe('a');
    const ready = drain(core);
    expect(ready.write?.hardState).toMatchObject({ term: 2, vote: { id: 'a' } });
    const votes = requestsOf(ready, 'requestVote');
    expect(votes.map((v) => v.to.id).sort()).toEqual(['b', 'c']);
    // The requests may only leave once the self-vote is durable.
    expect(Math.min(...votes.map((v) => v.after))).toBeGreaterThanOrEqual(ready.write!.seq);
  });

  it('a candidate that wins a majority becomes leader and appends a Noop of its term', () => {
    const core = makeCore('a', three);
    core.tick(1000);
    const [first] = requestsOf(drain(core), 'requestVote');
    core.onResponse(first, { term: 2, granted: true });
    expect(core.state).toBe(RaftState.Leader);
    const ready = drain(core);
    expect(ready.write?.entries.map((e) => [e.index, e.term, e.type])).toEqual([[2, 2, LogType.Noop]]);
  });

  it('each server grants at most one vote per term, and the vote is persisted before the reply', () => {
    const core = afterStartupQuiet(makeCore('a', three));
    const vote = (candidate: string) =>
      deliver(core, {
        kind: 'requestVote',
        term: 2,
        candidate: { id: candidate, address: `addr-${candidate}` },
        lastLogIndex: 1,
        lastLogTerm: 1,
        leadershipTransfer: false,
      });
    const first = vote('b');
    expect((first.response as RequestVoteResponse).granted).toBe(true);
    expect(first.ready.write?.hardState?.vote?.id).toBe('b');
    expect(first.after).toBe(first.ready.write!.seq);
    expect((vote('c').response as RequestVoteResponse).granted).toBe(false);
    expect((vote('b').response as RequestVoteResponse).granted).toBe(true);
  });

  it('a server adopts a higher term it sees and becomes a follower', () => {
    const core = makeCore('a', three);
    const [heartbeat] = requestsOf(elect(core), 'appendEntries');
    expect(core.state).toBe(RaftState.Leader);
    const response: AppendEntriesResponse = { term: 9, lastLog: 1, success: false, noRetryBackoff: false };
    core.onResponse(heartbeat, response);
    expect(core.state).toBe(RaftState.Follower);
    expect(core.term).toBe(9);
  });

  it('a candidate steps down when a leader of its term appends', () => {
    const core = makeCore('a', three);
    core.tick(1000);
    drain(core);
    deliver(core, appendRequest({ term: 2 }));
    expect(core.state).toBe(RaftState.Follower);
    expect(core.leader?.id).toBe('b');
  });
});

describe('5.4.1 election restriction', () => {
  it('a vote is denied to a candidate whose log is less up to date', () => {
    const core = afterStartupQuiet(makeCore('a', three, { terms: [2, 3], term: 3 }));
    const ask = (lastLogIndex: number, lastLogTerm: number) =>
      (
        deliver(core, {
          kind: 'requestVote',
          term: 4,
          candidate: { id: 'b', address: 'addr-b' },
          lastLogIndex,
          lastLogTerm,
          leadershipTransfer: false,
        }).response as RequestVoteResponse
      ).granted;
    expect(ask(9, 2)).toBe(false); // longer but older last term
    expect(ask(2, 3)).toBe(false); // same last term, shorter
    expect(ask(3, 3)).toBe(true); // equal
  });
});

describe('5.3 log replication', () => {
  it('the consistency check rejects a missing previous entry and hints our last index', () => {
    const core = makeCore('a', three);
    const { response } = deliver(core, appendRequest({ prevLogIndex: 5, prevLogTerm: 2 }));
    expect(response).toMatchObject({ success: false, lastLog: 1, noRetryBackoff: true });
  });

  it('the consistency check rejects a term mismatch and hints past the conflicting term', () => {
    const core = makeCore('a', three, { terms: [1, 3, 3, 3], term: 3 });
    const { response } = deliver(core, appendRequest({ term: 4, prevLogIndex: 5, prevLogTerm: 2 }));
    expect(response).toMatchObject({ success: false, lastLog: 2 });
  });

  it("conflicting entries are deleted and replaced by the leader's", () => {
    const core = makeCore('a', three, { terms: [1, 2, 2], term: 2, commit: 2 });
    const { response, ready } = deliver(
      core,
      appendRequest({
        term: 3,
        prevLogIndex: 2,
        prevLogTerm: 1,
        entries: [entry(3, 3), entry(4, 3), entry(5, 3)],
      }),
    );
    expect(response).toMatchObject({ success: true, lastLog: 5 });
    expect(ready.write?.truncateFrom).toBe(3);
    expect(ready.write?.entries.map((e) => e.index)).toEqual([3, 4, 5]);
    expect([3, 4, 5].map((i) => core.termAt(i))).toEqual([3, 3, 3]);
  });

  it('a success is only sent after the appended entries are durable', () => {
    const core = makeCore('a', three);
    core.step({ rpcId: 1, request: appendRequest({ entries: [entry(2, 2)] }) });
    const ready = core.ready();
    expect(ready.responses[0].after).toBe(ready.write!.seq);
  });

  it('a follower commits min(leaderCommit, index of the last new entry), not beyond what it verified', () => {
    const core = makeCore('a', three, { terms: [1, 1, 1], term: 1 });
    deliver(core, appendRequest({ prevLogIndex: 2, prevLogTerm: 1, leaderCommitIndex: 9 }));
    expect(core.commitIndex).toBe(2);
  });
});

describe('5.4.2 committing entries from previous terms', () => {
  function leaderWithOldEntry(faults = {}): { core: RaftCore } {
    // Leader of term 3 whose log holds an uncommitted entry of term 2 at index 2 (Figure 8).
    const core = makeCore('a', configurationOf(['a', 'b', 'c', 'd', 'e']), { terms: [2], term: 2, faults });
    core.tick(1000);
    for (const out of requestsOf(drain(core), 'requestVote'))
      core.onResponse(out, { term: 3, granted: true });
    return { core };
  }

  /** b and c acknowledge holding entries prevLogIndex+1.. (entry 2 of term 2, maybe the Noop). */
  function acknowledge(core: RaftCore, entries: LogEntry[]): void {
    const ready = drain(core);
    for (const out of requestsOf(ready, 'appendEntries').filter((o) => o.heartbeatRound === 0)) {
      if (out.to.id !== 'b' && out.to.id !== 'c') continue;
      const request: AppendEntriesRequest = {
        ...(out.request as AppendEntriesRequest),
        prevLogIndex: 1,
        prevLogTerm: 1,
        entries,
      };
      core.onResponse({ ...out, request }, { term: 3, lastLog: 2, success: true, noRetryBackoff: false });
    }
  }

  it("counting replicas of an earlier term's entry never commits it; the current term's Noop does", () => {
    const { core } = leaderWithOldEntry();
    const noop = entry(3, 3, LogType.Noop);
    acknowledge(core, [entry(2, 2)]);
    expect(core.commitIndex).toBe(1);
    core.tick(core.now + 20); // the commit tick sends again
    acknowledge(core, [entry(2, 2), noop]);
    expect(core.commitIndex).toBe(3);
  });

  it('the deliberately broken variant commits it (what the simulator must catch)', () => {
    const { core } = leaderWithOldEntry({ commitPreviousTermEntries: true });
    acknowledge(core, [entry(2, 2)]);
    expect(core.commitIndex).toBe(2);
  });
});

describe('hashicorp additions', () => {
  it('pre-vote (1.7): a pre-candidate asks with term+1 but changes neither its term nor its vote', () => {
    const core = makeCore('a', three, { preVote: true });
    core.tick(1000);
    expect(core.state).toBe(RaftState.Candidate);
    expect(core.term).toBe(1);
    expect(core.vote).toBeNull();
    const ready = drain(core);
    expect(ready.write).toBeNull();
    const preVotes = requestsOf(ready, 'requestPreVote');
    expect(preVotes.map((p) => p.request.term)).toEqual([2, 2]);
    core.onResponse(preVotes[0], { term: 2, granted: true });
    expect(core.term).toBe(2);
    expect(requestsOf(drain(core), 'requestVote').length).toBe(2);
  });

  it('a peer that closes the connection on RequestPreVote (hashicorp < 1.7) counts as granted', () => {
    const core = makeCore('a', three, { preVote: true });
    core.tick(1000);
    const [first] = requestsOf(drain(core), 'requestPreVote');
    core.onFailure(first, 'unsupported');
    expect(core.term).toBe(2);
    expect(core.preVoteUnsupported.has(first.to.id)).toBe(true);
  });

  it('a follower that heard from a leader within the election timeout refuses votes unless the transfer flag is set', () => {
    const core = makeCore('a', three);
    deliver(core, appendRequest({ term: 2 }));
    const ask = (leadershipTransfer: boolean) =>
      (
        deliver(core, {
          kind: 'requestVote',
          term: 3,
          candidate: { id: 'c', address: 'addr-c' },
          lastLogIndex: 1,
          lastLogTerm: 1,
          leadershipTransfer,
        }).response as RequestVoteResponse
      ).granted;
    expect(ask(false)).toBe(false);
    expect(core.term).toBe(2);
    expect(ask(true)).toBe(true);
  });

  it('check-quorum: a leader that has not heard from a quorum within leaderLeaseTimeout steps down', () => {
    const core = makeCore('a', three);
    elect(core);
    expect(core.state).toBe(RaftState.Leader);
    // Ticked as its timers tick it (every commitTimeout, 10 ms): the lease (50 ms) runs out.
    const start = core.now;
    while (core.state === RaftState.Leader && core.now < start + 200) core.tick(core.now + 10);
    expect(core.state).toBe(RaftState.Follower);
    expect(core.now - start).toBeLessThanOrEqual(2 * core.options.leaderLeaseTimeout);
  });

  it("check-quorum: the leader's own stall is not its peers' silence; answers read after it keep it leading", () => {
    const core = makeCore('a', three);
    elect(core);
    drain(core);
    // The process stalled for 4 leases: the first input after it (an answer that waited in the
    // socket) ticks the core before the answers are read. It must not step down then.
    core.tick(core.now + 200);
    expect(core.state).toBe(RaftState.Leader);
    const heartbeats = requestsOf(drain(core), 'appendEntries').filter((o) => o.heartbeatRound > 0);
    expect(heartbeats.length).toBeGreaterThan(0);
    for (const heartbeat of heartbeats) {
      core.onResponse(heartbeat, { term: 2, lastLog: 1, success: true, noRetryBackoff: false });
    }
    drain(core);
    // Still leading a lease later, the answers counted.
    const start = core.now;
    for (let t = 10; t <= 40; t += 10) core.tick(start + t);
    expect(core.state).toBe(RaftState.Leader);
    // And with no answer after that, the lease runs out on the awake clock as it would otherwise.
    while (core.state === RaftState.Leader && core.now < start + 500) core.tick(core.now + 10);
    expect(core.state).toBe(RaftState.Follower);
    expect(core.now - start).toBeLessThanOrEqual(2 * core.options.leaderLeaseTimeout + 10);
  });

  it('a server outside the configuration gets no vote', () => {
    const core = makeCore('a', three);
    const { response } = deliver(core, {
      kind: 'requestVote',
      term: 5,
      candidate: { id: 'z', address: 'addr-z' },
      lastLogIndex: 9,
      lastLogTerm: 9,
      leadershipTransfer: false,
    });
    expect((response as RequestVoteResponse).granted).toBe(false);
  });

  it('non-voters never campaign', () => {
    const core = makeCore('d', configurationOf(['a', 'b', 'c'], ['d']));
    core.tick(10_000);
    expect(core.state).toBe(RaftState.Follower);
  });

  it('a single-voter cluster elects itself and commits once its own write is durable', () => {
    const core = makeCore('a', configurationOf(['a']));
    core.tick(1000);
    expect(core.state).toBe(RaftState.Leader);
    const ready = core.ready();
    expect(core.commitIndex).toBe(1);
    core.persisted(ready.write!.seq);
    expect(core.commitIndex).toBe(2);
  });
});

describe('reads (Raft thesis 6.4)', () => {
  function leaderWithReady() {
    const core = makeCore('a', three);
    core.tick(1000);
    for (const out of requestsOf(drain(core), 'requestVote'))
      core.onResponse(out, { term: 2, granted: true });
    return { core, ready: drain(core) };
  }

  it('a read waits for an entry of the current term to commit, then for a heartbeat round acked by a quorum', () => {
    const { core, ready } = leaderWithReady();
    core.readIndex(1);
    expect(drain(core).events.some((e) => e.type === 'readState')).toBe(false);
    // Commit the Noop through b.
    const append = requestsOf(ready, 'appendEntries').find((o) => o.to.id === 'b' && o.heartbeatRound === 0)!;
    const noop = entry(2, 2, LogType.Noop);
    core.onResponse(
      { ...append, request: { ...(append.request as AppendEntriesRequest), entries: [noop] } },
      { term: 2, lastLog: 2, success: true, noRetryBackoff: false },
    );
    expect(core.commitIndex).toBe(2);
    const round = drain(core);
    expect(round.events.some((e) => e.type === 'readState')).toBe(false);
    const heartbeat = requestsOf(round, 'appendEntries').find(
      (o) => o.heartbeatRound > 0 && o.to.id === 'c',
    )!;
    core.onResponse(heartbeat, { term: 2, lastLog: 2, success: true, noRetryBackoff: false });
    expect(drain(core).events).toContainEqual({ type: 'readState', readId: 1, index: 2 });
  });

  /** A new leader of term 2 whose Noop (index 2) b has acknowledged: a quorum of a, b, c. */
  function leaderWithNoopAckedByB() {
    const { core, ready } = leaderWithReady();
    const append = requestsOf(ready, 'appendEntries').find((o) => o.to.id === 'b' && o.heartbeatRound === 0)!;
    core.onResponse(
      {
        ...append,
        request: { ...(append.request as AppendEntriesRequest), entries: [entry(2, 2, LogType.Noop)] },
      },
      { term: 2, lastLog: 2, success: true, noRetryBackoff: false },
    );
    return { core, ready };
  }

  it('a lease read is answered at once while a quorum acked a recent round, and not after the lease ran out', () => {
    const { core, ready } = leaderWithNoopAckedByB();
    const heartbeat = requestsOf(ready, 'appendEntries').find(
      (o) => o.heartbeatRound > 0 && o.to.id === 'b',
    )!;
    core.onResponse(heartbeat, { term: 2, lastLog: 2, success: true, noRetryBackoff: false });
    drain(core);
    core.readIndex(7, true);
    expect(drain(core).events).toContainEqual({ type: 'readState', readId: 7, index: 2 });
    // Past the lease (0.9 election timeouts), with timers held back so check-quorum does not act.
    core.now += 95;
    core.readIndex(8, true);
    expect(drain(core).events.some((e) => e.type === 'readState' && e.readId === 8)).toBe(false);
  });

  it('no lease read after TimeoutNow went out, even once the transfer timed out and a quorum acked a newer round', () => {
    const { core } = leaderWithNoopAckedByB();
    drain(core);
    // b holds the whole log: TimeoutNow goes out at once, and b may win votes however recently the
    // voters heard from us.
    core.transferLeadership({ id: 'b', address: 'addr-b', suffrage: ServerSuffrage.Voter });
    expect(requestsOf(drain(core), 'timeoutNow')).toHaveLength(1);
    // We do not hear of b's election (a slow link): c still acknowledges our rounds, the transfer
    // times out and we still lead.
    const start = core.now;
    core.tick(start + 50);
    const midway = requestsOf(drain(core), 'appendEntries').find(
      (o) => o.heartbeatRound > 0 && o.to.id === 'c',
    )!;
    core.onResponse(midway, { term: 2, lastLog: 2, success: true, noRetryBackoff: false });
    drain(core);
    core.tick(start + 100);
    expect(core.state).toBe(RaftState.Leader);
    const round = drain(core);
    expect(round.events.some((e) => e.type === 'transferDone')).toBe(true);
    // c acknowledges a round sent after the timeout (it may have voted for b before that).
    const heartbeat = requestsOf(round, 'appendEntries').find(
      (o) => o.heartbeatRound > 0 && o.to.id === 'c',
    )!;
    core.onResponse(heartbeat, { term: 2, lastLog: 2, success: true, noRetryBackoff: false });
    drain(core);
    core.readIndex(9, true);
    expect(drain(core).events.some((e) => e.type === 'readState' && e.readId === 9)).toBe(false);
  });

  it('a server that just started refuses votes for one election timeout (it cannot know of a lease)', () => {
    const core = makeCore('a', three);
    const ask = () =>
      (
        deliver(core, {
          kind: 'requestVote',
          term: 2,
          candidate: { id: 'b', address: 'addr-b' },
          lastLogIndex: 1,
          lastLogTerm: 1,
          leadershipTransfer: false,
        }).response as RequestVoteResponse
      ).granted;
    expect(ask()).toBe(false);
    core.tick(100);
    expect(ask()).toBe(true);
  });
});
