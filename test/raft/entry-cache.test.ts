/** EntryCache.peek (src/raft/entry-cache.ts): the synchronous read a leader's fresh AppendEntries uses. */
import { describe, expect, it } from 'vitest';
import { LogType, type LogEntry } from '../../src/core/types.js';
import { EntryCache } from '../../src/raft/entry-cache.js';

const entry = (index: number): LogEntry => ({
  index,
  term: 1,
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
});
