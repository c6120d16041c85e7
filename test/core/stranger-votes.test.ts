/**
 * Issue 11, item 1 (core side): a vote or pre-vote request from a server that is not a voter of
 * the latest configuration changes nothing (term, role, leader), however high its term and
 * whatever flags it sets, unless its log is strictly ahead of ours and reaches past our latest
 * configuration (it may be a voter of a configuration we lack: issue 16's simulator seed 593); terms and indexes beyond the bounds are refused before any arithmetic;
 * and pre-vote answers carry the voter's own term (item 7).
 */
import { describe, expect, it } from 'vitest';
import { ErrOutOfRange, MAX_TERM } from '../../src/core/bounds.js';
import { STRANGER_TERM_WINDOW } from '../../src/core/election.js';
import type { RaftCore } from '../../src/core/raft.js';
import {
  RaftState,
  type AppendEntriesRequest,
  type Peer,
  type RequestPreVoteRequest,
  type RequestVoteRequest,
  type RequestVoteResponse,
} from '../../src/core/types.js';
import {
  afterStartupQuiet,
  configurationOf,
  deliver,
  drain,
  makeCore,
  requestsOf,
  type TestCoreOptions,
} from './harness.js';

const withNonvoter = configurationOf(['a', 'b', 'c'], ['d']);

function heartbeat(term: number): AppendEntriesRequest {
  return {
    kind: 'appendEntries',
    term,
    leader: { id: 'b', address: 'addr-b' },
    prevLogIndex: 1,
    prevLogTerm: 1,
    entries: [],
    leaderCommitIndex: 1,
  };
}

/** The candidate's last log entry; by default far ahead of the cores here (whose log is entry 1). */
interface Last {
  lastLogIndex: number;
  lastLogTerm: number;
}
const FAR_AHEAD: Last = { lastLogIndex: 99, lastLogTerm: 99 };

function vote(
  candidate: Peer,
  term: number,
  leadershipTransfer = true,
  last = FAR_AHEAD,
): RequestVoteRequest {
  return { kind: 'requestVote', term, candidate, ...last, leadershipTransfer };
}

function preVote(candidate: Peer, term: number, last = FAR_AHEAD): RequestPreVoteRequest {
  return { kind: 'requestPreVote', term, candidate, ...last };
}

function observe(core: RaftCore) {
  return { term: core.term, state: core.state, leader: core.leader, vote: core.vote };
}

/** The shapes of a stranger: hashicorp 1.1.2 header (no ID) from an unknown address, an unknown ID, a non-voter. */
const strangers: [string, Peer][] = [
  ['no ID, unknown address (hashicorp 1.1.2 header)', { id: '', address: '10.9.9.9:8300' }],
  ['an ID not in the configuration', { id: 'z', address: 'addr-z' }],
  ['a non-voter by ID', { id: 'd', address: 'addr-d' }],
  ['no ID, the address of a non-voter', { id: '', address: 'addr-d' }],
];

describe('votes from servers that are not voters', () => {
  // Whatever its log and flags, a stranger asking for a term beyond ours + 1 changes nothing. (One
  // whose log is ahead and reaches past our latest configuration, asking for the next term, may be
  // a voter of a newer configuration we lack: see the next block.)
  for (const [shape, candidate] of strangers) {
    for (const term of [MAX_TERM, 1002]) {
      it(`${shape}, term ${term === MAX_TERM ? '2^48-1' : 'current + 1000'}, transfer flag, a log far ahead: changes nothing`, () => {
        // A follower that follows leader b in term 2, and one that has heard from no leader.
        const following = makeCore('a', withNonvoter);
        deliver(following, heartbeat(2));
        const idle = afterStartupQuiet(makeCore('a', withNonvoter));
        for (const core of [following, idle]) {
          const before = observe(core);
          const voted = deliver(core, vote(candidate, term));
          expect((voted.response as RequestVoteResponse).granted).toBe(false);
          expect(voted.response).toMatchObject({ term: before.term });
          const preVoted = deliver(core, preVote(candidate, term));
          expect(preVoted.response).toEqual({ term: before.term, granted: false });
          expect(observe(core)).toEqual(before);
          expect(voted.ready.write).toBeNull();
          expect(preVoted.ready.write).toBeNull();
        }
      });
    }
  }

  it('a voter known only by its address (no ID in the header) is still voted for', () => {
    const core = afterStartupQuiet(makeCore('a', withNonvoter));
    const { response } = deliver(core, vote({ id: '', address: 'addr-c' }, 2, false));
    expect((response as RequestVoteResponse).granted).toBe(true);
    expect(core.term).toBe(2);
    expect(core.vote).toEqual({ id: 'c', address: 'addr-c' });
  });

  it('a voter that sets the transfer flag may still interrupt a known leader', () => {
    const core = makeCore('a', withNonvoter);
    deliver(core, heartbeat(2));
    const { response } = deliver(core, vote({ id: 'c', address: 'addr-c' }, 3, true));
    expect((response as RequestVoteResponse).granted).toBe(true);
    expect(core.term).toBe(3);
  });

  // hashicorp grants here. A server wiped and added again under its old ID knows no configuration
  // until the leader reaches it, and a removed server that never learned of its removal still
  // counts that ID as a voter: its vote let the removed server win with a stale log and serve
  // stale reads (chaos seed 51). New voters join as non-voters and hold the configuration first.
  it('a server that knows no configuration yet votes for no one and changes nothing', () => {
    const core = afterStartupQuiet(makeCore('n', null));
    const before = observe(core);
    const { response } = deliver(core, vote({ id: 'a', address: 'addr-a' }, 2, false));
    expect((response as RequestVoteResponse).granted).toBe(false);
    expect(observe(core)).toEqual(before);
  });
});

