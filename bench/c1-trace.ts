/**
 * Where one write's time goes at concurrency 1, step by step across the leader and its followers
 * (part of `npm run bench -- --profile`). The nodes run with RAFTKIT_TRACE_DIR set, so each
 * records the marks of src/platform/trace.ts (a step, a log index, the machine's monotonic time in
 * µs) and writes them to `<dir>/<pid>.trace` when it stops. This file joins the three nodes' marks
 * by log index and reports the median of each gap over every write whose marks are all there.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { median } from './stats.js';

/** One node's marks: step -> log index -> time of its first mark (µs); index 0 keeps every time. */
export interface NodeMarks {
  first: Map<string, Map<number, number>>;
  /** Marks without an index (the HTTP ones), in time order. */
  unindexed: Map<string, number[]>;
}

/** Parses one `<pid>.trace` file (lines `step index timeUs`). */
export function parseMarks(text: string): NodeMarks {
  const marks: NodeMarks = { first: new Map(), unindexed: new Map() };
  for (const line of text.split('\n')) {
    const [step, indexText, timeText] = line.split(' ');
    const index = Number(indexText);
    const time = Number(timeText);
    if (!step || !Number.isFinite(index) || !Number.isFinite(time)) continue;
    if (index === 0) {
      const list = marks.unindexed.get(step) ?? [];
      list.push(time);
      marks.unindexed.set(step, list);
      continue;
    }
    const byIndex = marks.first.get(step) ?? new Map<number, number>();
    if (!byIndex.has(index)) byIndex.set(index, time);
    marks.first.set(step, byIndex);
  }
  for (const list of marks.unindexed.values()) list.sort((a, b) => a - b);
  return marks;
}

export interface C1Steps {
  /** Writes followed from the HTTP request to the HTTP answer. */
  requests: number;
  /** Median of each gap in ms, in the order a write meets them. */
  steps: { name: string; ms: number }[];
  totalMs: number;
  /** Share of the writes whose leader fsync ended after the first follower answer arrived. */
  leaderFsyncLast: number;
  /** Share of the writes committed before the leader's own fsync ended (both followers first). */
  commitBeforeLeaderFsync: number;
}

/** How many times of a sorted list are at or before `t` (binary search). */
function countUpTo(list: readonly number[], t: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid] <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first time in a sorted list after `t`, else undefined. */
function firstAfter(list: readonly number[] | undefined, t: number): number | undefined {
  return list ? list[countUpTo(list, t)] : undefined;
}

/** The last time in a sorted list at or before `t`, else undefined. */
function lastBefore(list: readonly number[] | undefined, t: number): number | undefined {
  const count = list ? countUpTo(list, t) : 0;
  return count > 0 ? list![count - 1] : undefined;
}

/** The gaps a write's marks are reduced to: [name, from step, to step], times in ms. */
const GAPS: [string, string, string][] = [
  ['HTTP request parsed -> entry in the leader Ready (body, route, propose)', 'http', 'leader.ready'],
  ['leader Ready -> leader write issued', 'leader.ready', 'leader.write.issued'],
  [
    'leader write (O_DSYNC), in parallel with the follower path',
    'leader.write.issued',
    'leader.write.durable',
  ],
  ['leader Ready -> AppendEntries written to the follower', 'leader.ready', 'leader.ae.written'],
  ['AppendEntries written -> follower runtime receives it', 'leader.ae.written', 'follower.ae.received'],
  ['follower receives -> follower write issued', 'follower.ae.received', 'follower.write.issued'],
  ['follower write (O_DSYNC)', 'follower.write.issued', 'follower.write.durable'],
  ['follower durable -> answer written', 'follower.write.durable', 'follower.ae.answered'],
  ['answer written -> leader runtime receives it', 'follower.ae.answered', 'leader.answer.received'],
  [
    'quorum durable (the later of leader fsync and first answer; the commit, when both answers came first) -> commit',
    'leader.quorum',
    'leader.commit',
  ],
  ['commit -> FSM applied', 'leader.commit', 'leader.applied'],
  ['applied -> HTTP answer written', 'leader.applied', 'http.answer'],
];

/**
 * Joins a leader's and its followers' marks by log index. Of the followers, the one whose answer was written first counts
 * (the one that made the quorum).
 */
