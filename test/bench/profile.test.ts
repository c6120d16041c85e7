/** The readings behind bench/PROFILE.md: CPU profile summaries and the c1 trace. */
import { describe, expect, it } from 'vitest';
import { c1Steps, parseMarks } from '../../bench/c1-trace.js';
import { layerOf, summarizeProfile, type CpuProfile } from '../../bench/cpuprofile.js';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });

// (root) -> handle (kv/http.js) -> encode (wire/encoder.js); a native write under handle; GC; idle.
// One sample every 1,000 µs from t = 1,000 µs.
const profile: CpuProfile = {
  startTime: 0,
  endTime: 10_000,
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 4, 5] },
    { id: 2, callFrame: frame('handle', 'file:///repo/dist/kv/http.js', 9), children: [3, 6] },
    { id: 3, callFrame: frame('encode', 'file:///repo/dist/wire/encoder.js', 19) },
    { id: 4, callFrame: frame('(garbage collector)') },
    { id: 5, callFrame: frame('(idle)') },
    { id: 6, callFrame: frame('writeBuffer') },
  ],
  samples: [3, 3, 3, 2, 4, 5, 5, 5, 6, 5],
  timeDeltas: Array(10).fill(1000),
};

describe('summarizeProfile', () => {
  it('splits self and inclusive time over the busy samples', () => {
    const summary = summarizeProfile(profile, { focus: ['handle', 'decode'] });
    expect(summary.seconds).toBeCloseTo(0.01);
    expect(summary.busyPercent).toBe(60);
    expect(summary.self[0]).toEqual({ name: 'encode dist/wire/encoder.js:20', percent: 50 });
    expect(summary.inclusive[0]).toEqual({ name: 'handle dist/kv/http.js:10', percent: (5 / 6) * 100 });
    expect(summary.focus).toEqual([
      { name: 'handle', percent: (5 / 6) * 100 },
      { name: 'decode', percent: 0 },
    ]);
    expect(summary.byLayer.map((share) => share.name)).toEqual([
      'raftkit wire',
      'raftkit kv',
      'V8 garbage collector',
      'V8 builtins and native calls',
    ]);
  });

  it('names a native function with its caller', () => {
    const names = summarizeProfile(profile).self.map((share) => share.name);
    expect(names).toContain('writeBuffer (from handle dist/kv/http.js)');
    expect(names).toContain('(garbage collector)');
  });

  it('counts only the samples inside the window', () => {
    // Samples at 1,000..10,000 µs; the window holds the 4th to the 6th: handle, GC, idle.
    const summary = summarizeProfile(profile, { window: { fromUs: 3500, untilUs: 6500 } });
    expect(summary.seconds).toBeCloseTo(0.003);
    expect(summary.busyPercent).toBeCloseTo((2 / 3) * 100);
    expect(summary.self.map((share) => share.name).sort()).toEqual([
      '(garbage collector)',
      'handle dist/kv/http.js:10',
    ]);
  });

  it('names layers of raftkit, npm packages and Node itself', () => {
    expect(layerOf(frame('f', 'file:///r/dist-bench/src/raft/raft.js'))).toBe('raftkit raft');
    expect(layerOf(frame('f', 'file:///r/dist/cli.js'))).toBe('raftkit cli');
    expect(layerOf(frame('f', 'file:///r/node_modules/pino/lib/proto.js'))).toBe('npm pino');
    expect(layerOf(frame('f', 'node:_http_server'))).toBe('node http');
    expect(layerOf(frame('f', 'node:internal/streams/writable'))).toBe('node streams');
    expect(layerOf(frame('(program)'))).toBe('V8/native (program)');
  });
});

// One write (index 7) as the three nodes mark it (µs); node B answers first, so it counts.
const LEADER = `
http.request 0 1000
ready 7 1100
write.issued 7 1120
ae.written 7 1150
write.durable 7 1400
answer.received 7 1700
answer.received 7 1900
commit 7 1710
applied 7 1750
http.answer 0 1800
`;
const FOLLOWER_A = `
ae.received 7 1250
write.issued 7 1300
write.durable 7 1600
ae.answered 7 1650
`;
const FOLLOWER_B = `
ae.received 7 1200
write.issued 7 1210
write.durable 7 1500
ae.answered 7 1550
`;

describe('c1 trace', () => {
  it('keeps the first mark of a step per index and the unindexed marks in time order', () => {
    const marks = parseMarks('http.request 0 30\nhttp.request 0 10\nready 3 5\nready 3 9\nbad line\n');
    expect(marks.unindexed.get('http.request')).toEqual([10, 30]);
    expect(marks.first.get('ready')?.get(3)).toBe(5);
  });

  it('joins the nodes by log index and counts the follower that answered first', () => {
    const result = c1Steps(parseMarks(LEADER), [parseMarks(FOLLOWER_A), parseMarks(FOLLOWER_B)]);
    expect(result.requests).toBe(1);
    expect(result.totalMs).toBeCloseTo(0.8);
    expect(result.steps.map((step) => Math.round(step.ms * 1000))).toEqual([
      100, 20, 280, 50, 50, 10, 290, 50, 150, 10, 40, 50,
    ]);
    expect(result.leaderFsyncLast).toBe(0);
    expect(result.commitBeforeLeaderFsync).toBe(0);
  });

  it("counts a commit made by both followers before the leader's own fsync ended", () => {
    const late = LEADER.replace('write.durable 7 1400', 'write.durable 7 1950').replace(
      'answer.received 7 1700\nanswer.received 7 1900\ncommit 7 1710',
      'answer.received 7 1700\nanswer.received 7 1720\ncommit 7 1730',
    );
    const result = c1Steps(parseMarks(late), [parseMarks(FOLLOWER_A), parseMarks(FOLLOWER_B)]);
    expect(result.requests).toBe(1);
    expect(result.leaderFsyncLast).toBe(1);
    expect(result.commitBeforeLeaderFsync).toBe(1);
    // The quorum is the commit itself here, never after it.
    expect(Math.round(result.steps[9].ms * 1000)).toBe(0);
  });

  it('leaves out a write whose marks are incomplete', () => {
    const result = c1Steps(parseMarks(LEADER.replace('applied 7 1750', '')), [parseMarks(FOLLOWER_B)]);
    expect(result.requests).toBe(0);
  });
});
