/**
 * The checker on a public corpus with known verdicts: the 102 Jepsen etcd histories that
 * Porcupine's tests check (test/testing/jepsen/README.md). Every linearizable one must be
 * accepted, every violation rejected, none left inconclusive; and deliberately broken checkers
 * must get some of them wrong, or the corpus would prove nothing.
 */
import { describe, expect, it } from 'vitest';
import {
  checkKvLinearizability,
  checkKvLinearizabilityMutated,
  type KvOperation,
} from '../../src/testing/linearizability.js';
import { loadEtcdCorpus, parseJepsenEtcdLog } from './jepsen-log.js';

const corpus = loadEtcdCorpus();

describe('the Jepsen etcd corpus', () => {
  it('holds the 102 histories of Porcupine’s tests: 23 linearizable, 79 not, with cas of every outcome', () => {
    expect(corpus).toHaveLength(102);
    expect(corpus.filter((history) => history.linearizable)).toHaveLength(23);
    const all = corpus.flatMap((history) => history.operations);
    const cas = all.filter((op) => op.kind === 'cas');
    expect(cas.filter((op) => op.succeeded === true).length).toBeGreaterThan(300);
    expect(cas.filter((op) => op.succeeded === false).length).toBeGreaterThan(1000);
    expect(cas.filter((op) => op.end === Infinity).length).toBeGreaterThan(500);
    expect(all.filter((op) => op.kind === 'write' && op.end === Infinity).length).toBeGreaterThan(500);
  });

  it('accepts every linearizable history and rejects every violation, none inconclusive', () => {
    const wrong: string[] = [];
    for (const { file, linearizable, operations } of corpus) {
      const report = checkKvLinearizability(operations);
      expect(report.components).toHaveLength(1);
      const { verdict } = report.components[0];
      if (verdict !== (linearizable ? 'ok' : 'violation')) wrong.push(`${file}: ${verdict}`);
    }
    expect(wrong).toEqual([]);
  });

  it('decides each history far below the step limit', () => {
    const steps = corpus.map(({ operations }) => checkKvLinearizability(operations).steps);
    expect(Math.max(...steps)).toBeLessThan(20_000); // the limit is 2,000,000
  });

  /** The known violations a mutated checker accepts (inconclusive does not count as accepting). */
  const acceptedViolations = (mutation: Parameters<typeof checkKvLinearizabilityMutated>[1]) =>
    corpus
      .filter((history) => !history.linearizable)
      .filter(
        ({ operations }) => checkKvLinearizabilityMutated(operations, mutation, { maxSteps: 300_000 }).ok,
      )
      .map(({ file }) => file);

  it('is sharp: a checker that lets an unknown cas land whatever the key holds accepts known violations', () => {
    expect(acceptedViolations('unknown-cas-ignores-precondition')).toEqual(['etcd_024.log', 'etcd_063.log']);
  });

  it('is sharp: a checker that ignores real-time order accepts known violations', () => {
    expect(acceptedViolations('ignore-real-time')).toHaveLength(79);
  });

  it('the unmutated checker run the same way accepts none of them', () => {
    expect(acceptedViolations(undefined)).toEqual([]);
  });
});

describe('parseJepsenEtcdLog', () => {
  const line = (process: number, type: string, f: string, value: string) =>
    `INFO  jepsen.util - ${process}\t:${type}\t:${f}\t${value}`;

  it('reads invocations and completions of every kind into operations', () => {
    const log = [
      line(0, 'invoke', 'read', 'nil'),
      line(1, 'invoke', 'write', '3'),
      line(0, 'ok', 'read', 'nil'),
      line(1, 'ok', 'write', '3'),
      line(2, 'invoke', 'cas', '[3 4]'),
      line(3, 'invoke', 'cas', '[1 2]'),
      line(2, 'ok', 'cas', '[3 4]'),
      line(3, 'fail', 'cas', '[1 2]'),
      line(4, 'invoke', 'write', '1'),
      line(5, 'invoke', 'cas', '[4 0]'),
      line(6, 'invoke', 'read', 'nil'),
      line(4, 'info', 'write', ':timed-out'),
      line(6, 'fail', 'read', ':timed-out'),
      line(7, 'invoke', 'read', 'nil'),
      line(7, 'ok', 'read', '4'),
      line(8, 'invoke', 'write', '2'),
    ].join('\n');
    const expected: KvOperation[] = [
      { kind: 'read', key: 'jepsen', value: undefined, start: 0, end: 2, client: 0 },
      { kind: 'write', key: 'jepsen', value: '3', start: 1, end: 3, client: 1 },
      { kind: 'cas', key: 'jepsen', expected: '3', value: '4', start: 4, end: 6, client: 2, succeeded: true },
      {
        kind: 'cas',
        key: 'jepsen',
        expected: '1',
        value: '2',
        start: 5,
        end: 7,
        client: 3,
        succeeded: false,
      },
      { kind: 'write', key: 'jepsen', value: '1', start: 8, end: Infinity, client: 4 },
      { kind: 'read', key: 'jepsen', value: '4', start: 13, end: 14, client: 7 },
      // Never completed: a cas and a write of unknown outcome; the failed read is left out.
      { kind: 'cas', key: 'jepsen', expected: '4', value: '0', start: 9, end: Infinity, client: 5 },
      { kind: 'write', key: 'jepsen', value: '2', start: 15, end: Infinity, client: 8 },
    ];
    expect(parseJepsenEtcdLog(log)).toEqual(expected);
    expect(checkKvLinearizability(parseJepsenEtcdLog(log)).ok).toBe(true);
  });

  it('refuses what it does not understand, with the line', () => {
    expect(() => parseJepsenEtcdLog('hello', 'x.log')).toThrow(/x\.log:1: not a jepsen\.util operation line/);
    expect(() => parseJepsenEtcdLog(line(0, 'ok', 'read', '1'))).toThrow(/no :read of process 0 in flight/);
    expect(() =>
      parseJepsenEtcdLog([line(0, 'invoke', 'read', 'nil'), line(0, 'invoke', 'read', 'nil')].join('\n')),
    ).toThrow(/:2: process 0 invokes with an operation in flight/);
    expect(() =>
      parseJepsenEtcdLog([line(0, 'invoke', 'write', '1'), line(0, 'ok', 'write', '2')].join('\n')),
    ).toThrow(/does not match the invocation/);
    expect(() => parseJepsenEtcdLog(line(0, 'invoke', 'cas', '[1]'))).toThrow(/bad argument for :cas/);
  });
});
