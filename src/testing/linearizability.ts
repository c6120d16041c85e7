/**
 * A linearizability checker for histories of a key-value store, in the style of Porcupine: the
 * Wing & Gong search with Lowe's memoization (WGL), run on each independent part of the history.
 *
 * ## The history format (what the chaos runner and the simulator record)
 *
 * A history is a `KvOperation[]`, in any order. Every operation has a call time `start` and a
 * return time `end` from one monotonic clock (any unit; only the order matters), and optionally
 * the `client` that issued it. The kinds, with what the recorder writes down:
 *
 * - `read`  `{ key, value }`: a linearizable GET answered `value` (`undefined`: the key was absent).
 * - `write` `{ key, value }`: a PUT of `value`, or a DELETE when `value` is `undefined`.
 * - `cas`   `{ key, expected, value, succeeded }`: compare-and-set. It sets `value` only if the
 *   key's value is `expected` (`undefined`: "must be absent") at its linearization point.
 *   `succeeded: true` (200) says the precondition held there; `false` (412) says it did not (the
 *   CAS observed the key and changed nothing).
 * - `range` `{ prefix, items: [{ key, value }] }`: every key under `prefix` and its value, read
 *   at one instant. Record only complete answers (one page, `more: false`): a key under the prefix
 *   that is missing from `items` is asserted absent.
 * - `txn`   `{ compare, success, failure, succeeded }`: compares (`{ key, value }`: the key holds
 *   `value`; `{ key, exists }`: the key is present / absent), then, atomically, the `success` ops
 *   if every compare held, else the `failure` ops (`{ op: 'put', key, value }`,
 *   `{ op: 'delete', key }`, applied in order). `succeeded` is the branch the server reported.
 *
 * Outcomes. A write, cas or txn whose answer never came (timeout, lost connection, 504) has
 * `end: Infinity` and no `succeeded`: it may have taken effect at any moment after its call (a cas
 * or txn then acts as its compares dictate at that moment), or never — linearizing it after
 * everything else is the same as never. Operations known not to have happened (refused before
 * reaching a server, 400) and reads or ranges without an answer do not belong in the history;
 * reads and ranges always have a finite `end`. An answered cas or txn must say `succeeded`.
 *
 * Recording the KV service (issue 17's contract): `If-None-Match: *` on a PUT is a cas with
 * `expected: undefined`; `If-Match: "<rev>"` and revision compares become value compares when
 * every write writes a unique value (the recorder knows which value carried that revision); a
 * conditional DELETE is a txn with one compare and a `delete` in `success`.
 *
 * Files. `JSON.stringify(history)` is a valid history file (`Infinity` becomes `null`, `undefined`
 * values vanish); `parseKvHistory(text)` reads one back, also from an object holding it under
 * `history` (what `raftkit chaos` keeps). Input is checked before use: `checkKvLinearizability`
 * and `parseKvHistory` throw `InvalidHistoryError` naming the operation and the field.
 *
 * ## How it is checked
 *
 * Linearizability is compositional, so the history splits into components: keys linked by an
 * operation that touches several of them (a txn's keys; every key of the history under a range's
 * prefix) form one component, searched with a map-valued state; every other key is a component of
 * one register, searched with a scalar state (linearizability-components.ts). Each component:
 * 1. leaves out writes of unknown outcome that nothing can have observed;
 * 2. compiles every operation to one shape, a guarded update, with values numbered so that values
 *    nothing compares against are one value (linearizability-guarded.ts, -model.ts);
 * 3. looks for a stale observation that real time alone makes impossible (a read of a value that
 *    a later write certainly replaced before the read began): found, it is the verdict, with no
 *    search (linearizability-refute.ts);
 * 4. searches (linearizability-search.ts): WGL with a memo on (linearized set, state) and cuts
 *    that lose no linearization, each argued where it is made and held to a brute-force oracle.
 *
 * A component reports its effort: `steps` (candidates tried and choices undone; 0 when step 3
 * decided) and `cacheHits` (candidates skipped by the memo). Pure: no I/O, no clock.
 */
import { splitIntoComponents, withoutUnobservedUnknownWrites } from './linearizability-components.js';
import { validateKvHistory } from './linearizability-history.js';
import type { CheckerMutation } from './linearizability-guarded.js';
import { compileComponent, type CompiledComponent } from './linearizability-model.js';
import { findStaleObservation } from './linearizability-refute.js';
import { searchLinearization, type SearchResult } from './linearizability-search.js';

export { InvalidHistoryError, parseKvHistory } from './linearizability-history.js';

export type {
  KvCas,
  KvCompare,
  KvOperation,
  KvRange,
  KvRangeItem,
  KvRead,
  KvTimed,
  KvTxn,
  KvTxnOp,
  KvWrite,
} from './linearizability-types.js';
import type { KvOperation } from './linearizability-types.js';

