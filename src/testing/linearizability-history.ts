/**
 * Histories are input, and input is hostile: a history built by a buggy recorder or read from a
 * file is checked field by field before the search trusts it, and a bad one is refused with an
 * `InvalidHistoryError` naming the operation and the field (never a crash or a wrong verdict).
 */
import type { KvCompare, KvOperation, KvRangeItem, KvTxnOp } from './linearizability-types.js';

/** A history the checker refuses: what is wrong, and with which operation. */
export class InvalidHistoryError extends RangeError {
  /** The position of the offending operation in the history, if one is to blame. */
  readonly index: number | undefined;

  constructor(message: string, index?: number) {
    super(index === undefined ? message : `history[${index}]: ${message}`);
    this.name = 'InvalidHistoryError';
    this.index = index;
  }
}

type Fields = Record<string, unknown>;

/** Throws InvalidHistoryError unless every operation is well formed. */
export function validateKvHistory(operations: readonly unknown[]): void {
  if (!Array.isArray(operations)) throw new InvalidHistoryError('a history is an array of operations');
  operations.forEach((operation, index) => {
    const problem = problemWith(operation);
    if (problem !== undefined) throw new InvalidHistoryError(problem, index);
  });
}

/**
 * Reads a history file: the JSON of a `KvOperation[]` (as `JSON.stringify` writes it: `end: null`
 * for Infinity, `null` or missing values for absent ones), bare or under `history` in an object.
 */
export function parseKvHistory(text: string): KvOperation[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InvalidHistoryError(`not JSON: ${(error as Error).message}`);
  }
  const list = isObject(json) && !Array.isArray(json) ? json.history : json;
  if (!Array.isArray(list)) {
    throw new InvalidHistoryError('expected an array of operations, or an object with one under "history"');
  }
  const operations = list.map((entry, index) => {
    if (!isObject(entry)) throw new InvalidHistoryError('an operation is an object', index);
    return fromJson(entry);
  });
  validateKvHistory(operations);
  return operations as KvOperation[];
}

/** Copies the known fields of one JSON operation, turning JSON's nulls back into Infinity/undefined. */
function fromJson(entry: Fields): unknown {
  const absentIfNull = (value: unknown) => (value === null ? undefined : value);
  const timed = {
    start: entry.start,
    end: entry.end === null ? Infinity : entry.end,
    ...(entry.client === undefined ? {} : { client: entry.client }),
  };
  switch (entry.kind) {
    case 'read':
    case 'write':
      return { kind: entry.kind, key: entry.key, value: absentIfNull(entry.value), ...timed };
    case 'cas':
      return {
        kind: entry.kind,
        key: entry.key,
        expected: absentIfNull(entry.expected),
        value: entry.value,
        ...(entry.succeeded === undefined || entry.succeeded === null ? {} : { succeeded: entry.succeeded }),
        ...timed,
      };
    case 'range':
      return { kind: entry.kind, prefix: entry.prefix, items: entry.items, ...timed };
    case 'txn':
      return {
        kind: entry.kind,
        compare: entry.compare,
        success: entry.success,
        failure: entry.failure,
        ...(entry.succeeded === undefined || entry.succeeded === null ? {} : { succeeded: entry.succeeded }),
        ...timed,
      };
    default:
      return entry; // refused by validation, which names the kind
  }
}

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null;
}

const isKey = (value: unknown): value is string => typeof value === 'string';
const isValue = (value: unknown): value is string => typeof value === 'string';
const isValueOrAbsent = (value: unknown) => value === undefined || isValue(value);

