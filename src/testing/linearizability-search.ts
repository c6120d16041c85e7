/**
 * The Wing & Gong search with Lowe's memo (WGL), as Porcupine runs it, over numbered operations,
 * with cuts that each come with an argument that no linearization is lost.
 *
 * Calls and returns of operations of known outcome sit in one time-ordered doubly linked list.
 * At each node (the operations linearized so far, and the state they lead to) the candidates
 * are the calls before the first pending return (the barrier); the search tries to linearize one
 * next (the model must allow it), lifting its call and return out of the list; when no candidate
 * is left, the last choice was wrong and is undone. The history is linearizable when every known
 * operation is placed, and not when a choice must be undone and none is left.
 *
 * Cuts, in the order they act:
 * - forced observers: an allowed candidate that never changes the state (a read, a range, a
 *   failed cas) is taken first, without alternatives (see `observerCandidate`);
 * - lost facts: a node where some value a pending operation needs is gone for good is dead
 *   (see linearizability-facts.ts);
 * - unknown outcomes last: operations whose answer never came live in a list of their own and
 *   are tried only after the known candidates, never where they would change nothing, twins in
 *   call order, and only where they affect another candidate (see `influencesACandidate`);
 * - the memo (linearizability-memo.ts): a node entered before is skipped, and so is one that a
 *   failed node with fewer unknown operations placed dominates. The set's known part is hashed
 *   with a 64-bit Zobrist hash (two 32-bit halves, O(1) per choice) and stored compactly:
 *   operations of known outcome are numbered in call order and every one below the lowest pending
 *   is linearized, so a node keeps that number and only the bits from there to the highest
 *   linearized one, a window about as wide as the history's concurrency.
 */
import { partitionPoint } from './linearizability-components.js';
import { FactLedger } from './linearizability-facts.js';
import { Memo } from './linearizability-memo.js';
import type { SearchHistory, SearchModel } from './linearizability-model.js';

export interface SearchResult {
  verdict: 'ok' | 'violation' | 'inconclusive';
  steps: number;
  cacheHits: number;
  /** For a violation: the operation numbers of the longest linearizable prefix found, in order. */
  longest: number[];
  /** For a violation: an operation that can never be placed after `longest`, if the search knows one. */
  blocked?: number;
}

/** A 32-bit mixer (the finalizer of a well-known integer hash): spreads nearby inputs apart. */
/** Where the enumeration of the current node stands (see `run`). */
const AT_NODE = 0;
const KNOWN = 1;
const UNKNOWN = 2;
const BACKTRACK = 3;
/** In `frameResume`: the choice was forced (see `observerCandidate`). */
const FORCED = -2;

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) | 0;
}

/**
 * Searches for a linearization of operations 0..n-1 (known outcomes first, each group in call
 * order; an unknown outcome has end Infinity), giving up after `maxSteps` steps.
 */
export function searchLinearization(
  history: SearchHistory,
  model: SearchModel,
  maxSteps: number,
): SearchResult {
  return new WglSearch(history, model).run(maxSteps);
}

/**
 * The search's state. Operations of known outcome live in the time-ordered event list; those of
 * unknown outcome, whose returns would all sit at the end of it, live in a list of their own in
 * call order. The candidates at each point are the known calls before the first pending return
 * (the barrier), tried first, then the unknown operations called before the barrier: an unknown
 * operation is placed only once the known ones could not go on without it, which finds the
 * linearizations of real histories, where most unknown writes are seen late or never, far sooner.
 * Every candidate is still tried, so the search stays exact.
 */