/** The verdict on one component: keys whose operations must be linearized together. */
export interface ComponentResult {
  /** The component's keys, sorted. */
  keys: string[];
  /** The keys joined with ", " (one key: the key itself), for reports. */
  key: string;
  /** Operations searched (writes of unknown outcome that nothing observed are left out). */
  operations: number;
  /** How many such unobserved writes were left out (see linearizability-components.ts). */
  droppedUnknown: number;
  /** linearizable, not linearizable, or the search gave up after `maxSteps`. */
  verdict: 'ok' | 'violation' | 'inconclusive';
  /** Search steps: candidate operations considered plus backtracks. */
  steps: number;
  /** Candidates skipped because their (linearized set, state) had been explored already. */
  cacheHits: number;
  /** For a violation: the operations of the longest linearizable prefix the search found, in order. */
  longestPrefix?: KvOperation[];
  /** For a violation: the operations that could not be placed after that prefix. */
  stuck?: KvOperation[];
}

/** @deprecated one result per component now; use `ComponentResult`. */
export type KeyResult = ComponentResult;

/** What `checkKvLinearizability` found. */
export interface LinearizabilityReport {
  /** True only if every component is linearizable. */
  ok: boolean;
  /** One result per component, sorted by first key. */
  components: ComponentResult[];
  /** @deprecated the same array as `components` (kept for callers written before components). */
  keys: ComponentResult[];
  /** Search steps, over all components. */
  steps: number;
  /** Memo hits, over all components. */
  cacheHits: number;
}

/** How to check. */
export interface CheckOptions {
  /** Search steps allowed per component before it is reported inconclusive (default 2,000,000). */
  maxSteps?: number;
  /** Every key's value before any operation (default undefined: absent). */
  initial?: string;
}

/** Checks a history; ok only if every component is linearizable. Throws InvalidHistoryError. */
export function checkKvLinearizability(
  operations: readonly KvOperation[],
  options: CheckOptions = {},
): LinearizabilityReport {
  return checkKvLinearizabilityMutated(operations, undefined, options);
}

/**
 * The checker with a deliberate defect (or none), for tests that prove the corpus catches a broken
 * checker. Not exported from `raftkit/testing`: nobody checks real histories with it.
 */
export function checkKvLinearizabilityMutated(
  operations: readonly KvOperation[],
  mutation: CheckerMutation | undefined,
  options: CheckOptions = {},
): LinearizabilityReport {
  const maxSteps = options.maxSteps ?? 2_000_000;
  if (!Number.isSafeInteger(maxSteps) || maxSteps < 1) {
    throw new RangeError(`maxSteps must be a positive integer, not ${maxSteps}`);
  }
  if (options.initial !== undefined && typeof options.initial !== 'string') {
    throw new RangeError('initial must be a string or undefined');
  }
  validateKvHistory(operations);
  const components = splitIntoComponents(operations).map((component): ComponentResult => {
    const searched = withoutUnobservedUnknownWrites(component.operations);
    const compiled = compileComponent(component.keys, searched, options.initial, mutation);
    const search = refuteOrSearch(compiled, maxSteps);
    const result: ComponentResult = {
      keys: component.keys,
      key: component.keys.join(', '),
      operations: searched.length,
      droppedUnknown: component.operations.length - searched.length,
      verdict: search.verdict,
      steps: search.steps,
      cacheHits: search.cacheHits,
    };
    if (search.verdict === 'violation') {
      const placed = search.longest.map((number) => compiled.original[number]);
      result.longestPrefix = placed.map((index) => searched[index]);
      result.stuck =
        search.blocked === undefined
          ? stuckAfter(searched, placed)
          : [searched[compiled.original[search.blocked]]];
    }
    return result;
  });
  return {
    ok: components.every((component) => component.verdict === 'ok'),
    components,
    keys: components,
    steps: components.reduce((sum, component) => sum + component.steps, 0),
    cacheHits: components.reduce((sum, component) => sum + component.cacheHits, 0),
  };
}

/**
 * A stale observation found before the search decides without it (no steps): the writer and the
 * overwriter are the prefix, the observer is stuck. Otherwise, the search.
 */
function refuteOrSearch(compiled: CompiledComponent, maxSteps: number): SearchResult {
  const { start, end } = compiled.history;
  const stale = findStaleObservation(compiled.guarded, start, end, compiled.initialValue);
  if (stale === undefined) return searchLinearization(compiled.history, compiled.model, maxSteps);
  const longest = [stale.writer ?? -1, stale.overwriter].filter((number) => number >= 0);
  return { verdict: 'violation', steps: 0, cacheHits: 0, longest, blocked: stale.observer };
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
