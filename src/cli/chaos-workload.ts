/**
 * The clients of a `raftkit chaos` run and the history they record, in the format of the
 * linearizability checker (src/testing/linearizability.ts, whose module header holds the recording
 * rules followed here). Every write writes a value no other write writes, so a value names the one
 * operation that wrote it. Operations: reads and puts and deletes, the v1 compare-and-set
 * (`?prev=VALUE`, and `?prev=` for "must be absent"), and — when the servers speak KV v2 —
 * `If-None-Match: *` and `If-Match: "<rev>"` conditional puts, complete one-page ranges and
 * transactions.
 *
 * Outcomes: 200 (and 404 for a read, 412 for a conditional write) are definite; a request refused
 * before it reached a server, or answered 4xx or 503, changed nothing and is left out (counted
 * failed); anything else (timeout, reset, 504 and other 5xx) leaves a write of unknown outcome
 * (`end: Infinity`). The KV contract makes 503 a refusal (no leader known, a transfer in progress,
 * Raft shut down before the apply was taken: nothing was appended; `raftkit/client` retries it as
 * such) and 504 the unknown outcome, so the run holds the service to it: a 503 write that took
 * effect shows as a violation. Every unknown outcome the history need not carry matters: each one
 * stays pending to the end of the history, and the checker's work grows with them. A read or range
 * without an answer changed nothing: counted failed, not recorded.
 */
import { sleep, type Clock } from '../index.js';
import type { KvCompare, KvOperation, KvRangeItem, KvTxnOp } from '../testing/linearizability.js';
import type { SeededRandom } from '../testing/prng.js';
import { JSON_HEADERS, type ChaosCluster, type Outcome } from './chaos-cluster.js';

/** The kinds of operation the clients issue. */
export type WorkloadKind =
  'read' | 'put' | 'delete' | 'cas' | 'cas-absent' | 'if-none-match' | 'if-match' | 'range' | 'txn';

/** How many operations of one kind ended which way. */
export interface KindCounts {
  ok: number;
  unknown: number;
  failed: number;
}

/** Operations by outcome, in total and by kind. */
export interface WorkloadCounts {
  ops: number;
  ok: number;
  unknown: number;
  failed: number;
  byKind: Partial<Record<WorkloadKind, KindCounts>>;
}

const V1_KINDS: readonly WorkloadKind[] = [
  'read',
  'read',
  'read',
  'put',
  'put',
  'delete',
  'cas',
  'cas-absent',
];
const V2_KINDS: readonly WorkloadKind[] = [...V1_KINDS, 'if-none-match', 'if-match', 'range', 'txn'];
/**
 * The workload's keys, in pairs that share a prefix: `k0-a`, `k0-b`, `k1-a`, ... A range reads one
 * pair's prefix and a txn moves the two keys of one pair, so the checker's independent parts stay
 * two keys wide however long the run (a range over every key would make the whole history one part).
 */
