/** EntryCache.peek (src/raft/entry-cache.ts): the synchronous read a leader's fresh AppendEntries uses. */
import { describe, expect, it } from 'vitest';
import { LogType, type LogEntry } from '../../src/core/types.js';
import { EntryCache } from '../../src/raft/entry-cache.js';

const entry = (index: number, term = 1): LogEntry => ({
  index,
  term,
  type: LogType.Command,
  data: new Uint8Array(0),
  extensions: new Uint8Array(0),
  appendedAt: 0,
});

describe('EntryCache.peek', () => {
  it('returns a range only when every entry of it is held', () => {
    const cache = new EntryCache(4);
    cache.add([1, 2, 3, 4, 5, 6].map(entry)); // keeps 3..6
    expect(cache.peek(4, 6)?.map((e) => e.index)).toEqual([4, 5, 6]);
    expect(cache.peek(2, 4)).toBeNull();
    expect(cache.peek(6, 7)).toBeNull();
    expect(cache.peek(5, 4)).toBeNull();
    cache.truncateFrom(5);
    expect(cache.peek(4, 5)).toBeNull();
    expect(cache.peek(3, 4)?.map((e) => e.index)).toEqual([3, 4]);
  });

  it('keeps the newest `capacity` entries as the ring wraps, and a range wider than it is a miss', () => {
    const cache = new EntryCache(4);
    cache.add([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((index) => entry(index)));
    expect(cache.peek(7, 10)?.map((e) => e.index)).toEqual([7, 8, 9, 10]);
    expect(cache.peek(6, 9)).toBeNull();
    expect(cache.peek(3, 3)).toBeNull(); // its slot holds 7
    expect(cache.peek(7, 11)).toBeNull();
  });

  it('after a truncation, the entries written in place of the dropped ones are the ones returned', () => {
    const cache = new EntryCache(8);
    cache.add([1, 2, 3, 4, 5].map((index) => entry(index, 1)));
    cache.truncateFrom(3);
    expect(cache.peek(3, 3)).toBeNull();
    cache.add([3, 4].map((index) => entry(index, 2)));
    expect(cache.peek(1, 4)?.map((e) => e.term)).toEqual([1, 1, 2, 2]);
    expect(cache.peek(5, 5)).toBeNull(); // dropped, never re-added
  });

  it('a truncation below a gap wider than the ring drops every later entry', () => {
    const cache = new EntryCache(4);
    cache.add([1, 2].map((index) => entry(index)));
    cache.add([103, 104].map((index) => entry(index))); // slots 3 and 0: 1 and 2 stay
    cache.truncateFrom(2);
    expect(cache.peek(1, 1)?.map((e) => e.index)).toEqual([1]);
    expect(cache.peek(2, 2)).toBeNull();
    expect(cache.peek(103, 103)).toBeNull();
    expect(cache.peek(104, 104)).toBeNull();
  });
});
