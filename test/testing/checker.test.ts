import { describe, expect, it } from 'vitest';
import { RaftState } from '../../src/core/types.js';
import type { Raft } from '../../src/raft/raft.js';
import { SafetyChecker, type CheckedNode } from '../../src/testing/checker.js';
import type { SimFsm } from '../../src/testing/sim-fsm.js';

/** Applies a write of `value` to key k at `index` on one node, as the simulated FSM reports it. */
function apply(checker: SafetyChecker, index: number, value: string): void {
  const fsm = { node: 'n1', hash: index * 7919, lastIndex: index } as SimFsm;
  checker.onApply(fsm, index, JSON.stringify({ key: 'k', value }));
}

describe('SafetyChecker read checks', () => {
  it('refuses a read older than a write acknowledged before it began', () => {
    const checker = new SafetyChecker(() => 'test');
    apply(checker, 5, 'v5');
    apply(checker, 7, 'v7');
    checker.onAcked(7, JSON.stringify({ key: 'k', value: 'v7' }));
    checker.onRead('n2', 'k', 'v5', checker.readFloor('k'));
    expect(checker.violations).toEqual([
      'test: stale read on n2: k=v5 (written at 5), but a write at 7 was acknowledged or read before the read began',
    ]);
  });

  it('refuses a read older than what an earlier read returned, with no write acknowledged', () => {
    const checker = new SafetyChecker(() => 'test');
    apply(checker, 5, 'v5');
    apply(checker, 7, 'v7');
    // Both writes are still unacknowledged; a read that sees v7 fixes the order for later reads.
    const concurrent = checker.readFloor('k');
    checker.onRead('n1', 'k', 'v7', checker.readFloor('k'));
    checker.onRead('n3', 'k', 'v5', concurrent); // began before the first read returned: fine
    expect(checker.violations).toEqual([]);
    checker.onRead('n2', 'k', 'v5', checker.readFloor('k'));
    checker.onRead('n2', 'k', undefined, checker.readFloor('k'));
    expect(checker.violations).toHaveLength(2);
    expect(checker.violations[0]).toMatch(/stale read on n2: k=v5 \(written at 5\), but a write at 7/);
    expect(checker.violations[1]).toMatch(/stale read on n2: k absent, but a write at 7/);
  });

  it('refuses a value that was never written', () => {
    const checker = new SafetyChecker(() => 'test');
    checker.onRead('n1', 'k', 'ghost', 0);
    expect(checker.violations).toEqual(['test: phantom read on n1: k=ghost was never applied']);
  });
});

describe('SafetyChecker vote checks', () => {
  const n1 = { id: 'n1', address: 'sim:1' };
  const n3 = { id: 'n3', address: 'sim:3' };

  it("accepts a grant whose vote, or a later term, is on the voter's disk", () => {
    const checker = new SafetyChecker(() => 'test');
    checker.onVoteGranted('n2', 4, n1, { term: 4, vote: n1 });
    checker.onVoteGranted('n2', 4, n1, { term: 4, vote: n1 }); // the same vote again
    checker.onVoteGranted('n4', 4, n1, { term: 5, vote: null });
    expect(checker.violations).toEqual([]);
  });

  it('refuses a grant that leaves before the vote is durable (the window a crash exploits)', () => {
    const checker = new SafetyChecker(() => 'test');
    checker.onVoteGranted('n2', 4, n1, { term: 3, vote: null });
    checker.onVoteGranted('n5', 4, n1, { term: 4, vote: null });
    checker.onVoteGranted('n6', 4, n1, { term: 4, vote: n3 });
    expect(checker.violations).toEqual([
      'test: election safety: n2 granted n1 its vote in term 4 before persisting it (disk: term 3, vote none); a crash now lets it vote twice',
      'test: election safety: n5 granted n1 its vote in term 4 before persisting it (disk: term 4, vote none); a crash now lets it vote twice',
      'test: election safety: n6 granted n1 its vote in term 4 before persisting it (disk: term 4, vote n3); a crash now lets it vote twice',
    ]);
  });

  it('refuses a second candidate voted for in the same term (across restarts)', () => {
    const checker = new SafetyChecker(() => 'test');
    checker.onVoteGranted('n2', 4, n1, { term: 4, vote: n1 });
    checker.onVoteGranted('n2', 4, n3, { term: 4, vote: n3 });
    expect(checker.violations).toEqual(['test: election safety: n2 voted for n1 and n3 in term 4']);
  });
});

describe('SafetyChecker leader completeness', () => {
  /** A running server as the checker reads it: its term, its log's terms (index 1 first), its commit. */
  function node(id: string, term: number, terms: number[], commit: number): CheckedNode {
    const core = {
      term,
      vote: null,
      commitIndex: commit,
      state: RaftState.Follower,
      applyIndex: () => commit,
      firstIndex: () => 1,
      lastIndex: () => terms.length,
      termAt: (index: number) => terms[index - 1],
      snapshotIndex: () => 0,
    };
    const raft = {
      shutdownCalled: false,
      inspect: () => core,
      commitIndex: () => commit,
      durableCommitIndex: () => commit,
      appliedIndex: () => 0,
    };
    return { id, raft: raft as unknown as Raft, fsm: null };
  }

  // Seed 415 of `raftkit sim --seeds 2000`: n1 wins term 9 with a vote that was on its way while n3,
  // leader of term 10, committed entry 3 (written in term 2) that n1 lacks.
  const committedInTerm10 = node('n3', 10, [1, 1, 2], 3);
  const lateLeader = node('n1', 9, [1, 1, 9], 0);

  it('binds leaders of terms after the commit, not a leader of an older term elected late', () => {
    const checker = new SafetyChecker(() => 'test');
    checker.onStarted(committedInTerm10);
    checker.onStarted(lateLeader);
    checker.check([committedInTerm10]);
    checker.onLeader('n1', 9, lateLeader);
    expect(checker.violations).toEqual([]);
    checker.onLeader('n1', 11, node('n1', 11, [1, 1, 9], 0));
    expect(checker.violations).toEqual([
      'test: leader completeness: leader n1 lacks committed entry 3 (term 2, has 9)',
    ]);
  });
});
