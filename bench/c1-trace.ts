/**
 * Where one write's time goes at concurrency 1 on the raftkit leader, from its system calls:
 * `strace -f -tt -T` on the leader while a single closed-loop worker writes (part of
 * `npm run bench -- --profile`). Each request is followed from the HTTP read to the HTTP answer
 * through the leader's own log write (pwrite64 of the entry, O_DSYNC), the AppendEntries it
 * writes to the followers, the first follower's answer, the leader's hard-state write (pwrite64
 * of CurrentTerm/CommitIndex, also O_DSYNC) and the answer. strace slows every system call down, so
 * read the phases as shares of the traced total, beside the untraced p50.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { median } from './stats.js';

interface Call {
  thread: string;
  /** Milliseconds since midnight. */
  start: number;
  end: number;
  text: string;
}

/** Parses `strace -f -tt -T` output, joining "<unfinished ...>" lines with their "resumed" halves. */
export function parseStrace(output: string): Call[] {
  const calls: Call[] = [];
  const unfinished = new Map<string, { start: number; text: string }>();
  const clock = (text: string) => {
    const [h, m, s] = text.split(':');
    return (Number(h) * 3600 + Number(m) * 60 + Number(s)) * 1000;
  };
  for (const line of output.split('\n')) {
    const match = /^(\d+) +(\d\d:\d\d:\d\d\.\d+) (.*)$/.exec(line);
    if (!match) continue;
    const [, thread, time, text] = match;
    const at = clock(time);
    if (text.startsWith('<...')) {
      const begun = unfinished.get(thread);
      unfinished.delete(thread);
      if (begun) calls.push({ thread, start: begun.start, end: at, text: begun.text });
    } else if (text.endsWith('<unfinished ...>')) {
      unfinished.set(thread, { start: at, text });
    } else {
      const took = /<([\d.]+)>$/.exec(text);
      calls.push({ thread, start: at, end: at + (took ? Number(took[1]) * 1000 : 0), text });
    }
  }
  return calls.sort((a, b) => a.start - b.start);
}

export interface C1Phases {
  requests: number;
  /** Medians in ms, in the order a request meets them. */
  phases: { name: string; ms: number }[];
  totalMs: number;
}

const fdOf = (text: string) => /^\w+\((\d+),/.exec(text)?.[1];
const isSocketWrite = (text: string) => text.startsWith('write(') || text.startsWith('writev(');

interface Request {
  read: number;
  entryWrite?: [number, number];
  appendSent?: number;
  appendFds: Set<string>;
  firstReply?: number;
  hardStateWrite?: [number, number];
  answer?: number;
}

/** Follows each `PUT /kv/` through the leader's system calls; see the file comment. */
export function c1Phases(calls: Call[]): C1Phases {
  const requests: Request[] = [];
  let current: Request | undefined;
  for (const call of calls) {
    const { text } = call;
    if (text.startsWith('read(') && text.includes('"PUT /kv/')) {
      current = { read: call.start, appendFds: new Set() };
      requests.push(current);
      continue;
    }
    if (current === undefined) continue;
    const r = current;
    if (text.startsWith('pwrite64(')) {
      const hardState = text.includes('CurrentTerm');
      if (!hardState && r.entryWrite === undefined) r.entryWrite = [call.start, call.end];
      if (hardState && r.firstReply !== undefined && r.hardStateWrite === undefined)
        r.hardStateWrite = [call.start, call.end];
    } else if (isSocketWrite(text) && text.includes('Entries\\221') && r.firstReply === undefined) {
      // An AppendEntries carrying one entry (msgpack fixarray of 1), to each follower.
      r.appendSent ??= call.start;
      r.appendFds.add(fdOf(text) ?? '');
    } else if (text.startsWith('read(') && r.appendSent !== undefined && r.firstReply === undefined) {
      if (r.appendFds.has(fdOf(text) ?? '-')) r.firstReply = call.end;
    } else if (isSocketWrite(text) && text.includes('HTTP/1.1 ') && r.answer === undefined) {
      r.answer = call.start;
    }
  }
  const complete = requests.filter(
    (r): r is Required<Request> =>
      r.entryWrite !== undefined &&
      r.appendSent !== undefined &&
      r.firstReply !== undefined &&
      r.hardStateWrite !== undefined &&
      r.answer !== undefined,
  );
  const phase = (name: string, ms: (r: Required<Request>) => number) => ({
    name,
    ms: median(complete.map(ms)),
  });
  return {
    requests: complete.length,
    phases: [
      phase(
        'HTTP read -> entry write starts (parse, propose, hand to the thread pool)',
        (r) => r.entryWrite[0] - r.read,
      ),
      phase(
        'leader entry write (pwrite64, O_DSYNC), in parallel with the next two',
        (r) => r.entryWrite[1] - r.entryWrite[0],
      ),
      phase('HTTP read -> AppendEntries written to the followers', (r) => r.appendSent - r.read),
      phase(
        'AppendEntries -> first follower answer (its decode + fsync + reply)',
        (r) => r.firstReply - r.appendSent,
      ),
      phase(
        'answer -> hard-state write starts (commit, hand to the thread pool)',
        (r) => r.hardStateWrite[0] - r.firstReply,
      ),
      phase(
        'hard-state write (CommitIndex, pwrite64 O_DSYNC)',
        (r) => r.hardStateWrite[1] - r.hardStateWrite[0],
      ),
      phase(
        'hard-state durable -> HTTP answer written (apply, respond)',
        (r) => r.answer - r.hardStateWrite[1],
      ),
    ],
    totalMs: median(complete.map((r) => r.answer - r.read)),
  };
}

/** Traces `pid` for `seconds` (the caller keeps the c1 load running meanwhile). */
export async function traceLeader(pid: number, seconds: number, outFile: string): Promise<C1Phases> {
  const tracer = spawn(
    'strace',
    ['-f', '-tt', '-T', '-e', 'trace=read,write,writev,pwrite64', '-o', outFile, '-p', String(pid)],
    { stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => tracer.on('exit', resolve));
  await sleep(seconds * 1000);
  tracer.kill('SIGINT');
  await exited;
  return c1Phases(parseStrace(readFileSync(outFile, 'utf8')));
}

export function renderC1Phases(result: C1Phases, untracedP50Ms: number): string {
  return [
    `${result.requests} requests traced; medians (ms, under strace). The untraced c1 p50 just before: ` +
      `${untracedP50Ms.toFixed(2)} ms; the traced HTTP read -> answer: ${result.totalMs.toFixed(2)} ms.`,
    '',
    '| phase | median ms |',
    '|---|---:|',
    ...result.phases.map((phase) => `| ${phase.name} | ${phase.ms.toFixed(2)} |`),
    '',
  ].join('\n');
}
