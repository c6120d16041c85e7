/**
 * Issue 16, the soak's liveness seeds (37364, 40518, 50358, 51298, 79622 with 5 nodes, 70149 with
 * 3): a server that never pre-votes (hashicorp/raft before 1.7) and missed its own removal keeps
 * campaigning, a term further each election timeout. A voter whose configuration is older still
 * counts it as a voter and gives it its vote in each new term, and the one candidate that could win
 * needs exactly that vote. The candidate refuses the removed server as a stranger (issue 11: its
 * term changes nothing here), so it learned each new term only by losing an election in it: its
 * pre-vote asked for the term the voter was in (granted: pre-vote grants at the voter's own term,
 * as hashicorp's does), its vote for that term was refused (already given), and round after round
 * it asked for the term the voter had already given away. Now the refused candidate's term is
 * remembered (only that; nothing else changes) and the next campaign asks for a term past it.
 */
import { describe, expect, it } from 'vitest';
import { STRANGER_TERM_WINDOW } from '../../src/core/election.js';
import type { RaftCore } from '../../src/core/raft.js';
import {
  LogType,
  RaftState,
  type AppendEntriesRequest,
  type Peer,
  type RaftResponse,
  type RequestVoteRequest,
  type RequestVoteResponse,
} from '../../src/core/types.js';
import {
  afterStartupQuiet,
  codec,
  configurationOf,
  deliver,
  drain,
  entry,
  loadLogEntries,
  makeCore,
  newCore,
  requestsOf,
} from './harness.js';

/** The removed server: hashicorp 1.1.2's header names it by address only. */
const removed: Peer = { id: '', address: 'addr-x' };

/** Its campaign in `term`, with the log it had when it was removed (index 2, term 1). */
function removedServerVote(term: number): RequestVoteRequest {
  return {
    kind: 'requestVote',
    term,
    candidate: removed,
    lastLogIndex: 2,
    lastLogTerm: 1,
    leadershipTransfer: false,
  };
}

/**
 * The candidate `a`: its log holds the configuration that replaced x by d (index 3, not committed),
 * and is longer than anyone else's. d is gone, so `a` needs b's vote.
 */
function candidate(): RaftCore {
  const core = newCore('a', { preVote: true });
  core.restore({ now: 0, hardState: { term: 1, vote: null, commit: 2 }, snapshot: null });
  loadLogEntries(core, [
    entry(1, 1, LogType.Configuration, codec.encode(configurationOf(['a', 'b', 'x']))),
    entry(2, 1),
    entry(3, 1, LogType.Configuration, codec.encode(configurationOf(['a', 'b', 'd']))),
    entry(4, 1),
  ]);
  core.start();
  return afterStartupQuiet(core);
}

/** The voter `b`: it never received index 3, so x is a voter to it. */
function staleVoter(): RaftCore {
  return afterStartupQuiet(makeCore('b', configurationOf(['a', 'b', 'x']), { terms: [1] }));
}

/** `a` times out and campaigns; every request to b is delivered and answered; d never answers. */
function campaign(a: RaftCore, b: RaftCore): number[] {
  const asked: number[] = [];
  a.tick(a.now + 1000);
  let pending = drain(a).requests;
  while (pending.length > 0) {
    for (const out of pending) {
      if (out.to.id !== 'b' || (out.request.kind !== 'requestPreVote' && out.request.kind !== 'requestVote'))
        continue;
      asked.push(out.request.term);
      const { response } = deliver(b, out.request);
      a.onResponse(out, response);
    }
    pending = requestsOf(drain(a), 'requestVote');
  }
  return asked;
}

function observe(core: RaftCore) {
  return { term: core.term, state: core.state, leader: core.leader, vote: core.vote };
}

describe('a removed server that never pre-votes keeps taking a stale voter’s vote', () => {
  it('the candidate that needs that vote still wins: its campaign asks for a term past the removed server’s', () => {
    const a = candidate();
    const b = staleVoter();
    const asked: number[][] = [];
    // Each round the removed server campaigns first (a term further), then `a` times out.
    for (let round = 0, term = 2; round < 5 && a.state !== RaftState.Leader; round++, term++) {
      const granted = deliver(b, removedServerVote(term)).response as RequestVoteResponse;
      expect(granted).toEqual({ term, granted: true });
      // To `a` it is a stranger: refused, and nothing changes (issue 11).
      const before = observe(a);
      const refused = deliver(a, removedServerVote(term));
      expect(refused.response).toEqual({ term: before.term, granted: false });
      expect(refused.ready.write).toBeNull();
      expect(observe(a)).toEqual(before);
      asked.push(campaign(a, b));
    }
    // Pre-vote and vote both for term 3, past the removed server's 2, in the first round.
    expect(asked).toEqual([[3, 3]]);
    expect(a.state).toBe(RaftState.Leader);
    expect(a.term).toBe(3);
  });
});

describe('what a refused candidate’s term may do', () => {
  it('a term beyond ours + STRANGER_TERM_WINDOW is not remembered', () => {
    const a = candidate();
    const b = staleVoter();
    deliver(a, removedServerVote(1 + STRANGER_TERM_WINDOW + 1));
    expect(campaign(a, b)[0]).toBe(2);
  });

  it('a term shown while we follow a live leader is not remembered', () => {
    const a = candidate();
    const b = staleVoter();
    const heartbeat: AppendEntriesRequest = {
      kind: 'appendEntries',
      term: 1,
      leader: { id: 'b', address: 'addr-b' },
      prevLogIndex: 4,
      prevLogTerm: 1,
      entries: [],
      leaderCommitIndex: 2,
    };
    expect((deliver(a, heartbeat).response as RaftResponse & { success: boolean }).success).toBe(true);
    deliver(a, removedServerVote(5));
    expect(campaign(a, b)[0]).toBe(2);
  });

  it('a pre-vote’s term (never campaigned in) is not remembered', () => {
    const a = candidate();
    const b = staleVoter();
    deliver(a, {
      kind: 'requestPreVote',
      term: 5,
      candidate: { id: 'x', address: 'addr-x' },
      lastLogIndex: 2,
      lastLogTerm: 1,
    });
    expect(campaign(a, b)[0]).toBe(2);
  });
});
