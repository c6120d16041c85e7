/**
 * A linearizability checker for histories of a key-value store (each key a read/write register),
 * in the style of Porcupine: the Wing & Gong search with Lowe's memoization (WGL), run per key
 * (linearizability is compositional, so keys are checked independently and stay small).
 *
 * An operation has a call and a return time from one monotonic clock. A write whose outcome the
 * client never learned (timeout, connection lost, 504) has `end: Infinity`: it may have taken
 * effect at any moment after its call, or not at all (linearizing it after everything else is
 * the same as never). Writes known to have failed, and reads without an answer, do not belong in
 * the history. Pure: no I/O, no clock.
 */

export interface KvOperation {
  key: string;
  kind: 'write' | 'read';
  /** The value written (undefined: a delete), or the value the read returned (undefined: absent). */
  value: string | undefined;
  /** Call and return times; `end` is Infinity for a write whose outcome is unknown. */
  start: number;
  end: number;
  /** Who issued it, for reports. */
  client?: number;
}

export interface KeyResult {
  key: string;
  /** Operations searched (writes of unknown outcome that no read saw are left out: see below). */
  operations: number;
  /** linearizable, not linearizable, or the search gave up after `maxSteps`. */
  verdict: 'ok' | 'violation' | 'inconclusive';
  steps: number;
  /** For a violation: the operations of the longest linearizable prefix the search found, in order. */
  longestPrefix?: KvOperation[];
  /** For a violation: the operations that could not be placed after that prefix. */
  stuck?: KvOperation[];
}

export interface LinearizabilityReport {
  ok: boolean;
  keys: KeyResult[];
}

export interface CheckOptions {
  /** Search steps allowed per key before it is reported inconclusive (default 2,000,000). */
  maxSteps?: number;
  /** The register's value before any write (default undefined: absent). */
  initial?: string;
}

/** Checks every key's history; ok only if every key is linearizable. */
export function checkKvLinearizability(
  operations: readonly KvOperation[],
  options: CheckOptions = {},
): LinearizabilityReport {
  const byKey = new Map<string, KvOperation[]>();
  for (const operation of operations) {
    if (!(operation.end >= operation.start)) {
      throw new RangeError(`operation on ${operation.key} ends (${operation.end}) before it starts`);
    }
    const list = byKey.get(operation.key) ?? [];
    list.push(operation);
    byKey.set(operation.key, list);
  }
  const keys = [...byKey.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, list]) =>
      checkRegister(key, withoutUnseenUnknownWrites(list), options.maxSteps ?? 2_000_000, options.initial),
    );
  return { ok: keys.every((result) => result.verdict === 'ok'), keys };
}

/**
 * Drops writes of unknown outcome whose value no read returned. Such a write can always go last
 * (its return is at infinity) where it changes nothing observed, and in any legal order no read
 * sits between it and the next write (that read would have returned its value), so the history is
 * linearizable with it exactly when it is without it. Dropping them keeps the search small: each
 * one would otherwise be tried at every point after its call. (Deletes are kept: reads of an
 * absent key may be explained by them.)
 */
function withoutUnseenUnknownWrites(operations: readonly KvOperation[]): KvOperation[] {
  const seen = new Set<string>();
  for (const operation of operations) {
    if (operation.kind === 'read' && operation.value !== undefined) seen.add(operation.value);
  }
  return operations.filter(
    (operation) =>
      !(
        operation.kind === 'write' &&
        operation.end === Infinity &&
        operation.value !== undefined &&
        !seen.has(operation.value)
      ),
  );
}