export function workloadKeys(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${groupOf(i)}${i % 2 === 0 ? 'a' : 'b'}`);
}

function groupOf(index: number): string {
  return `k${Math.floor(index / 2)}-`;
}

type Finished =
  { outcome: 'ok'; op: KvOperation | null } | { outcome: 'unknown'; op: KvOperation } | { outcome: 'failed' };

export class ChaosWorkload {
  readonly history: KvOperation[] = [];
  readonly counts: WorkloadCounts = { ops: 0, ok: 0, unknown: 0, failed: 0, byKind: {} };
  /** Per key, the last value and revision some client read (for If-Match and `?prev=`). */
  private readonly seen = new Map<string, { value: string; revision: string | null }>();

  constructor(
    private readonly cluster: ChaosCluster,
    readonly keys: readonly string[],
    private readonly clock: Clock,
    /** Whether the servers speak KV v2 (ranges, txn, ETags). */
    readonly v2: boolean,
  ) {}

  /** One client: operations on random keys through random members until `stopped()`. */
  async client(id: number, random: SeededRandom, stopped: () => boolean): Promise<void> {
    const kinds = this.v2 ? V2_KINDS : V1_KINDS;
    for (let n = 0; !stopped(); n++) {
      const ok = await this.issue(id, random.pick(kinds), random, `c${id}-${n}`);
      if (!ok) await sleep(this.clock, random.int(50, 250));
    }
  }

  /** A linearizable read of `key` by client -1 (the final reads); true once answered. */
  async finalRead(key: string, attempt: number): Promise<boolean> {
    const member = this.cluster.members[attempt % this.cluster.members.length];
    return this.record(await this.read(-1, key, member));
  }

  private async issue(
    client: number,
    kind: WorkloadKind,
    random: SeededRandom,
    value: string,
  ): Promise<boolean> {
    const member = random.pick(this.cluster.members);
    const key = random.pick(this.keys);
    const seen = this.seen.get(key);
    let finished: Finished;
    switch (kind) {
      case 'read':
        finished = await this.read(client, key, member);
        break;
      case 'put':
        finished = await this.write(client, key, value, member, 'PUT', `/kv/${key}`, {});
        break;
      case 'delete':
        finished = await this.write(client, key, undefined, member, 'DELETE', `/kv/${key}`, {});
        break;
      case 'cas':
      case 'cas-absent': {
        const expected = kind === 'cas' ? seen?.value : undefined;
        const prev = expected === undefined ? '' : encodeURIComponent(expected);
        finished = await this.cas(client, key, expected, value, member, `/kv/${key}?prev=${prev}`, {});
        break;
      }
      case 'if-none-match':
        finished = await this.cas(client, key, undefined, value, member, `/kv/${key}`, {
          'If-None-Match': '*',
        });
        break;
      case 'if-match':
        if (seen?.revision == null) return this.issue(client, 'put', random, value);
        finished = await this.cas(client, key, seen.value, value, member, `/kv/${key}`, {
          'If-Match': seen.revision,
        });
        break;
      case 'range':
        finished = await this.range(client, groupOf(this.keys.indexOf(key)), member);
        break;
      case 'txn':
        finished = await this.txn(client, key, this.partner(key), seen?.value, value, member);
        break;
    }
    this.count(kind, finished.outcome);
    return this.record(finished);
  }

  private count(kind: WorkloadKind, outcome: Finished['outcome']): void {
    const counts = (this.counts.byKind[kind] ??= { ok: 0, unknown: 0, failed: 0 });
    counts[outcome]++;
    this.counts[outcome]++;
    this.counts.ops++;
  }

  private record(finished: Finished): boolean {
    if (finished.outcome !== 'failed' && finished.op !== null) this.history.push(finished.op);
    return finished.outcome === 'ok';
  }

  private async read(
    client: number,
    key: string,
    member: ChaosCluster['members'][number],
  ): Promise<Finished> {
    const start = this.clock.now();
    const outcome = await this.cluster.request(member, 'GET', `/kv/${key}`);
    const end = this.clock.now();
    if (!answered(outcome, 200, 404)) return { outcome: 'failed' }; // a read changes nothing
    const value = outcome.status === 200 ? outcome.body : undefined;
    if (value !== undefined) this.seen.set(key, { value, revision: outcome.headers.get('etag') });
    return { outcome: 'ok', op: { client, key, kind: 'read', value, start, end } };
  }

  private async write(
    client: number,
    key: string,
    value: string | undefined,
    member: ChaosCluster['members'][number],
    method: string,
    path: string,
    headers: Record<string, string>,
  ): Promise<Finished> {
    const start = this.clock.now();
    const outcome = await this.cluster.request(member, method, path, { body: value, headers });
    const end = this.clock.now();
    if (answered(outcome, 200))
      return { outcome: 'ok', op: { client, key, kind: 'write', value, start, end } };
    if (isRefusal(outcome)) return { outcome: 'failed' };
    return { outcome: 'unknown', op: { client, key, kind: 'write', value, start, end: Infinity } };
  }

  private async cas(
    client: number,
    key: string,
    expected: string | undefined,
    value: string,
    member: ChaosCluster['members'][number],
    path: string,
    headers: Record<string, string>,
  ): Promise<Finished> {
    const start = this.clock.now();
    const outcome = await this.cluster.request(member, 'PUT', path, { body: value, headers });
    const end = this.clock.now();
    const op = { client, key, kind: 'cas' as const, expected, value, start };
    if (answered(outcome, 200, 412))
      return { outcome: 'ok', op: { ...op, end, succeeded: outcome.status === 200 } };
    if (isRefusal(outcome)) return { outcome: 'failed' };
    return { outcome: 'unknown', op: { ...op, end: Infinity } };
  }

  /** The other key of `key`'s pair (itself when it has none). */
  private partner(key: string): string {
    const index = this.keys.indexOf(key);
    return this.keys[index % 2 === 0 ? index + 1 : index - 1] ?? key;
  }

  private async range(
    client: number,
    prefix: string,
    member: ChaosCluster['members'][number],
  ): Promise<Finished> {
    const start = this.clock.now();
    const outcome = await this.cluster.request(member, 'GET', `/kv?prefix=${prefix}&limit=10000`);
    const end = this.clock.now();
    if (!answered(outcome, 200)) return { outcome: 'failed' };
    const body = JSON.parse(outcome.body) as { items: { key: string; value: string }[]; more: boolean };
    // Only complete one-page answers assert that a missing key is absent.
    if (body.more) return { outcome: 'ok', op: null };
    const items: KvRangeItem[] = body.items.map((item) => ({
      key: item.key,
      value: Buffer.from(item.value, 'base64').toString('utf8'),
    }));
    return { outcome: 'ok', op: { client, kind: 'range', prefix, items, start, end } };
  }

  /**
   * If `key` holds `expected` (or, not having seen it, is absent), put new values in `key` and its
   * partner; else delete the partner. Two keys move together, so a torn txn shows.
   */
  private async txn(
    client: number,
    key: string,
    other: string,
    expected: string | undefined,
    value: string,
    member: ChaosCluster['members'][number],
  ): Promise<Finished> {
    const compare: KvCompare[] = [expected === undefined ? { key, exists: false } : { key, value: expected }];
    const success: KvTxnOp[] =
      other === key
        ? [{ op: 'put', key, value }]
        : [
            { op: 'put', key, value },
            { op: 'put', key: other, value: `${value}-b` },
          ];
    const failure: KvTxnOp[] = [{ op: 'delete', key: other }];
    const encode = (op: KvTxnOp) =>
      op.op === 'put' ? { ...op, value: Buffer.from(op.value).toString('base64') } : op;
    const body = JSON.stringify({
      compare: compare.map((each) =>
        'value' in each ? { key: each.key, value: Buffer.from(each.value).toString('base64') } : each,
      ),
      success: success.map(encode),
      failure: failure.map(encode),
    });
    const start = this.clock.now();
    const outcome = await this.cluster.request(member, 'POST', '/txn', {
      body,
      headers: JSON_HEADERS,
    });
    const end = this.clock.now();
    const op = { client, kind: 'txn' as const, compare, success, failure, start };
    if (answered(outcome, 200)) {
      const { succeeded } = JSON.parse(outcome.body) as { succeeded: boolean };
      return { outcome: 'ok', op: { ...op, end, succeeded } };
    }
    if (isRefusal(outcome)) return { outcome: 'failed' };
    return { outcome: 'unknown', op: { ...op, end: Infinity } };
  }
}

function answered(outcome: Outcome, ...statuses: number[]): outcome is Extract<Outcome, { status: number }> {
  return 'status' in outcome && statuses.includes(outcome.status);
}

/** Known to have changed nothing: refused before reaching a server, a 4xx answer, or a 503 (see the header). */
export function isRefusal(outcome: Outcome): boolean {
  if ('error' in outcome) return outcome.error === 'refused';
  return (outcome.status >= 400 && outcome.status < 500) || outcome.status === 503;
}
