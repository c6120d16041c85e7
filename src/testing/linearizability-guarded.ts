/**
 * The one shape every operation compiles to: a guarded update. Some compares on keys, then one
 * list of updates if they all hold and another if not, and an outcome that says which branch the
 * client saw. A read is one compare and must succeed; a write has no compare; a cas is one
 * compare with the update in its success branch (a failed cas must have found the compare false);
 * a range compares every key under its prefix; a txn is itself. An unknown outcome takes whichever
 * branch the state selects. Keys are slots, values are numbers, so states and compares are
 * integers.
 */
import { prefixRun } from './linearizability-components.js';
import type { KvOperation, KvTxnOp } from './linearizability-types.js';

/**
 * Deliberate defects, for tests that show the tests catch a broken checker:
 * - `cas-ignores-precondition`: a cas reported successful takes effect whatever the key holds;
 * - `unknown-cas-ignores-precondition`: a cas of unknown outcome may take effect whatever the key
 *   holds (the model must allow it only where its precondition held);
 * - `ignore-real-time`: every operation counts as called at the very beginning, so an operation
 *   may be ordered before one that returned before it was called.
 */
export type CheckerMutation =
  'cas-ignores-precondition' | 'unknown-cas-ignores-precondition' | 'ignore-real-time';

export const SUCCEEDED = 0;
export const FAILED = 1;
export const UNKNOWN = 2;
/** Compare modes: the slot holds the value; the slot holds any value (the key exists). */
export const EQUALS = 0;
export const EXISTS = 1;

/** One operation as a guarded update over key slots and value numbers. */
export interface Guarded {
  outcome: number;
  compares: [slot: number, value: number, mode: number][];
  then: [slot: number, value: number][];
  otherwise: [slot: number, value: number][];
}

/**
 * Numbers values: 0 is absent; every value some operation compares against (a read's, a range
 * item's, a cas's expected value, a txn's compare) gets its own number; every other value shares
 * the number 1. Nothing can tell apart two values that nothing compares against, so the states
 * they make are one state, which lets the memo merge them.
 */
export function valueNumbering(operations: readonly KvOperation[]): (value: string | undefined) => number {
  const numbers = new Map<string, number>();
  const compared = (value: string | undefined) => {
    if (value !== undefined && !numbers.has(value)) numbers.set(value, numbers.size + 2);
  };
  for (const operation of operations) {
    if (operation.kind === 'read') compared(operation.value);
    if (operation.kind === 'cas') compared(operation.expected);
    if (operation.kind === 'range') for (const item of operation.items) compared(item.value);
    if (operation.kind === 'txn') {
      for (const compare of operation.compare) if ('value' in compare) compared(compare.value);
    }
  }
  return (value) => (value === undefined ? 0 : (numbers.get(value) ?? 1));
}

export function guardedUpdate(
  operation: KvOperation,
  keys: readonly string[],
  slotOf: ReadonlyMap<string, number>,
  valueNumber: (value: string | undefined) => number,
  mutation: CheckerMutation | undefined,
): Guarded {
  const slot = (key: string) => slotOf.get(key)!;
  const outcomeOf = (succeeded: boolean | undefined) =>
    succeeded === undefined ? UNKNOWN : succeeded ? SUCCEEDED : FAILED;
  const update = (op: KvTxnOp): [number, number] => [
    slot(op.key),
    op.op === 'put' ? valueNumber(op.value) : 0,
  ];
  switch (operation.kind) {
    case 'read':
      return {
        outcome: SUCCEEDED,
        compares: [[slot(operation.key), valueNumber(operation.value), EQUALS]],
        then: [],
        otherwise: [],
      };
    case 'write':
      return {
        outcome: SUCCEEDED,
        compares: [],
        then: [[slot(operation.key), valueNumber(operation.value)]],
        otherwise: [],
      };
    case 'cas': {
      const outcome = outcomeOf(operation.succeeded);
      const unchecked =
        (mutation === 'cas-ignores-precondition' && outcome === SUCCEEDED) ||
        (mutation === 'unknown-cas-ignores-precondition' && outcome === UNKNOWN);
      return {
        outcome,
        compares: unchecked ? [] : [[slot(operation.key), valueNumber(operation.expected), EQUALS]],
        then: outcome === FAILED ? [] : [[slot(operation.key), valueNumber(operation.value)]],
        otherwise: [],
      };
    }
    case 'range': {
      const [from, to] = prefixRun(keys, operation.prefix);
      const returned = new Map(operation.items.map((item) => [item.key, item.value]));
      const compares: Guarded['compares'] = [];
      for (let i = from; i < to; i++) compares.push([i, valueNumber(returned.get(keys[i])), EQUALS]);
      return { outcome: SUCCEEDED, compares, then: [], otherwise: [] };
    }
    case 'txn':
      return {
        outcome: outcomeOf(operation.succeeded),
        compares: operation.compare.map((compare) =>
          'value' in compare
            ? [slot(compare.key), valueNumber(compare.value), EQUALS]
            : [slot(compare.key), 0, compare.exists ? EXISTS : EQUALS],
        ),
        then: operation.success.map(update),
        otherwise: operation.failure.map(update),
      };
  }
}

/** Tuples of integers in compressed rows: row i is at [start[i], start[i + 1]) of each column. */
export function compressedRows(rows: readonly (readonly number[])[][], columns: number) {
  const start = new Int32Array(rows.length + 1);
  rows.forEach((row, i) => (start[i + 1] = start[i] + row.length));
  const values = Array.from({ length: columns }, () => new Int32Array(start[rows.length]));
  let at = 0;
  for (const row of rows) {
    for (const tuple of row) {
      for (let column = 0; column < columns; column++) values[column][at] = tuple[column];
      at++;
    }
  }
  return { start, values };
}