describe('a stranger whose log is ahead of ours (a voter of a configuration we have not seen)', () => {
  // Simulator seed 593: n4 was added as a voter at index 141; n1r1 restarted with a log ending at
  // 134, so its latest configuration lacked n4; n3's log (146) was shorter than n4's (148), and
  // the fourth voter was gone. n4 needed n1r1's vote, and n1r1 refused every stranger: no leader
  // ever again. The thesis (4.1) grants such votes; the up-to-date rule keeps them safe.
  it('is voted for when its log is strictly ahead and reaches past our latest configuration', () => {
    const core = afterStartupQuiet(makeCore('a', withNonvoter, { terms: [1, 1] }));
    const ahead = { lastLogIndex: 5, lastLogTerm: 1 };
    const preVoted = deliver(core, preVote({ id: 'z', address: 'addr-z' }, 2, ahead));
    expect(preVoted.response).toEqual({ term: 1, granted: true });
    const { response } = deliver(core, vote({ id: 'z', address: 'addr-z' }, 2, false, ahead));
    expect((response as RequestVoteResponse).granted).toBe(true);
    expect(core.term).toBe(2);
    expect(core.vote).toEqual({ id: 'z', address: 'addr-z' });
  });

  it('a non-voter of ours that may have been promoted since: voted for on the same terms', () => {
    const core = afterStartupQuiet(makeCore('a', withNonvoter));
    const { response } = deliver(
      core,
      vote({ id: 'd', address: 'addr-d' }, 2, false, { lastLogIndex: 2, lastLogTerm: 1 }),
    );
    expect((response as RequestVoteResponse).granted).toBe(true);
  });

  const refused: [string, TestCoreOptions, Last][] = [
    // Ahead by its last term, but no entry beyond our latest configuration (index 1) to hold a newer one.
    [
      'ahead by term only, not past our latest configuration',
      { terms: [1, 1] },
      { lastLogIndex: 1, lastLogTerm: 2 },
    ],
    ['behind ours', { terms: [1, 1, 1] }, { lastLogIndex: 3, lastLogTerm: 1 }],
    ['equal to ours', { terms: [1, 1] }, { lastLogIndex: 3, lastLogTerm: 1 }],
  ];
  it('is refused, changing nothing, when it asks for a term beyond ours + STRANGER_TERM_WINDOW (pre-vote and vote)', () => {
    const core = afterStartupQuiet(makeCore('a', withNonvoter));
    const before = observe(core);
    const ahead = { lastLogIndex: 5, lastLogTerm: 1 };
    const beyond = before.term + STRANGER_TERM_WINDOW + 1;
    expect(deliver(core, preVote({ id: 'z', address: 'addr-z' }, beyond, ahead)).response).toEqual({
      term: 1,
      granted: false,
    });
    const { response } = deliver(core, vote({ id: 'z', address: 'addr-z' }, beyond, false, ahead));
    expect((response as RequestVoteResponse).granted).toBe(false);
    expect(observe(core)).toEqual(before);
  });

  // Simulator seed 12787: the voter that lacked the candidate's configuration was also two terms
  // behind it (the others' failed elections); a bound of our term + 1 left the cluster leaderless.
  it('is voted for when it asks for a term a few elections ahead of ours', () => {
    const core = afterStartupQuiet(makeCore('a', withNonvoter, { terms: [1, 1] }));
    const { response } = deliver(
      core,
      vote({ id: 'z', address: 'addr-z' }, 4, false, { lastLogIndex: 6, lastLogTerm: 3 }),
    );
    expect((response as RequestVoteResponse).granted).toBe(true);
    expect(core.term).toBe(4);
  });

  for (const [what, options, last] of refused) {
    it(`is refused, changing nothing, when its log is ${what}`, () => {
      const core = afterStartupQuiet(makeCore('a', withNonvoter, options));
      const before = observe(core);
      const voted = deliver(core, vote({ id: 'z', address: 'addr-z' }, MAX_TERM, false, last));
      expect((voted.response as RequestVoteResponse).granted).toBe(false);
      expect(deliver(core, preVote({ id: 'z', address: 'addr-z' }, MAX_TERM, last)).response).toEqual({
        term: before.term,
        granted: false,
      });
      expect(observe(core)).toEqual(before);
    });
  }

  it('is refused when it sends no ID (a vote recorded for a bare address could not be matched later)', () => {
    const core = afterStartupQuiet(makeCore('a', withNonvoter));
    const before = observe(core);
    const { response } = deliver(core, vote({ id: '', address: '10.9.9.9:8300' }, 2, false));
    expect((response as RequestVoteResponse).granted).toBe(false);
    expect(observe(core)).toEqual(before);
  });

  it('a follower that heard from its leader within the election timeout still refuses it (stickiness)', () => {
    const core = makeCore('a', withNonvoter);
    deliver(core, heartbeat(2));
    const before = observe(core);
    const { response } = deliver(core, vote({ id: 'z', address: 'addr-z' }, 3, true));
    expect((response as RequestVoteResponse).granted).toBe(false);
    expect(observe(core)).toEqual(before);
  });
});