/** What is wrong with one operation, or undefined if nothing is. */
function problemWith(operation: unknown): string | undefined {
  if (!isObject(operation)) return 'an operation is an object';
  const timing = timingProblem(operation);
  if (timing !== undefined) return timing;
  switch (operation.kind) {
    case 'read':
    case 'write':
      if (!isKey(operation.key)) return `${operation.kind}: key must be a string`;
      if (!isValueOrAbsent(operation.value)) return `${operation.kind}: value must be a string or undefined`;
      return undefined;
    case 'cas':
      if (!isKey(operation.key)) return 'cas: key must be a string';
      if (!isValueOrAbsent(operation.expected)) return 'cas: expected must be a string or undefined';
      if (!isValue(operation.value)) return 'cas: value must be a string';
      return outcomeProblem('cas', operation);
    case 'range':
      if (!isKey(operation.prefix)) return 'range: prefix must be a string';
      return itemsProblem(operation.prefix, operation.items);
    case 'txn':
      return txnProblem(operation) ?? outcomeProblem('txn', operation);
    default:
      return `unknown kind ${JSON.stringify(operation.kind)} (read, write, cas, range or txn)`;
  }
}

function timingProblem(operation: Fields): string | undefined {
  const { start, end, client, kind } = operation;
  if (typeof start !== 'number' || !Number.isFinite(start)) return 'start must be a finite number';
  if (typeof end !== 'number' || Number.isNaN(end)) return 'end must be a number (Infinity: outcome unknown)';
  if (end < start) return `ends (${end}) before it starts (${start})`;
  if (end === Infinity && (kind === 'read' || kind === 'range')) {
    return `${kind}: a ${kind} without an answer does not belong in the history (end must be finite)`;
  }
  if (client !== undefined && typeof client !== 'number') return 'client must be a number';
  return undefined;
}

/** An answered cas or txn says which way it went; one of unknown outcome cannot. */
function outcomeProblem(kind: string, operation: Fields): string | undefined {
  const known = operation.end !== Infinity;
  if (known && typeof operation.succeeded !== 'boolean') {
    return `${kind}: succeeded must be true or false when the outcome is known (finite end)`;
  }
  if (!known && operation.succeeded !== undefined) {
    return `${kind}: an unknown outcome (end Infinity) cannot say succeeded`;
  }
  return undefined;
}

function itemsProblem(prefix: string, items: unknown): string | undefined {
  if (!Array.isArray(items)) return 'range: items must be an array of {key, value}';
  const seen = new Set<string>();
  for (const item of items as unknown[]) {
    if (!isObject(item) || !isKey(item.key) || !isValue(item.value)) {
      return 'range: each item is {key: string, value: string}';
    }
    const { key } = item as unknown as KvRangeItem;
    if (!key.startsWith(prefix)) return `range: item ${JSON.stringify(key)} is not under the prefix`;
    if (seen.has(key)) return `range: item ${JSON.stringify(key)} appears twice`;
    seen.add(key);
  }
  return undefined;
}

function txnProblem(operation: Fields): string | undefined {
  if (!Array.isArray(operation.compare)) return 'txn: compare must be an array';
  for (const compare of operation.compare as unknown[]) {
    const problem = compareProblem(compare);
    if (problem !== undefined) return problem;
  }
  for (const branch of ['success', 'failure'] as const) {
    const ops = operation[branch];
    if (!Array.isArray(ops)) return `txn: ${branch} must be an array`;
    for (const op of ops as unknown[]) {
      const problem = txnOpProblem(op);
      if (problem !== undefined) return `txn: ${branch}: ${problem}`;
    }
  }
  return undefined;
}

function compareProblem(compare: unknown): string | undefined {
  const shape = 'txn: a compare is {key, value: string} or {key, exists: boolean}';
  if (!isObject(compare) || !isKey(compare.key)) return shape;
  const byValue = 'value' in compare;
  const byExistence = 'exists' in compare;
  if (byValue === byExistence) return shape;
  const typed = compare as KvCompare;
  if ('value' in typed ? !isValue(typed.value) : typeof typed.exists !== 'boolean') return shape;
  return undefined;
}

function txnOpProblem(op: unknown): string | undefined {
  if (!isObject(op) || !isKey(op.key)) return 'an op is {op: "put", key, value} or {op: "delete", key}';
  const typed = op as KvTxnOp;
  if (typed.op === 'put') return isValue(typed.value) ? undefined : 'put: value must be a string';
  if (typed.op === 'delete') return undefined;
  return `unknown op ${JSON.stringify(op.op)} (put or delete)`;
}
