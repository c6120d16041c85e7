/** The readings behind bench/PROFILE.md: CPU profile summaries and the c1 system-call timeline. */
import { describe, expect, it } from 'vitest';
import { c1Phases, parseStrace } from '../../bench/c1-trace.js';
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

// One request as strace -f -tt -T prints it on the leader: main thread 100, pool threads 200, 201.
const STRACE = String.raw`
100 12:00:00.000000 read(25, "PUT /kv/k000001 HTTP/1.1\r\nHost: "..., 65536) = 172 <0.000010>
200 12:00:00.000300 pwrite64(18, "\0\0\0\321\1\1\0\0"..., 243, 100 <unfinished ...>
100 12:00:00.000400 write(23, "\0\211\244Addr\257127.0.0.1:1\247Entries\221"..., 375) = 375 <0.000020>
100 12:00:00.000500 write(24, "\0\211\244Addr\257127.0.0.1:1\247Entries\221"..., 375) = 375 <0.000020>
100 12:00:00.000600 read(16, "\1\0\0\0\0\0\0\0", 1024) = 8 <0.000005>
200 12:00:00.000700 <... pwrite64 resumed>) = 243 <0.000400>
100 12:00:01.001400 read(23, "\240\207\244Addr\257127.0.0.1:2"..., 65536) = 87 <0.000100>
100 12:00:01.001600 write(23, "\0\211\244Addr\257127.0.0.1:1\247Entries\220"..., 132) = 132 <0.000020>
201 12:00:01.001800 pwrite64(18, "\0\0\0\25\2\0\vCurrentTerm\0"..., 169, 343) = 169 <0.000300>
100 12:00:01.002500 writev(25, [{iov_base="HTTP/1.1 200 OK\r\n"..., iov_len=168}], 1) = 168 <0.000030>
`;

describe('c1 trace', () => {
  it('joins unfinished system calls with their ends', () => {
    const calls = parseStrace(STRACE);
    const entryWrite = calls.find((call) => call.thread === '200')!;
    expect(entryWrite.end - entryWrite.start).toBeCloseTo(0.4);
    expect(calls).toHaveLength(9);
  });

  it('follows a request through the leader', () => {
    const result = c1Phases(parseStrace(STRACE));
    expect(result.requests).toBe(1);
    expect(result.totalMs).toBeCloseTo(1002.5);
    expect(result.phases.map((phase) => Number(phase.ms.toFixed(1)))).toEqual([
      0.3, 0.4, 0.4, 1001.1, 0.3, 0.3, 0.4,
    ]);
  });
});