describe('terms and indexes beyond the bounds', () => {
  const beyond: [string, RequestVoteRequest | AppendEntriesRequest][] = [
    ['a vote with term 2^53-1', vote({ id: 'c', address: 'addr-c' }, Number.MAX_SAFE_INTEGER)],
    ['a vote with term 2^48', vote({ id: 'c', address: 'addr-c' }, MAX_TERM + 1)],
    ['an append with leaderCommit 2^53-1', { ...heartbeat(2), leaderCommitIndex: Number.MAX_SAFE_INTEGER }],
    ['an append with a negative prevLogIndex', { ...heartbeat(2), prevLogIndex: -1 }],
  ];
  for (const [what, request] of beyond) {
    it(`${what} is refused with ErrOutOfRange and changes nothing`, () => {
      const core = afterStartupQuiet(makeCore('a', withNonvoter));
      const before = observe(core);
      expect(() => core.step({ rpcId: 1, request })).toThrow(ErrOutOfRange);
      expect(observe(core)).toEqual(before);
      const ready = core.ready();
      expect(ready.write).toBeNull();
      expect(ready.responses).toEqual([]);
    });
  }
});

describe('pre-vote answers (item 7)', () => {
  it('a refusal carries the voter’s own term, not the term the candidate proposed', () => {
    const core = makeCore('a', withNonvoter);
    deliver(core, heartbeat(2));
    const { response } = deliver(core, preVote({ id: 'c', address: 'addr-c' }, 3));
    expect(response).toEqual({ term: 2, granted: false });
  });

  it('a late refusal with the proposed term does not make a node that went back to following adopt it', () => {
    const core = makeCore('a', withNonvoter, { preVote: true });
    deliver(core, heartbeat(2));
    core.tick(core.now + 1000);
    expect(core.state).toBe(RaftState.Candidate);
    const [first] = requestsOf(drain(core), 'requestPreVote');
    expect(first.request.term).toBe(3);
    // The leader's heartbeat arrives first: follower again, in term 2.
    deliver(core, heartbeat(2));
    expect(core.state).toBe(RaftState.Follower);
    // Then a refusal carrying the proposed term (as raftkit answered before this fix).
    core.onResponse(first, { term: 3, granted: false });
    expect(core.term).toBe(2);
    expect(core.state).toBe(RaftState.Follower);
    expect(core.leader).toEqual({ id: 'b', address: 'addr-b' });
  });
});
