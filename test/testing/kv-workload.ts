/**
 * Histories of a key-value store that really ran, for tests and the checker's benchmark: clients
 * issue operations one after another; each takes effect atomically at a random instant between
 * its call and its return, in one total order, so the history is linearizable by construction.
 * Some answers are lost (end Infinity); about half of those operations never took effect.
 */
import type { KvCompare, KvOperation, KvTxnOp } from '../../src/testing/linearizability.js';
import { SeededRandom } from '../../src/testing/prng.js';

/** A single-key write of `value` (undefined: a delete) called at `start`, answered at `end`. */
export const w = (key: string, value: string | undefined, start: number, end: number): KvOperation => ({
  kind: 'write',
  key,
  value,
  start,
  end,
});

/** A single-key read that returned `value` (undefined: absent). */
export const r = (key: string, value: string | undefined, start: number, end: number): KvOperation => ({
  kind: 'read',
  key,
  value,
  start,
  end,
});

export type WorkloadKind = 'read' | 'write' | 'delete' | 'cas' | 'range' | 'txn';

export interface WorkloadOptions {
  seed: number;
  operations: number;
  clients: number;
  keys: readonly string[];
  /** Relative weights of the kinds (default: reads and writes only, half each). */
  mix?: Partial<Record<WorkloadKind, number>>;
  /** Chance that the answer to a write, delete, cas or txn is lost (default 0.05). */
  unknownRate?: number;
  /** Longest time from call to effect, and from effect to return (default 10). */
  latency?: number;
  /** Prefixes that ranges read (default: every key). */
  prefixes?: readonly string[];
}

interface Planned {
  client: number;
  kind: WorkloadKind;
  start: number;
  effect: number;
  end: number;
}

/** A linearizable history, in call order. */
export function executedHistory(options: WorkloadOptions): KvOperation[] {
  return executedWithOrder(options).history;
}

/** The history, and the order in which its operations took effect (those that did): a witness. */
export function executedWithOrder(options: WorkloadOptions): {
  history: KvOperation[];
  effectOrder: KvOperation[];
} {
  const random = new SeededRandom(options.seed);
  const latency = options.latency ?? 10;
  const kinds = weightedKinds(options.mix ?? { read: 1, write: 1 });
  const planned: Planned[] = [];
  const clock = new Array<number>(options.clients).fill(0);
  for (let i = 0; i < options.operations; i++) {
    const client = i % options.clients;
    const start = clock[client] + random.int(0, 3);
    const effect = start + random.int(0, latency + 1);
    const end = effect + random.int(0, latency + 1);
    clock[client] = end;
    planned.push({ client, kind: random.pick(kinds), start, effect, end });
  }
  // Effects in one total order: by effect time, ties in plan order (a stable sort).
  const byEffect = planned
    .map((_, index) => index)
    .sort((a, b) => planned[a].effect - planned[b].effect || a - b);
  const store = new Map<string, string>();
  const recorded: KvOperation[] = new Array<KvOperation>(planned.length);
  const context = { random, store, keys: options.keys, prefixes: options.prefixes ?? [''], nextValue: 0 };
  const effectOrder: KvOperation[] = [];
  for (const index of byEffect) {
    const plan = planned[index];
    const lost = plan.kind !== 'read' && plan.kind !== 'range' && random.chance(options.unknownRate ?? 0.05);
    const applied = !lost || random.chance(0.5);
    const operation = perform(context, plan.kind, applied);
    operation.start = plan.start;
    operation.end = lost ? Infinity : plan.end;
    operation.client = plan.client;
    if (lost && (operation.kind === 'cas' || operation.kind === 'txn')) delete operation.succeeded;
    recorded[index] = operation;
    if (applied) effectOrder.push(operation);
  }
  return { history: [...recorded].sort((a, b) => a.start - b.start), effectOrder };
}

function weightedKinds(mix: Partial<Record<WorkloadKind, number>>): WorkloadKind[] {
  return (Object.entries(mix) as [WorkloadKind, number][]).flatMap(([kind, weight]) =>
    new Array<WorkloadKind>(weight).fill(kind),
  );
}

interface Context {
  random: SeededRandom;
  store: Map<string, string>;
  keys: readonly string[];
  prefixes: readonly string[];
  nextValue: number;
}

/** Runs one operation against the store (unless `applied` is false) and records what it saw. */
function perform(context: Context, kind: WorkloadKind, applied: boolean): KvOperation {
  const { random, store, keys } = context;
  const key = random.pick(keys);
  const fresh = () => `v${context.nextValue++}`;
  const timing = { start: 0, end: 0 };
  switch (kind) {
    case 'read':
      return { kind, key, value: store.get(key), ...timing };
    case 'write':
    case 'delete': {
      const value = kind === 'write' ? fresh() : undefined;
      if (applied) set(store, key, value);
      return { kind: 'write', key, value, ...timing };
    }
    case 'cas': {
      // Half the time the client expects what is there, so that both outcomes are common.
      const expected = random.chance(0.5)
        ? store.get(key)
        : random.pick([undefined, `v${random.int(0, 1000)}`]);
      const value = fresh();
      const succeeded = store.get(key) === expected;
      if (applied && succeeded) store.set(key, value);
      return { kind, key, expected, value, succeeded, ...timing };
    }
    case 'range': {
      const prefix = random.pick(context.prefixes);
      const items = [...store]
        .filter(([name]) => name.startsWith(prefix))
        .map(([name, value]) => ({ key: name, value }));
      return { kind, prefix, items, ...timing };
    }
    case 'txn': {
      const compare = Array.from({ length: random.int(1, 3) }, () => comparison(context));
      const ops = () => Array.from({ length: random.int(0, 3) }, (): KvTxnOp => txnOp(context, fresh));
      const [success, failure] = [ops(), ops()];
      const succeeded = compare.every((each) => holds(store, each));
      if (applied)
        for (const op of succeeded ? success : failure)
          set(store, op.key, op.op === 'put' ? op.value : undefined);
      return { kind, compare, success, failure, succeeded, ...timing };
    }
  }
}

function comparison({ random, store, keys }: Context): KvCompare {
  const key = random.pick(keys);
  if (random.chance(0.3)) return { key, exists: random.chance(0.5) };
  const current = store.get(key);
  return { key, value: current !== undefined && random.chance(0.6) ? current : `v${random.int(0, 1000)}` };
}

function txnOp({ random, keys }: Context, fresh: () => string): KvTxnOp {
  const key = random.pick(keys);
  return random.chance(0.7) ? { op: 'put', key, value: fresh() } : { op: 'delete', key };
}

export function holds(store: ReadonlyMap<string, string>, compare: KvCompare): boolean {
  return 'value' in compare
    ? store.get(compare.key) === compare.value
    : store.has(compare.key) === compare.exists;
}

function set(store: Map<string, string>, key: string, value: string | undefined): void {
  if (value === undefined) store.delete(key);
  else store.set(key, value);
}
