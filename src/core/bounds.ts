/**
 * The bounds every term and index a node accepts from a peer must keep, so that the arithmetic the
 * core does with them (term + 1, index + count, sums of a few indexes) stays exact. The wire
 * refuses values beyond them where frames become requests (wire/convert.ts); the core asserts them
 * again on every request it is given (requestOutOfRange), so that no other path (a custom
 * transport, a test harness) can bring such a value in.
 */
import { ErrDecode } from './errors.js';
import type { CoreFaults } from './inputs.js';
import type { RaftRequest } from './types.js';

/**
 * Largest term accepted from a peer: 2^48 - 1. A cluster electing a leader every millisecond
 * would need 8,900 years to get there, and it is 32 times below 2^53, so term + 1 is exact.
 */
export const MAX_TERM = 2 ** 48 - 1;

/**
 * Largest log index accepted from a peer: 2^48 - 1 (a million entries a second for 8.9 years).
 * Index + entry count, and sums of a few indexes, stay far below 2^53.
 */
export const MAX_INDEX = 2 ** 48 - 1;

/** A number from a peer outside its bound: the RPC is refused (its connection closed on the wire). */
export class ErrOutOfRange extends ErrDecode {
  /** `'ErrOutOfRange'`. */
  override name = 'ErrOutOfRange';
}

/** Throws ErrOutOfRange when a term is above MAX_TERM (or not a non-negative integer). */
export function checkTerm(value: number, field: string): number {
  if (!(value <= MAX_TERM && value >= 0 && Number.isInteger(value)))
    throw new ErrOutOfRange(`${field} ${value} is above the largest accepted term (2^48-1)`);
  return value;
}

/** Throws ErrOutOfRange when an index is above MAX_INDEX (or not a non-negative integer). */
export function checkIndex(value: number, field: string): number {
  if (!(value <= MAX_INDEX && value >= 0 && Number.isInteger(value)))
    throw new ErrOutOfRange(`${field} ${value} is above the largest accepted index (2^48-1)`);
  return value;
}

/**
 * Every term and index `request` carries within bounds; ErrOutOfRange naming the first that is not.
 * `faults` is for tests only (the planted bug uncheckedLeaderCommit).
 */
export function requestOutOfRange(request: RaftRequest, faults?: CoreFaults): ErrOutOfRange | null {
  try {
    checkTerm(request.term, 'Term');
    switch (request.kind) {
      case 'appendEntries':
        checkIndex(request.prevLogIndex, 'PrevLogEntry');
        checkTerm(request.prevLogTerm, 'PrevLogTerm');
        if (!faults?.uncheckedLeaderCommit) checkIndex(request.leaderCommitIndex, 'LeaderCommitIndex');
        for (const entry of request.entries) {
          checkIndex(entry.index, 'Entries.Index');
          checkTerm(entry.term, 'Entries.Term');
        }
        break;
      case 'requestVote':
      case 'requestPreVote':
        checkIndex(request.lastLogIndex, 'LastLogIndex');
        checkTerm(request.lastLogTerm, 'LastLogTerm');
        break;
      case 'installSnapshot':
        checkIndex(request.lastLogIndex, 'LastLogIndex');
        checkTerm(request.lastLogTerm, 'LastLogTerm');
        checkIndex(request.configurationIndex, 'ConfigurationIndex');
        break;
    }
    return null;
  } catch (error) {
    return error as ErrOutOfRange;
  }
}