class WglSearch {
  private readonly count: number;
  private readonly knownCount: number;
  private readonly start: Float64Array;
  private readonly end: Float64Array;
  private readonly earlierTwin: Int32Array;
  private readonly observer: Uint8Array;
  private readonly history: SearchHistory;
  /** The known operations' events: call of i is 2i, its return 2i+1, behind `head`; -1 ends it. */
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly head: number;
  /** The unknown operations not yet linearized, in call order, behind `unknownHead`; -1 ends it. */
  private readonly unknownNext: Int32Array;
  private readonly unknownPrev: Int32Array;
  private readonly unknownHead: number;
  /** The linearized set: bits of known and of unknown operations, and their Zobrist hash. */
  private readonly known: Uint32Array;
  private readonly unknown: Uint32Array;
  private readonly zobrist1: Int32Array;
  private readonly zobrist2: Int32Array;
  private hash1 = 0;
  private hash2 = 0;
  /** The lowest known operation not linearized, and the highest one linearized. */
  private low = 0;
  private high = -1;
  private state: number;
  private readonly memo: Memo;
  /** The choices made, with what each one changed. */
  private readonly frameOperation: Int32Array;
  private readonly frameState: Int32Array;
  private readonly frameLow: Int32Array;
  private readonly frameHigh: Int32Array;
  /** For an unknown choice, the barrier of its node; FORCED for a forced one. */
  private readonly frameResume: Int32Array;
  /** The memo entry of the node each choice led to. */
  private readonly frameEntry: Int32Array;
  private depth = 0;
  /**
   * The longest linearizable prefix met so far, and what blocked it. Copying it whenever it grows
   * would cost O(n) each time, O(n^2) in all; so its first `longestShared` operations are read
   * from the frames (unchanged since), and the rest are saved, one by one, as frames are undone.
   */
  private longestLength = 0;
  private longestShared = 0;
  private readonly longestSaved: Int32Array;
  private blocked: number | undefined;
  /** Which needed facts no pending operation can produce any more (see `lostFact`). */
  private readonly facts: FactLedger;

  private cacheHits = 0;

