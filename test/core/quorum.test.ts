/** The majority arithmetic every decision of the core rests on (core/quorum.ts). */
import { describe, expect, it } from 'vitest';
import { MajorityQuorum, VoteResult } from '../../src/core/quorum.js';

const acked = (values: Record<string, number>) => (id: string) => values[id] ?? 0;
const votes = (answers: Record<string, boolean>) => (id: string) => answers[id];

describe('MajorityQuorum', () => {
  it('needs floor(n/2)+1 voters', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => new MajorityQuorum([...'abcdefg'].slice(0, n)).size)).toEqual([
      1, 2, 2, 3, 3, 4, 4,
    ]);
  });

  it('committedIndex is the largest value a majority reached', () => {
    const three = new MajorityQuorum(['a', 'b', 'c']);
    expect(three.committedIndex(acked({ a: 5, b: 3, c: 9 }))).toBe(5);
    expect(three.committedIndex(acked({ a: 5 }))).toBe(0);
    expect(three.committedIndex(acked({ a: 5, c: 4 }))).toBe(4);
    const four = new MajorityQuorum(['a', 'b', 'c', 'd']);
    expect(four.committedIndex(acked({ a: 8, b: 7, c: 2, d: 1 }))).toBe(2);
    const five = new MajorityQuorum(['a', 'b', 'c', 'd', 'e']);
    expect(five.committedIndex(acked({ a: 10, b: 10, c: 9, d: 1, e: 1 }))).toBe(9);
  });

  it('committedIndex orders infinities correctly (self counted as always acknowledged)', () => {
    const three = new MajorityQuorum(['self', 'b', 'c']);
    const contact = (b: number, c: number) => (id: string) =>
      id === 'self' ? Infinity : { b, c }[id as 'b' | 'c'];
    expect(three.committedIndex(contact(-Infinity, -Infinity))).toBe(-Infinity);
    expect(three.committedIndex(contact(40, -Infinity))).toBe(40);
    expect(three.committedIndex(contact(40, 70))).toBe(70);
  });

  it('a quorum without voters agrees on nothing and wins no election', () => {
    const none = new MajorityQuorum([]);
    expect(none.committedIndex(() => 7)).toBe(-Infinity);
    expect(none.voteResult(() => true)).toBe(VoteResult.Lost);
  });

  it('voteResult: won with a majority of grants, lost once a majority is out of reach, else pending', () => {
    const five = new MajorityQuorum(['a', 'b', 'c', 'd', 'e']);
    expect(five.voteResult(votes({ a: true, b: true, c: true }))).toBe(VoteResult.Won);
    expect(five.voteResult(votes({ a: true, b: true }))).toBe(VoteResult.Pending);
    expect(five.voteResult(votes({ a: true, b: false, c: false }))).toBe(VoteResult.Pending);
    expect(five.voteResult(votes({ a: true, b: false, c: false, d: false }))).toBe(VoteResult.Lost);
    // Votes from servers that are not voters count for nothing.
    expect(five.voteResult(votes({ a: true, b: true, x: true, y: true }))).toBe(VoteResult.Pending);
  });
});