export function c1Steps(leader: NodeMarks, followers: NodeMarks[]): C1Steps {
  const at = (marks: NodeMarks, step: string, index: number) => marks.first.get(step)?.get(index);
  const commits = [...(leader.first.get('commit') ?? new Map<number, number>()).entries()].sort(
    (a, b) => a[0] - b[0],
  );
  const commitOf = (index: number) => commits.find(([committed]) => committed >= index)?.[1];
  const gaps = GAPS.map(() => [] as number[]);
  const totals: number[] = [];
  let leaderLast = 0;
  let commitFirst = 0;
  for (const [index, ready] of leader.first.get('ready') ?? []) {
    const quorum = followers
      .map((follower) => ({ follower, answered: at(follower, 'ae.answered', index) }))
      .filter((f): f is { follower: NodeMarks; answered: number } => f.answered !== undefined)
      .sort((a, b) => a.answered - b.answered)[0];
    const applied = at(leader, 'applied', index);
    if (!quorum || applied === undefined) continue;
    const times: Record<string, number | undefined> = {
      http: lastBefore(leader.unindexed.get('http.request'), ready),
      'http.answer': firstAfter(leader.unindexed.get('http.answer'), applied),
      'leader.commit': commitOf(index),
    };
    for (const step of ['ready', 'write.issued', 'write.durable', 'ae.written', 'answer.received', 'applied'])
      times[`leader.${step}`] = at(leader, step, index);
    for (const step of ['ae.received', 'write.issued', 'write.durable', 'ae.answered'])
      times[`follower.${step}`] = at(quorum.follower, step, index);
    if (Object.values(times).some((t) => t === undefined)) continue;
    const leaderDurable = times['leader.write.durable']!;
    const answered = times['leader.answer.received']!;
    const commit = times['leader.commit']!;
    // Two followers' answers commit without the leader's own fsync (only the first is marked here).
    times['leader.quorum'] = Math.min(Math.max(leaderDurable, answered), commit);
    if (leaderDurable > answered) leaderLast++;
    if (commit < leaderDurable) commitFirst++;
    GAPS.forEach(([, from, to], i) => gaps[i].push((times[to]! - times[from]!) / 1000));
    totals.push((times['http.answer']! - times.http!) / 1000);
  }
  return {
    requests: totals.length,
    steps: GAPS.map(([name], i) => ({ name, ms: median(gaps[i]) })),
    totalMs: median(totals),
    leaderFsyncLast: totals.length > 0 ? leaderLast / totals.length : NaN,
    commitBeforeLeaderFsync: totals.length > 0 ? commitFirst / totals.length : NaN,
  };
}

/** Reads the `.trace` files a traced cluster left in `dir` and joins them (see c1Steps). */
export function readC1Steps(dir: string): C1Steps {
  const nodes = readdirSync(dir)
    .filter((name) => name.endsWith('.trace'))
    .map((name) => parseMarks(readFileSync(join(dir, name), 'utf8')));
  // Followers answer HTTP too (status polls): the leader is the one that sent AppendEntries.
  const leaderAt = nodes.findIndex((node) => (node.first.get('ae.written')?.size ?? 0) > 0);
  if (leaderAt < 0)
    return { requests: 0, steps: [], totalMs: NaN, leaderFsyncLast: NaN, commitBeforeLeaderFsync: NaN };
  return c1Steps(
    nodes[leaderAt],
    nodes.filter((_, i) => i !== leaderAt),
  );
}

export function renderC1Steps(result: C1Steps, untracedP50Ms: number): string {
  return [
    `${result.requests} writes traced; medians (ms). The c1 p50 seen by the load generator in the same ` +
      `window: ${untracedP50Ms.toFixed(2)} ms; the traced HTTP request -> answer: ${result.totalMs.toFixed(2)} ms.`,
    '',
    '| step | median ms |',
    '|---|---:|',
    ...result.steps.map((step) => `| ${step.name} | ${step.ms.toFixed(3)} |`),
    '',
    `The leader's own fsync ended after the first follower answer in ${(100 * result.leaderFsyncLast).toFixed(0)}% of the writes, after the commit (both followers first) in ${(100 * result.commitBeforeLeaderFsync).toFixed(0)}%.`,
    '',
  ].join('\n');
}