  constructor(
    history: SearchHistory,
    private readonly model: SearchModel,
  ) {
    const count = (this.count = history.start.length);
    let knownCount = 0;
    while (knownCount < count && history.end[knownCount] !== Infinity) knownCount++;
    this.knownCount = knownCount;
    this.start = history.start;
    this.end = history.end;
    this.earlierTwin = history.earlierTwin;
    this.observer = history.observer;
    ({ next: this.next, prev: this.prev, head: this.head } = eventList(history, knownCount));
    this.unknownHead = count;
    this.unknownNext = new Int32Array(count + 1).fill(-1);
    this.unknownPrev = new Int32Array(count + 1).fill(-1);
    let last = this.unknownHead;
    for (let operation = knownCount; operation < count; operation++) {
      this.unknownNext[last] = operation;
      this.unknownPrev[operation] = last;
      last = operation;
    }
    this.known = new Uint32Array(Math.ceil(knownCount / 32));
    this.unknown = new Uint32Array(Math.ceil((count - knownCount) / 32));
    this.memo = new Memo(this.unknown.length);
    this.zobrist1 = new Int32Array(count);
    this.zobrist2 = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      this.zobrist1[i] = mix32(2 * i + 0x3c6ef372);
      this.zobrist2[i] = mix32(2 * i + 0x1b873593);
    }
    this.state = model.initial;
    this.frameOperation = new Int32Array(count);
    this.frameState = new Int32Array(count);
    this.frameLow = new Int32Array(count);
    this.frameHigh = new Int32Array(count);
    this.frameResume = new Int32Array(count);
    this.frameEntry = new Int32Array(count);
    this.longestSaved = new Int32Array(count);
    this.facts = new FactLedger(history);
    this.history = history;
  }

  run(maxSteps: number): SearchResult {
    const { next, head, start, end, unknownNext } = this;
    let steps = 0;
    let mode = AT_NODE;
    // KNOWN: `cursor` walks the event list up to the first pending return. UNKNOWN: `barrier` is
    // that return, and `candidate` walks the unknown operations called before it.
    let cursor = -1;
    let barrier = -1;
    let candidate = -1;
    const lost = this.facts.lost(this.model, this.state);
    if (lost >= 0) {
      return {
        verdict: 'violation',
        steps,
        cacheHits: 0,
        longest: [],
        blocked: this.facts.pendingNeeder(lost, -1, (operation) => this.isKnownLinearized(operation)),
      };
    }
    while (this.low < this.knownCount) {
      if (++steps > maxSteps) {
        return {
          verdict: 'inconclusive',
          steps: maxSteps,
          cacheHits: this.cacheHits,
          longest: this.longest(),
        };
      }
      if (mode === AT_NODE) {
        const forced = this.observerCandidate();
        if (forced < 0) {
          mode = KNOWN;
          cursor = next[head];
        } else if (!this.tryLinearize(forced, FORCED)) {
          mode = BACKTRACK;
        }
      } else if (mode === KNOWN) {
        if ((cursor & 1) === 0) {
          if (this.tryLinearize(cursor >>> 1, -1)) mode = AT_NODE;
          else cursor = next[cursor];
        } else {
          mode = UNKNOWN;
          barrier = cursor;
          candidate = unknownNext[this.unknownHead];
        }
      } else if (mode === UNKNOWN) {
        if (candidate >= 0 && start[candidate] <= end[barrier >>> 1]) {
          const operation = candidate;
          candidate = unknownNext[operation];
          if (this.tryLinearize(operation, barrier)) mode = AT_NODE;
        } else {
          mode = BACKTRACK;
        }
      } else {
        // No candidate left: the last choice was wrong. Undo it and try the one after it, unless
        // it was forced, in which case its node has failed too.
        if (this.depth > this.longestLength) {
          this.longestLength = this.longestShared = this.depth;
          this.blocked = undefined;
        }
        if (this.depth === 0) {
          const { blocked } = this;
          return { verdict: 'violation', steps, cacheHits: this.cacheHits, longest: this.longest(), blocked };
        }
        const operation = this.undoLast();
        const resume = this.frameResume[this.depth];
        if (resume === FORCED) continue;
        if (operation < this.knownCount) {
          mode = KNOWN;
          cursor = next[2 * operation];
        } else {
          mode = UNKNOWN;
          barrier = resume;
          candidate = unknownNext[operation];
        }
      }
    }
    return { verdict: 'ok', steps, cacheHits: this.cacheHits, longest: [] };
  }

  /**
   * A candidate observer (an operation of known outcome that never changes the state: a read, a
   * range, a failed cas, ...) that the model allows now, or -1. Taking it first is always safe:
   * in any legal order from here it can move to the front (it was called before every pending
   * return, and its absence changes nothing for the rest). So it is taken without trying the
   * alternatives, and if that fails, the node fails. (Only observers: a delete that changes
   * nothing now may change something where the order puts it.)
   */
  private observerCandidate(): number {
    const { next, model, state, observer } = this;
    for (let event = next[this.head]; (event & 1) === 0; event = next[event]) {
      if (observer[event >>> 1] === 1 && model.step(state, event >>> 1) === state) return event >>> 1;
    }
    return -1;
  }

  /**
   * Linearizes `operation` next if the model allows it, no cut applies, and the node it leads to
   * is new; `resume` is kept with the choice (an unknown operation's barrier, or FORCED).
   */
  private tryLinearize(operation: number, resume: number): boolean {
    const isKnown = operation < this.knownCount;
    if (!isKnown && !this.twinTaken(operation)) return false;
    const after = this.model.step(this.state, operation);
    // An operation of unknown outcome that would change nothing here is not tried: if a legal
    // order puts it here, the order without it is legal too, ending with it (never happened).
    if (after < 0 || (!isKnown && after === this.state)) return false;
    if (!isKnown && !this.influencesACandidate(operation, after, resume)) return false;
    this.facts.account(operation, -1);
    const lost = this.facts.lost(this.model, after);
    if (lost >= 0) {
      // Still a linearizable prefix, and with the operation that needed the lost fact, the best
      // explanation of a violation: note it.
      if (this.depth + 1 > this.longestLength) {
        this.longestLength = this.depth + 1;
        this.longestShared = this.depth;
        this.longestSaved[this.depth] = operation;
        this.blocked = this.facts.pendingNeeder(lost, operation, (other) => this.isKnownLinearized(other));
      }
      this.facts.account(operation, 1);
      return false;
    }
    const savedLow = this.low;
    const savedHigh = this.high;
    this.flip(operation);
    if (isKnown) {
      if (operation > this.high) this.high = operation;
      while (this.low < this.knownCount && this.isKnownLinearized(this.low)) this.low++;
    }
    const { low, high } = this;
    const from = high >= low ? low >>> 5 : 0;
    const to = high >= low ? (high >>> 5) + 1 : 0;
    const hash1 = this.hash1 ^ mix32(after ^ 0x27d4eb2f);
    const hash2 = this.hash2 ^ mix32(after ^ 0x165667b1);
    const entry = this.memo.enter(hash1, hash2, after, low, this.known, from, to, this.unknown);
    if (entry < 0) {
      this.cacheHits++;
      this.facts.account(operation, 1);
      this.flip(operation);
      this.low = savedLow;
      this.high = savedHigh;
      return false;
    }
    const depth = this.depth++;
    this.frameEntry[depth] = entry;
    this.frameOperation[depth] = operation;
    this.frameState[depth] = this.state;
    this.frameLow[depth] = savedLow;
    this.frameHigh[depth] = savedHigh;
    this.frameResume[depth] = resume;
    this.state = after;
    this.lift(operation);
    return true;
  }

  private longest(): number[] {
    return Array.from({ length: this.longestLength }, (_, i) =>
      i < this.longestShared ? this.frameOperation[i] : this.longestSaved[i],
    );
  }

  /** Takes back the last choice; returns its operation. */
  private undoLast(): number {
    const depth = --this.depth;
    if (depth < this.longestShared) {
      this.longestSaved[depth] = this.frameOperation[depth];
      this.longestShared = depth;
    }
    this.memo.complete(this.frameEntry[depth]);
    const operation = this.frameOperation[depth];
    this.state = this.frameState[depth];
    this.low = this.frameLow[depth];
    this.high = this.frameHigh[depth];
    this.flip(operation);
    this.unlift(operation);
    this.facts.account(operation, 1);
    return operation;
  }

  /**
   * Whether linearizing the unknown `operation` next, leading to `after`, affects some other
   * candidate (called before `barrier`; see SearchModel.affects). If it affects none, it is not
   * tried: in a legal order that puts it first, the operation after it is unaffected, so the
   * order with the two swapped (or without it, if it was overwritten) is legal too; repeating
   * that, a legal order exists that does not start with it.
   */
  private influencesACandidate(operation: number, after: number, barrier: number): boolean {
    const { model, state, history } = this;
    const deadline = this.end[barrier >>> 1];
    const affected = (list: readonly number[] | undefined) =>
      list !== undefined &&
      this.someCandidate(
        list,
        deadline,
        (other) => other !== operation && model.affects(state, after, operation, other),
      );
    // Only these can be affected: the operations comparing a slot it changes (with the value
    // before or after, or its existence if that changed); and with several slots, the ones
    // updating a slot it compares or updates (the two would not commute). With one slot, an
    // update of it after this one overwrites it: that is no effect.
    const severalSlots = history.writersOf.length > 1;
    for (const slot of history.updatedSlots[operation]) {
      if (severalSlots && affected(history.writersOf[slot])) return true;
      const before = model.valueAt(state, slot);
      const now = model.valueAt(after, slot);
      if (before === now) continue;
      if (affected(history.comparersOf.get(slot * history.valueLimit + before))) return true;
      if (affected(history.comparersOf.get(slot * history.valueLimit + now))) return true;
      if ((before === 0) !== (now === 0) && affected(history.existenceComparers[slot])) return true;
    }
    if (severalSlots) {
      for (const slot of history.comparedSlots[operation]) if (affected(history.writersOf[slot])) return true;
    }
    return false;
  }

  /**
   * Whether `test` holds for some candidate in `list` (operation numbers, ascending): an
   * operation not linearized that was called by `deadline`. Known operations are numbered in
   * call order from `low` on, so the scan starts there and stops at the first one called later.
   */
  private someCandidate(
    list: readonly number[],
    deadline: number,
    test: (operation: number) => boolean,
  ): boolean {
    const { start, knownCount } = this;
    for (
      let i = partitionPoint(list.length, (i) => list[i] < this.low);
      i < list.length && list[i] < knownCount;
      i++
    ) {
      if (start[list[i]] > deadline) break;
      if (!this.isKnownLinearized(list[i]) && test(list[i])) return true;
    }
    for (
      let i = partitionPoint(list.length, (i) => list[i] < knownCount);
      i < list.length && start[list[i]] <= deadline;
      i++
    ) {
      if (this.isUnknownPending(list[i]) && test(list[i])) return true;
    }
    return false;
  }

  /** Adds `operation` to the linearized set, or takes it out. */
  private flip(operation: number): void {
    const unknownIndex = operation - this.knownCount;
    if (unknownIndex >= 0) {
      // Not hashed: the memo finds dominating nodes among those with the same known part.
      this.unknown[unknownIndex >>> 5] ^= 1 << (unknownIndex & 31);
      return;
    }
    this.known[operation >>> 5] ^= 1 << (operation & 31);
    this.hash1 ^= this.zobrist1[operation];
    this.hash2 ^= this.zobrist2[operation];
  }

  private isKnownLinearized(operation: number): boolean {
    return (this.known[operation >>> 5] & (1 << (operation & 31))) !== 0;
  }

  private isUnknownPending(operation: number): boolean {
    const index = operation - this.knownCount;
    return (this.unknown[index >>> 5] & (1 << (index & 31))) === 0;
  }

  /** Twins of unknown outcome go in call order: swapping two changes nothing but their names. */
  private twinTaken(operation: number): boolean {
    const twin = this.earlierTwin[operation] - this.knownCount;
    return twin < 0 || (this.unknown[twin >>> 5] & (1 << (twin & 31))) !== 0;
  }

  // Dancing links: taking entries out of a doubly linked list and putting them back in reverse
  // order restores it exactly, so undoing a choice costs O(1).
  private lift(operation: number): void {
    if (operation < this.knownCount) {
      unlink(this.next, this.prev, 2 * operation);
      unlink(this.next, this.prev, 2 * operation + 1);
    } else {
      unlink(this.unknownNext, this.unknownPrev, operation);
    }
  }

  private unlift(operation: number): void {
    if (operation < this.knownCount) {
      relink(this.next, this.prev, 2 * operation + 1);
      relink(this.next, this.prev, 2 * operation);
    } else {
      relink(this.unknownNext, this.unknownPrev, operation);
    }
  }
}

