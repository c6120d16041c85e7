/**
 * Cutting a history into independent components before the search, and shrinking each one.
 *
 * Linearizability is compositional (Herlihy & Wing): a history is linearizable iff the history of
 * each object is, where an object is what one operation may touch at once. A register per key is
 * such an object as long as every operation names one key; a txn makes its keys one object, and a
 * range makes one object of every key of the history under its prefix (a key under the prefix
 * that no operation names is absent throughout and cannot change the range's answer).
 */
import type { KvOperation } from './linearizability-types.js';

export interface Component {
  /** Sorted. */
  keys: string[];
  /** In history order. */
  operations: KvOperation[];
}

/** The keys an operation names itself; a range's reach is resolved against the history's keys. */
function namedKeys(operation: KvOperation): string[] {
  switch (operation.kind) {
    case 'read':
    case 'write':
    case 'cas':
      return [operation.key];
    case 'range':
      return operation.items.map((item) => item.key);
    case 'txn':
      return [
        ...operation.compare.map((compare) => compare.key),
        ...operation.success.map((op) => op.key),
        ...operation.failure.map((op) => op.key),
      ];
  }
}

const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The number of leading indexes in [0, length) for which `isBefore` holds (it must be monotone). */
export function partitionPoint(length: number, isBefore: (index: number) => boolean): number {
  let low = 0;
  let high = length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (isBefore(middle)) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * The run `[from, to)` of `sortedKeys` that starts with `prefix`: keys with a prefix are
 * contiguous in code-unit order, right after the prefix's own position.
 */
export function prefixRun(sortedKeys: readonly string[], prefix: string): [number, number] {
  const from = partitionPoint(sortedKeys.length, (i) => sortedKeys[i] < prefix);
  const count = partitionPoint(sortedKeys.length - from, (i) => sortedKeys[from + i].startsWith(prefix));
  return [from, from + count];
}

/**
 * Groups operations by the components their keys fall in, sorted by first key. A range whose
 * prefix covers no key of the history has no items (validation saw to that) and nothing can
 * contradict it, so it joins no component.
 */
export function splitIntoComponents(operations: readonly KvOperation[]): Component[] {
  const keys = [...new Set(operations.flatMap(namedKeys))].sort(byCodeUnits);
  const keyIndex = new Map(keys.map((key, index) => [key, index]));
  const parent = Int32Array.from(keys, (_, index) => index);
  const root = (index: number): number => {
    while (parent[index] !== index) {
      parent[index] = parent[parent[index]];
      index = parent[index];
    }
    return index;
  };
  const union = (a: number, b: number) => {
    parent[root(a)] = root(b);
  };
  // A range links a contiguous run of keys; a difference array marks each key linked to the next
  // by some range, so that many ranges over many keys cost O(ranges + keys), not their product.
  const linkedToNext = new Int32Array(keys.length + 1);
  const anchor = operations.map((operation) => {
    if (operation.kind === 'range') {
      const [from, to] = prefixRun(keys, operation.prefix);
      if (to - from >= 2) {
        linkedToNext[from]++;
        linkedToNext[to - 1]--;
      }
      return from < to ? from : -1;
    }
    const named = namedKeys(operation).map((key) => keyIndex.get(key)!);
    for (const other of named) union(named[0], other);
    return named.length > 0 ? named[0] : -1;
  });
  let open = 0;
  for (let index = 0; index + 1 < keys.length; index++) {
    open += linkedToNext[index];
    if (open > 0) union(index, index + 1);
  }
  const byRoot = new Map<number, Component>();
  keys.forEach((key, index) => {
    const component = byRoot.get(root(index)) ?? { keys: [], operations: [] };
    component.keys.push(key);
    byRoot.set(root(index), component);
  });
  operations.forEach((operation, index) => {
    if (anchor[index] >= 0) byRoot.get(root(anchor[index]))!.operations.push(operation);
  });
  return [...byRoot.values()];
}

/**
 * Leaves out writes and cas of unknown outcome whose new value nothing in the component observed,
 * on keys that no failed cas and no txn compare looks at. Such an operation can always go last
 * (its return is at infinity), where it changes nothing observed; and wherever a legal order puts
 * it, nothing between it and the key's next change can tell its value from the one before (a read
 * or range would have returned it, a successful cas or txn would have compared it). Only a failed
 * compare could tell them apart, which is why keys with failed cas or txn compares keep every such
 * operation. An unknown cas that met an unmet precondition in between did nothing there and can
 * move to the end too. So the history is linearizable with these operations exactly when it is
 * without them, and each one left out no longer has to be tried at every point after its call.
 * (Deletes are kept: reads of an absent key may be explained by them.)
 */
export function withoutUnobservedUnknownWrites(operations: readonly KvOperation[]): KvOperation[] {
  const observed = new Map<string, Set<string>>();
  const guarded = new Set<string>();
  const observe = (key: string, value: string | undefined) => {
    if (value === undefined) return;
    const values = observed.get(key) ?? new Set<string>();
    values.add(value);
    observed.set(key, values);
  };
  for (const operation of operations) {
    switch (operation.kind) {
      case 'read':
        observe(operation.key, operation.value);
        break;
      case 'range':
        for (const item of operation.items) observe(item.key, item.value);
        break;
      case 'cas':
        observe(operation.key, operation.expected);
        if (operation.succeeded === false) guarded.add(operation.key);
        break;
      case 'txn':
        for (const compare of operation.compare) guarded.add(compare.key);
        break;
      case 'write':
        break;
    }
  }
  const unobserved = (operation: KvOperation) =>
    operation.end === Infinity &&
    (operation.kind === 'cas' || (operation.kind === 'write' && operation.value !== undefined)) &&
    !guarded.has(operation.key) &&
    !(observed.get(operation.key)?.has(operation.value!) ?? false);
  return operations.filter((operation) => !unobserved(operation));
}
