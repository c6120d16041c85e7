/**
 * The Wing & Gong search with Lowe's memo (WGL), as Porcupine runs it, over numbered operations.
 *
 * Calls and returns sit in one time-ordered doubly linked list. The search walks it from the
 * front: at a call it tries to linearize that operation next (the model must allow it in the
 * current state), lifting its call and return out of the list and starting over; at a return whose
 * operation is still pending, the last choice was wrong: it puts that operation back and tries the
 * next candidate. The history is linearizable when the list empties, and not when it must undo a
 * choice and has none left.
 *
 * The memo holds every (set of linearized operations, state) pair already entered: reaching one
 * again leads where it led before, so the candidate is skipped (a cache hit). The set is keyed by a
 * 64-bit Zobrist hash (two 32-bit halves, updated in O(1) per choice) and compared exactly on a hit,
 * against a compact copy: operations of known outcome are numbered in call order, and every one
 * below the lowest still pending is linearized, so the copy keeps that number and only the bits
 * from there to the highest linearized one — a window about as wide as the history's concurrency,
 * not the history's length. Operations of unknown outcome (numbered after the known ones) may wait
 * until the end, so their bits are kept whole; there are few, since the unobserved ones are left
 * out beforehand.
 */
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
  /** The longest linearizable prefix met so far (operation numbers), and what blocked it. */
  private longest: number[] = [];
  private blocked: number | undefined;
  /** For each fact, the known operations that require it (compressed rows). */
  private readonly neederStart: Int32Array;
  private readonly needer: Int32Array;
  /** Facts still required by pending known operations, and by how many; writers left per fact. */
  private readonly needers: Int32Array;
  private readonly writers: Int32Array;
  /** Facts needed that no pending operation can produce any more, and where each sits in it. */
  private readonly unproducible: Int32Array;
  private readonly unproducibleAt: Int32Array;
  private unproducibleCount = 0;

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
    this.zobrist1 = Int32Array.from({ length: count }, (_, i) => mix32(2 * i + 0x3c6ef372));
    this.zobrist2 = Int32Array.from({ length: count }, (_, i) => mix32(2 * i + 0x1b873593));
    this.state = model.initial;
    this.frameOperation = new Int32Array(count);
    this.frameState = new Int32Array(count);
    this.frameLow = new Int32Array(count);
    this.frameHigh = new Int32Array(count);
    this.frameResume = new Int32Array(count);
    this.frameEntry = new Int32Array(count);
    const factCount = history.factSlot.length;
    this.needers = new Int32Array(factCount);
    this.writers = new Int32Array(factCount);
    this.unproducible = new Int32Array(factCount);
    this.unproducibleAt = new Int32Array(factCount).fill(-1);
    for (let operation = 0; operation < count; operation++) {
      for (let i = history.requireStart[operation]; i < history.requireStart[operation + 1]; i++) {
        this.needers[history.requireFact[i]]++;
      }
      for (let i = history.produceStart[operation]; i < history.produceStart[operation + 1]; i++) {
        this.writers[history.produceFact[i]]++;
      }
    }
    for (let fact = 0; fact < factCount; fact++) this.classify(fact);
    const needers: number[][] = Array.from({ length: factCount }, () => []);
    for (let operation = 0; operation < count; operation++) {
      for (let i = history.requireStart[operation]; i < history.requireStart[operation + 1]; i++) {
        needers[history.requireFact[i]].push(operation);
      }
    }
    this.neederStart = Int32Array.from(offsetsOf(needers));
    this.needer = Int32Array.from(needers.flat());
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
    const lost = this.lostFact(this.state);
    if (lost >= 0) {
      return {
        verdict: 'violation',
        steps,
        cacheHits: 0,
        longest: [],
        blocked: this.pendingNeeder(lost, -1),
      };
    }
    while (this.low < this.knownCount) {
      if (++steps > maxSteps) {
        return { verdict: 'inconclusive', steps: maxSteps, cacheHits: this.cacheHits, longest: this.longest };
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
        if (this.depth > this.longest.length) {
          this.longest = Array.from(this.frameOperation.subarray(0, this.depth));
          this.blocked = undefined;
        }
        if (this.depth === 0) {
          const { longest, blocked } = this;
          return { verdict: 'violation', steps, cacheHits: this.cacheHits, longest, blocked };
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
   * Linearizes `operation` next if the model allows it and the (set, state) it leads to is new;
   * `barrier` is remembered to resume the candidates after it if the choice is undone.
   */
  private tryLinearize(operation: number, resume: number): boolean {
    const isKnown = operation < this.knownCount;
    if (!isKnown && !this.twinTaken(operation)) return false;
    const after = this.model.step(this.state, operation);
    // An operation of unknown outcome that would change nothing here is not tried: if a legal
    // order puts it here, the order without it is legal too, ending with it (never happened).
    if (after < 0 || (!isKnown && after === this.state)) return false;
    if (!isKnown && !this.influencesACandidate(operation, after, resume)) return false;
    this.account(operation, -1);
    const lost = this.lostFact(after);
    if (lost >= 0) {
      // Still a linearizable prefix, and with the operation that needed the lost fact, the best
      // explanation of a violation: note it.
      if (this.depth + 1 > this.longest.length) {
        this.longest = [...this.frameOperation.subarray(0, this.depth), operation];
        this.blocked = this.pendingNeeder(lost, operation);
      }
      this.account(operation, 1);
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
      this.account(operation, 1);
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

  /** Takes back the last choice; returns its operation. */
  private undoLast(): number {
    const depth = --this.depth;
    this.memo.complete(this.frameEntry[depth]);
    const operation = this.frameOperation[depth];
    this.state = this.frameState[depth];
    this.low = this.frameLow[depth];
    this.high = this.frameHigh[depth];
    this.flip(operation);
    this.unlift(operation);
    this.account(operation, 1);
    return operation;
  }

  /**
   * A fact that makes `state` lead nowhere (-1: none): a fact that a pending operation needs is
   * false in it and no pending operation can make it true. (With unique values: a value once overwritten
   * never comes back, so a read still waiting for it can never be placed.) Cutting here finds
   * a wrong choice when it is made rather than when the read's return is reached.
   */
  private lostFact(state: number): number {
    const { factSlot, factValue } = this.history;
    for (let i = 0; i < this.unproducibleCount; i++) {
      const fact = this.unproducible[i];
      if (!this.model.holds(state, factSlot[fact], factValue[fact])) return fact;
    }
    return -1;
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
    for (let i = lowerBound(list, this.low); i < list.length && list[i] < knownCount; i++) {
      if (start[list[i]] > deadline) break;
      if (!this.isKnownLinearized(list[i]) && test(list[i])) return true;
    }
    for (let i = lowerBound(list, knownCount); i < list.length && start[list[i]] <= deadline; i++) {
      if (this.isUnknownPending(list[i]) && test(list[i])) return true;
    }
    return false;
  }

  /** A known operation other than `except`, not linearized, that requires `fact`. */
  private pendingNeeder(fact: number, except: number): number | undefined {
    for (let i = this.neederStart[fact]; i < this.neederStart[fact + 1]; i++) {
      const operation = this.needer[i];
      if (operation !== except && !this.isKnownLinearized(operation)) return operation;
    }
    return undefined;
  }

  /** Takes `operation` out of the counts of needers and writers (delta -1), or back in (+1). */
  private account(operation: number, delta: number): void {
    const { requireStart, requireFact, produceStart, produceFact } = this.history;
    for (let i = requireStart[operation]; i < requireStart[operation + 1]; i++) {
      this.needers[requireFact[i]] += delta;
      this.classify(requireFact[i]);
    }
    for (let i = produceStart[operation]; i < produceStart[operation + 1]; i++) {
      this.writers[produceFact[i]] += delta;
      this.classify(produceFact[i]);
    }
  }

  /** Keeps `fact` in the unproducible list exactly when it is needed and has no writer left. */
  private classify(fact: number): void {
    const wanted = this.needers[fact] > 0 && this.writers[fact] === 0;
    const at = this.unproducibleAt[fact];
    if (wanted && at < 0) {
      this.unproducibleAt[fact] = this.unproducibleCount;
      this.unproducible[this.unproducibleCount++] = fact;
    } else if (!wanted && at >= 0) {
      const last = this.unproducible[--this.unproducibleCount];
      this.unproducible[at] = last;
      this.unproducibleAt[last] = at;
      this.unproducibleAt[fact] = -1;
    }
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

/** The first index of the ascending `list` holding a value >= `value`. */
function lowerBound(list: readonly number[], value: number): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (list[middle] < value) low = middle + 1;
    else high = middle;
  }
  return low;
}

function offsetsOf(rows: readonly unknown[][]): number[] {
  const offsets = [0];
  for (const row of rows) offsets.push(offsets[offsets.length - 1] + row.length);
  return offsets;
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
  const time = (event: number) => ((event & 1) === 0 ? history.start[event >>> 1] : history.end[event >>> 1]);
  const order = Array.from({ length: 2 * count }, (_, event) => event).sort(
    (a, b) => time(a) - time(b) || (a & 1) - (b & 1) || a - b,
  );
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
