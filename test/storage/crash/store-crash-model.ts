/**
 * The crash test's model of the store: seeded plans of Raft-like write operations, the state each
 * prefix of a plan leaves behind, and a canonical text form of a state to compare with what a
 * reopened store holds. Pure: no I/O.
 *
 * One operation is what the runtime issues in one persistence step, all in one synchronous turn:
 * an optional deleteRange, an optional storeLogs, and stable-store sets. The child acknowledges an
 * operation once all its promises resolved. Because both stores commit whole transactions (LMDB)
 * or groups (the WAL) in the order the writes were issued, a reopened store must equal the state
 * after some prefix of the plan that contains every acknowledged operation.
 */

/** [index, term, type, data (base64), extensions (base64), appendedAt] */
export type PlannedEntry = [number, number, number, string, string, number];

export interface PlannedOp {
  del?: [number, number];
  logs?: PlannedEntry[];
  /** setUint64 calls. */
  u64?: [string, number][];
  /** set calls, values in base64. */
  bytes?: [string, string][];
}

export interface Plan {
  /** How many operations the child keeps in flight before waiting for the oldest. */
  depth: number;
  ops: PlannedOp[];
}

export interface ModelState {
  logs: Map<number, PlannedEntry>;
  /** Stable values as hex. */
  stable: Map<string, string>;
}

/** Every stable key a plan writes; the verifier reads exactly these. */
export const STABLE_KEYS = ['CurrentTerm', 'LastVoteTerm', 'LastVoteCand', 'CommitIndex'] as const;

/** mulberry32: small, seedable, good enough to pick sizes and moments. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function emptyState(): ModelState {
  return { logs: new Map(), stable: new Map() };
}

export function cloneState(state: ModelState): ModelState {
  return { logs: new Map(state.logs), stable: new Map(state.stable) };
}

/** Applies one operation in the order the child issues its writes. Mutates `state`. */
export function applyOp(state: ModelState, op: PlannedOp): void {
  if (op.del) {
    const [min, max] = op.del;
    for (const index of [...state.logs.keys()]) if (index >= min && index <= max) state.logs.delete(index);
  }
  for (const entry of op.logs ?? []) state.logs.set(entry[0], entry);
  for (const [key, value] of op.u64 ?? []) state.stable.set(key, uint64Hex(value));
  for (const [key, value] of op.bytes ?? [])
    state.stable.set(key, Buffer.from(value, 'base64').toString('hex'));
}

/** The text both the model and a reopened store are reduced to; equal text means equal state. */
export function canonical(logs: Iterable<PlannedEntry>, stable: Map<string, string>): string {
  const lines = [...logs].sort((a, b) => a[0] - b[0]).map((entry) => entry.join('|'));
  for (const key of STABLE_KEYS) lines.push(`${key}=${stable.get(key) ?? '<absent>'}`);
  return lines.join('\n');
}

export function canonicalState(state: ModelState): string {
  return canonical(state.logs.values(), state.stable);
}

export function uint64Hex(value: number): string {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt(value));
  return bytes.toString('hex');
}

/**
 * A plan that continues from `start` like a Raft node would: appends at the end of the log in the
 * current term, term changes that truncate a suffix and rewrite it (with the vote in the same
 * step), compactions of a prefix, and stand-alone stable writes.
 */
export function makePlan(random: () => number, start: ModelState, opCount: number): Plan {
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const bytes = (length: number) => {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) out[i] = int(0, 255);
    return out.toString('base64');
  };
  const indexes = [...start.logs.keys()];
  let first = indexes.length ? Math.min(...indexes) : 0;
  let last = indexes.length ? Math.max(...indexes) : 0;
  const currentTerm = start.stable.get('CurrentTerm');
  let term = currentTerm ? Number(BigInt(`0x${currentTerm}`)) : 1;
  const newEntries = (from: number, count: number): PlannedEntry[] => {
    const out: PlannedEntry[] = [];
    for (let index = from; index < from + count; index++) {
      const size = random() < 0.05 ? int(1000, 5000) : int(0, 200);
      out.push([
        index,
        term,
        [0, 0, 0, 1, 5][int(0, 4)],
        bytes(size),
        bytes(int(0, 3) === 0 ? 8 : 0),
        int(0, 2e12),
      ]);
    }
    return out;
  };
  const ops: PlannedOp[] = [];
  for (let n = 0; n < opCount; n++) {
    const roll = random();
    const length = last === 0 ? 0 : last - first + 1;
    if (roll < 0.1 && length > 0) {
      // New term: the node votes and the leader's log replaces a suffix of ours.
      term += 1;
      const from = Math.max(first, last - int(0, 10));
      const logs = newEntries(from, int(1, 16));
      ops.push({
        del: [from, last],
        logs,
        u64: [
          ['CurrentTerm', term],
          ['LastVoteTerm', term],
        ],
        bytes: [
          ['LastVoteCand', Buffer.from(`n${int(1, 5)}\n127.0.0.1:${int(7000, 7999)}`).toString('base64')],
        ],
      });
      last = from + logs.length - 1;
    } else if (roll < (length > 400 ? 0.4 : 0.15) && length > 20) {
      const to = first + int(1, Math.min(200, length - 2));
      ops.push({ del: [first, to] });
      first = to + 1;
    } else if (roll < 0.25) {
      ops.push({ u64: [['CommitIndex', int(0, last)]], bytes: [['LastVoteCand', bytes(int(0, 40))]] });
    } else {
      const logs = newEntries(last + 1, random() < 0.05 ? int(100, 300) : int(1, 32));
      ops.push({ logs, u64: random() < 0.5 ? [['CommitIndex', Math.max(0, last)]] : undefined });
      if (first === 0) first = logs[0][0];
      last += logs.length;
    }
  }
  return { depth: int(1, 4), ops };
}
