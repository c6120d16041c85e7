/**
 * What still has to reach the disk, and what already has. The core's state changes become one
 * durable Write per Ready (hard state, a truncation, new entries); writes get consecutive seqs, and
 * every message that depends on a change carries the seq of the write that makes it durable (a vote
 * is never granted, an append never acknowledged, before its fsync: the runtime holds the message
 * until persisted(seq)). Think etcd-io/raft's unstable log, with the hard state beside it.
 */
import type { HardState, Write } from './ready.js';
import type { LogEntry } from './types.js';

export class Durability {
  private nextSeq = 1;
  private durableSeq = 0;
  private termVoteSeq = 0;
  private entriesSeq = 0;
  private hardStateDirty = false;
  /** The commit index moved since the hard state was last written (see commitChanged). */
  private commitDirty = false;
  private truncateFrom: number | null = null;
  private entries: LogEntry[] = [];
  /** The local log's last index as of each write not yet durable. */
  private readonly seqLastIndex = new Map<number, number>();
  private durableLast = 0;

  /** Highest index known durable in the local log. */
  get durableLastIndex(): number {
    return this.durableLast;
  }

  /** At start: the log as loaded is all durable. */
  loaded(lastIndex: number): void {
    this.durableLast = lastIndex;
  }

  /** The seq of the write that makes the current term and vote durable. */
  get termVoteDurableAt(): number {
    return this.termVoteSeq;
  }

  /** The seq of the write that makes the log as it stands durable. */
  get entriesDurableAt(): number {
    return this.entriesSeq;
  }

  /** The seq of the next write (which carries everything changed until then). */
  get nextWriteSeq(): number {
    return this.nextSeq;
  }

  /** Something in the hard state changed that must reach the disk with the next write. */
  hardStateChanged(): void {
    this.hardStateDirty = true;
  }

  /**
   * The commit index moved. Nothing waits for it to be durable (as in etcd, whose HardState
   * change that only moves the commit index needs no fsync): entries are applied at the commit
   * index in memory, since a restarted node re-learns it from a quorum. It rides along with the
   * next write that happens anyway (same group commit, no extra fsync), so a restart replays the
   * FSM close to where it was. Writing it on its own cost a serial fsync per write: at c1 the
   * leader's hard-state write was 0.6 of a 7.5 ms write (bench/PROFILE.md, #3).
   */
  commitChanged(): void {
    this.commitDirty = true;
  }

  /** The term or the vote changed: answers that rely on them wait for the next write. */
  termOrVoteChanged(): void {
    this.hardStateDirty = true;
    this.termVoteSeq = this.nextSeq;
  }

  appended(entries: readonly LogEntry[]): void {
    for (const entry of entries) this.entries.push(entry);
    this.entriesSeq = this.nextSeq;
  }

  /** Entries from `from` on were removed from the log (conflict truncation). */
  truncated(from: number): void {
    this.entries = this.entries.filter((entry) => entry.index < from);
    this.truncateFrom = Math.min(this.truncateFrom ?? Infinity, from);
    this.durableLast = Math.min(this.durableLast, from - 1);
    this.entriesSeq = this.nextSeq;
  }

  /** A snapshot at `index` replaced the whole log: storage drops all of it. */
  logReplaced(index: number): void {
    this.truncateFrom = 1;
    this.entries = [];
    this.entriesSeq = this.nextSeq;
    this.durableLast = index;
  }

  /**
   * At a graceful stop: the write that makes the lazily written commit index durable (and anything
   * else still unwritten), or null when the disk is already up to date. A clean restart then
   * replays the FSM to everything this node had applied.
   */
  takeFinalWrite(hardState: () => HardState, lastIndex: number): Write | null {
    if (this.commitDirty) this.hardStateDirty = true;
    return this.takeWrite(hardState, lastIndex);
  }

  hasWrite(): boolean {
    return this.hardStateDirty || this.truncateFrom !== null || this.entries.length > 0;
  }

  /** The next write, if anything changed; `lastIndex` is the local log's end as of this write. */
  takeWrite(hardState: () => HardState, lastIndex: number): Write | null {
    if (!this.hasWrite()) return null;
    const seq = this.nextSeq++;
    const withHardState = this.hardStateDirty || this.commitDirty;
    const write: Write = {
      seq,
      hardState: withHardState ? hardState() : null,
      truncateFrom: this.truncateFrom,
      entries: this.entries,
    };
    this.seqLastIndex.set(seq, lastIndex);
    this.hardStateDirty = false;
    this.commitDirty = false;
    this.truncateFrom = null;
    this.entries = [];
    return write;
  }

  /**
   * The write with this seq (and every earlier one) is durable. Returns false if that was already
   * known. `logLastIndex` caps the durable end: a later truncation may have cut the log since.
   */
  persisted(seq: number, logLastIndex: number): boolean {
    if (seq <= this.durableSeq) return false;
    this.durableSeq = seq;
    const lastIndex = this.seqLastIndex.get(seq);
    for (const key of this.seqLastIndex.keys()) if (key <= seq) this.seqLastIndex.delete(key);
    if (lastIndex !== undefined) this.durableLast = Math.min(lastIndex, logLastIndex);
    return true;
  }
}
