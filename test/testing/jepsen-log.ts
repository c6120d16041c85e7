/**
 * Reads the Jepsen etcd histories of test/testing/jepsen/ (Jepsen's `jepsen.util` log lines, as
 * Porcupine ships them) into the checker's history format. Test support, not library code.
 *
 * A line is `INFO  jepsen.util - <process> <type> <f> <value>` with type :invoke, :ok, :fail or
 * :info and f :read, :write or :cas. Times are line numbers (the log is in real-time order). A
 * process has at most one operation in flight; after an :info (outcome unknown) Jepsen retires the
 * process, and the operation never completes: it becomes a write or cas with end Infinity. A read
 * that failed (:fail :read :timed-out) or never completed observed nothing and is left out. The
 * key starts absent (nil). Anything else in the file is refused with the line number.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KvOperation } from '../../src/testing/linearizability.js';

export const JEPSEN_DIR = join(dirname(fileURLToPath(import.meta.url)), 'jepsen');

/** The etcd histories Porcupine's tests say are linearizable (every other one is a violation). */
export const LINEARIZABLE_ETCD_LOGS: ReadonlySet<number> = new Set([
  2, 5, 7, 18, 25, 31, 38, 45, 48, 49, 51, 53, 56, 67, 75, 76, 80, 87, 92, 98, 100, 101, 102,
]);

export interface JepsenHistory {
  file: string;
  linearizable: boolean;
  operations: KvOperation[];
}

/** Every etcd_NNN.log of the corpus with its known verdict, in file order. */
export function loadEtcdCorpus(dir = JEPSEN_DIR): JepsenHistory[] {
  return readdirSync(dir)
    .filter((file) => /^etcd_\d{3}\.log$/.test(file))
    .sort()
    .map((file) => ({
      file,
      linearizable: LINEARIZABLE_ETCD_LOGS.has(Number(file.slice(5, 8))),
      operations: parseJepsenEtcdLog(readFileSync(join(dir, file), 'utf8'), file),
    }));
}

const LINE = /^INFO\s+jepsen\.util\s+-\s+(\d+)\s+:(invoke|ok|fail|info)\s+:(read|write|cas)\s+(.+?)\s*$/;
const NUMBER = /^\d+$/;
const PAIR = /^\[(\d+)\s+(\d+)\]$/;

interface Pending {
  f: 'read' | 'write' | 'cas';
  value: string;
  start: number;
}

/** Parses one log; `name` only labels errors. The single register is the key "jepsen". */
export function parseJepsenEtcdLog(text: string, name = 'log'): KvOperation[] {
  const operations: KvOperation[] = [];
  const pending = new Map<number, Pending>();
  const lines = text.split('\n');
  const refuse = (line: number, why: string): never => {
    throw new Error(`${name}:${line + 1}: ${why}: ${JSON.stringify(lines[line])}`);
  };
  const unknownOutcome = (process: number, call: Pending) => {
    if (call.f === 'write') operations.push(write(process, call.value, call.start, Infinity));
    if (call.f === 'cas') operations.push(cas(process, call.value, call.start, Infinity, undefined));
  };
  lines.forEach((text, line) => {
    if (text.trim() === '') return;
    const match = LINE.exec(text) ?? refuse(line, 'not a jepsen.util operation line');
    const [, processText, type, f, value] = match;
    const process = Number(processText);
    const call = pending.get(process);
    if (type === 'invoke') {
      if (call !== undefined) refuse(line, `process ${process} invokes with an operation in flight`);
      const expected = f === 'read' ? /^nil$/ : f === 'write' ? NUMBER : PAIR;
      if (!expected.test(value)) refuse(line, `bad argument for :${f}`);
      pending.set(process, { f: f as Pending['f'], value, start: line });
      return;
    }
    if (call === undefined || call.f !== f) return refuse(line, `no :${f} of process ${process} in flight`);
    pending.delete(process);
    if (type === 'info' || (type === 'fail' && f === 'read')) {
      if (value !== ':timed-out') refuse(line, 'expected :timed-out');
      unknownOutcome(process, call);
    } else if (f === 'read' && type === 'ok') {
      if (value !== 'nil' && !NUMBER.test(value)) refuse(line, 'bad read result');
      operations.push({
        kind: 'read',
        key: 'jepsen',
        value: value === 'nil' ? undefined : value,
        start: call.start,
        end: line,
        client: process,
      });
    } else if (value !== call.value) {
      refuse(line, `completion does not match the invocation ${call.value}`);
    } else if (f === 'write' && type === 'ok') {
      operations.push(write(process, value, call.start, line));
    } else if (f === 'cas') {
      operations.push(cas(process, value, call.start, line, type === 'ok'));
    } else {
      refuse(line, `unexpected :${type} for :${f}`);
    }
  });
  for (const [process, call] of pending) unknownOutcome(process, call);
  return operations;
}

function write(process: number, value: string, start: number, end: number): KvOperation {
  return { kind: 'write', key: 'jepsen', value, start, end, client: process };
}

function cas(
  process: number,
  pair: string,
  start: number,
  end: number,
  succeeded: boolean | undefined,
): KvOperation {
  const [, expected, value] = PAIR.exec(pair)!;
  return { kind: 'cas', key: 'jepsen', expected, value, start, end, client: process, succeeded };
}