function unlink(next: Int32Array, prev: Int32Array, entry: number): void {
  next[prev[entry]] = next[entry];
  if (next[entry] !== -1) prev[next[entry]] = prev[entry];
}

function relink(next: Int32Array, prev: Int32Array, entry: number): void {
  next[prev[entry]] = entry;
  if (next[entry] !== -1) prev[next[entry]] = entry;
}

/**
 * The calls (event 2i) and returns (2i+1) of operations 0..count-1 in time order, as a doubly
 * linked list behind a head (event 2 * count); -1 ends it. At equal times calls go first:
 * operations that touch at an instant count as concurrent.
 */
function eventList(
  history: SearchHistory,
  count: number,
): { next: Int32Array; prev: Int32Array; head: number } {
  // Operations are numbered in call order, so the calls are in order already; the returns are
  // sorted, and the two merged (a call first at a tie).
  const { start, end } = history;
  const byReturn = Int32Array.from({ length: count }, (_, operation) => operation).sort(
    (a, b) => end[a] - end[b] || a - b,
  );
  const order = new Int32Array(2 * count);
  let call = 0;
  let returned = 0;
  for (let at = 0; at < 2 * count; at++) {
    const takeCall = call < count && (returned === count || start[call] <= end[byReturn[returned]]);
    order[at] = takeCall ? 2 * call++ : 2 * byReturn[returned++] + 1;
  }
  const head = 2 * count;
  const next = new Int32Array(2 * count + 1).fill(-1);
  const prev = new Int32Array(2 * count + 1).fill(-1);
  let last = head;
  for (const event of order) {
    next[last] = event;
    prev[event] = last;
    last = event;
  }
  return { next, prev, head };
}