/** One call or return event in the doubly linked list the search edits. */
interface Entry {
  operation: number;
  isCall: boolean;
  time: number;
  /** The matching return entry (on call entries). */
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

function buildList(operations: readonly KvOperation[]): Entry {
  const entries: Entry[] = [];
  operations.forEach((operation, i) => {
    const call: Entry = {
      operation: i,
      isCall: true,
      time: operation.start,
      match: null,
      prev: null,
      next: null,
    };
    const ret: Entry = {
      operation: i,
      isCall: false,
      time: operation.end,
      match: null,
      prev: null,
      next: null,
    };
    call.match = ret;
    entries.push(call, ret);
  });
  // At equal times calls go first: operations that touch at an instant count as concurrent.
  entries.sort((a, b) => a.time - b.time || Number(b.isCall) - Number(a.isCall));
  const head: Entry = { operation: -1, isCall: false, time: -Infinity, match: null, prev: null, next: null };
  let last = head;
  for (const entry of entries) {
    last.next = entry;
    entry.prev = last;
    last = entry;
  }
  return head;
}

/** Removes a call entry and its return from the list. */
function lift(call: Entry): void {
  call.prev!.next = call.next;
  if (call.next) call.next.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

/** Puts back what `lift` removed (in reverse order). */
function unlift(call: Entry): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next) ret.next.prev = ret;
  call.prev!.next = call;
  if (call.next) call.next.prev = call;
}

/** The register's step function: whether `operation` can happen in `state`, and the state after. */
function step(state: string | undefined, operation: KvOperation): { ok: boolean; next: string | undefined } {
  if (operation.kind === 'write') return { ok: true, next: operation.value };
  return { ok: operation.value === state, next: state };
}

function checkRegister(
  key: string,
  operations: readonly KvOperation[],
  maxSteps: number,
  initial: string | undefined,
): KeyResult {
  const head = buildList(operations);
  // Memo of (set of linearized operations, state) already explored. The set is a bitset kept
  // alongside a 64-bit Zobrist hash; the memo key is the bitset's bytes plus the state.
  const words = new Uint32Array(Math.ceil(operations.length / 32));
  const seen = new Set<string>();
  const memoKey = (state: string | undefined) =>
    `${Buffer.from(words.buffer).toString('latin1')}|${state === undefined ? '\u0000' : `=${state}`}`;
  const stack: { call: Entry; state: string | undefined }[] = [];
  let state = initial;
  let entry = head.next;
  let steps = 0;
  let longest: number[] = [];
  while (head.next !== null) {
    if (++steps > maxSteps) return { key, operations: operations.length, verdict: 'inconclusive', steps };
    if (entry!.isCall) {
      const operation = operations[entry!.operation];
      const { ok, next } = step(state, operation);
      if (ok) {
        const bit = entry!.operation;
        words[bit >>> 5] |= 1 << (bit & 31);
        const memo = memoKey(next);
        if (!seen.has(memo)) {
          seen.add(memo);
          stack.push({ call: entry!, state });
          state = next;
          lift(entry!);
          entry = head.next;
          continue;
        }
        words[bit >>> 5] &= ~(1 << (bit & 31));
      }
      entry = entry!.next;
    } else {
      // A return with its operation not yet linearized: undo the last choice and try the next.
      if (stack.length > longest.length) longest = stack.map((frame) => frame.call.operation);
      const frame = stack.pop();
      if (frame === undefined) {
        return {
          key,
          operations: operations.length,
          verdict: 'violation',
          steps,
          longestPrefix: longest.map((i) => operations[i]),
          stuck: stuckAfter(operations, longest),
        };
      }
      const bit = frame.call.operation;
      words[bit >>> 5] &= ~(1 << (bit & 31));
      state = frame.state;
      unlift(frame.call);
      entry = frame.call.next;
    }
  }
  return { key, operations: operations.length, verdict: 'ok', steps };
}

/**
 * The operations not in `placed` that were called by the earliest return among them: one of them
 * must come next, and none can (nothing called later can be the culprit).
 */
function stuckAfter(operations: readonly KvOperation[], placed: readonly number[]): KvOperation[] {
  const done = new Set(placed);
  const rest = operations.filter((_, i) => !done.has(i));
  const earliestReturn = rest.reduce((earliest, operation) => Math.min(earliest, operation.end), Infinity);
  return rest.filter((operation) => operation.start <= earliestReturn);
}
