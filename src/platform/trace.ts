/**
 * Latency marks for the c1 trace of `npm run bench -- --profile` (bench/c1-trace.ts follows one
 * write through the leader and its followers with them). Off unless the environment variable
 * RAFTKIT_TRACE_DIR names a directory when the process starts; then every mark (a step, a log
 * index, the monotonic time in µs, shared by all processes of the machine) is kept in a bounded
 * buffer and written to `<dir>/<pid>.trace` when the process exits. Call sites test `tracing`
 * first, so that a node not traced pays one branch per mark and allocates nothing.
 */
import { subscribe } from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The steps of one write, in the order it meets them (leader, then follower, then leader). */
export const TRACE_STEPS = [
  'http.request', // node:http parsed a request's head (index 0: the trace pairs it by time)
  'ready', // the core handed out the entry (leader) or accepted it (follower) in a Ready
  'write.issued', // the storage writer handed the batch holding the entry to the store
  'write.durable', // the store reported that batch durable
  'ae.written', // the AppendEntries carrying the entry was written to a follower's socket
  'ae.received', // a follower's runtime received that AppendEntries
  'ae.answered', // the follower's answer (its log durable up to index) was written
  'answer.received', // the leader's runtime received a follower's answer
  'commit', // the leader's commit index reached index
  'applied', // the FSM applied the entry (before the waiting apply() resolves)
  'http.answer', // node:http handed the last bytes of an answer to the socket (index 0)
] as const;

export type TraceStep = (typeof TRACE_STEPS)[number];

/** Marks kept at most (about 20 s of c1 writes on one node); later ones are dropped. */
const MAX_MARKS = 1 << 18;

const traceDir = process.env.RAFTKIT_TRACE_DIR;

/** True when this process records marks (RAFTKIT_TRACE_DIR was set when it started). */
export const tracing = traceDir !== undefined && traceDir !== '';

const steps = new Uint8Array(tracing ? MAX_MARKS : 0);
const indexes = new Float64Array(tracing ? MAX_MARKS : 0);
const times = new Float64Array(tracing ? MAX_MARKS : 0);
let count = 0;

/** Records that `step` happened now for log index `index` (call only when `tracing`). */
export function mark(step: TraceStep, index: number): void {
  if (count >= MAX_MARKS) return;
  const [seconds, nanos] = process.hrtime();
  steps[count] = TRACE_STEPS.indexOf(step);
  indexes[count] = index;
  times[count] = seconds * 1e6 + nanos / 1e3;
  count++;
}

if (tracing) {
  subscribe('http.server.request.start', () => mark('http.request', 0));
  subscribe('http.server.response.finish', () => mark('http.answer', 0));
  process.on('exit', () => {
    const lines: string[] = [];
    for (let i = 0; i < count; i++)
      lines.push(`${TRACE_STEPS[steps[i]]} ${indexes[i]} ${times[i].toFixed(1)}`);
    writeFileSync(join(traceDir!, `${process.pid}.trace`), lines.join('\n') + '\n');
  });
}
