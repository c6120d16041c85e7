import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/command.js';
import { parseServeArgs } from '../../src/cli/serve-args.js';

const base = [
  '--id',
  'n1',
  '--raft-addr',
  '127.0.0.1:7001',
  '--http-addr',
  '127.0.0.1:8001',
  '--data-dir',
  './data/n1',
];
const peers = 'n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003';

function flagError(argv: string[]): UsageError {
  try {
    parseServeArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error(`parsed without error: ${argv.join(' ')}`);
}

describe('parseServeArgs', () => {
  it('parses the demo command line', () => {
    expect(parseServeArgs([...base, '--peers', peers])).toEqual({
      id: 'n1',
      raftAddr: '127.0.0.1:7001',
      advertise: '127.0.0.1:7001',
      httpAddr: { host: '127.0.0.1', port: 8001 },
      httpUrl: 'http://127.0.0.1:8001',
      dataDir: './data/n1',
      logStore: undefined,
      commandFormat: 'json',
      peers: [
        { id: 'n1', address: '127.0.0.1:7001' },
        { id: 'n2', address: '127.0.0.1:7002' },
        { id: 'n3', address: '127.0.0.1:7003' },
      ],
      join: null,
      tls: null,
      tlsRequireIdentity: false,
      authTokenFile: null,
      adminTokenFile: null,
      httpTls: null,
      insecure: false,
      httpLimits: { maxConnections: 1024, headersTimeout: 10_000, requestTimeout: 30_000 },
      maxBodyBytes: 1024 * 1024,
      walSegmentBytes: 64 * 1024 * 1024,
      joinTimeout: 60_000,
      kvLimits: {},
      debugRoutes: false,
      debugStaleReads: false,
      debugEarlyAck: false,
      debugClock: false,
      debugDiskFaults: null,
      debugIgnoreFsyncFailures: false,
      raftConfig: {},
    });
  });

  it('reads the optional Raft tuning flags and refuses non-numbers', () => {
    const args = parseServeArgs([
      ...base,
      '--heartbeat-timeout',
      '300',
      '--snapshot-threshold=16',
      '--trailing-logs',
      '0',
    ]);
    expect(args.raftConfig).toEqual({ heartbeatTimeout: 300, snapshotThreshold: 16, trailingLogs: 0 });
    expect(() => parseServeArgs([...base, '--election-timeout', 'soon'])).toThrow(
      /--election-timeout: "soon"/,
    );
    expect(() => parseServeArgs([...base, '--commit-timeout', '-5'])).toThrow(/--commit-timeout/);
  });

  it('reads --snapshot-log-limit (0 turns it off) and refuses hostile values', () => {
    expect(parseServeArgs([...base, '--snapshot-log-limit', '0']).raftConfig).toEqual({
      snapshotLogLimit: 0,
    });
    expect(parseServeArgs([...base, '--snapshot-log-limit=100000']).raftConfig).toEqual({
      snapshotLogLimit: 100_000,
    });
    for (const hostile of ['-1', '1e5', '0x10', ' 7', '1.5', '9007199254740993', '']) {
      expect(() => parseServeArgs([...base, `--snapshot-log-limit=${hostile}`])).toThrow(
        /--snapshot-log-limit/,
      );
    }
  });

  it('reads --log-store and refuses an unknown store', () => {
    expect(parseServeArgs([...base, '--log-store', 'lmdb']).logStore).toBe('lmdb');
    expect(parseServeArgs([...base, '--log-store=wal']).logStore).toBe('wal');
    expect(flagError([...base, '--log-store', 'rocksdb'])).toMatchObject({ flag: '--log-store' });
  });

  it('reads --command-format json|binary (json by default) and refuses anything else', () => {
    expect(parseServeArgs([...base, '--command-format', 'binary']).commandFormat).toBe('binary');
    expect(parseServeArgs([...base, '--command-format=json']).commandFormat).toBe('json');
    expect(() => parseServeArgs([...base, '--command-format', 'msgpack'])).toThrow(
      /must be json or binary, not msgpack/,
    );
  });

  it('reads --wal-segment-bytes within 1 MiB to 1 GiB', () => {
    expect(parseServeArgs([...base, '--wal-segment-bytes', '4194304']).walSegmentBytes).toBe(4 * 1024 * 1024);
    for (const bad of ['1000', '2147483648', '4MiB', '1e400']) {
      expect(() => parseServeArgs([...base, '--wal-segment-bytes', bad])).toThrow(
        /--wal-segment-bytes must be an integer from 1048576 to 1073741824/,
      );
    }
  });

  it('accepts --flag=value, --join, --debug-routes and --insecure', () => {
    const args = parseServeArgs([
      '--id=n4',
      '--raft-addr=0.0.0.0:7004',
      '--advertise=10.0.0.4:7004',
      '--http-addr=0.0.0.0:8004',
      '--data-dir=/var/lib/n4',
      '--join=http://10.0.0.1:8001/',
      '--debug-routes',
      '--insecure',
    ]);
    expect(args).toMatchObject({
      advertise: '10.0.0.4:7004',
      httpUrl: 'http://10.0.0.4:8004',
      join: 'http://10.0.0.1:8001',
      peers: [],
      debugRoutes: true,
      insecure: true,
    });
  });

  it('reads the test-only switches --debug-early-ack and --debug-clock', () => {
    expect(parseServeArgs([...base, '--debug-early-ack', '--debug-clock'])).toMatchObject({
      debugEarlyAck: true,
      debugClock: true,
      debugStaleReads: false,
    });
    expect(flagError([...base, '--debug-clock=2'])).toMatchObject({ flag: '--debug-clock' });
  });

  it('checks the test-only --debug-disk-faults spec and what needs it', () => {
    const spec = 'seed=3;fsync-fail:after=100;torn-write:p=0.01,path=.wal';
    expect(
      parseServeArgs([...base, '--debug-disk-faults', spec, '--debug-ignore-fsync-failures']),
    ).toMatchObject({ debugDiskFaults: spec, debugIgnoreFsyncFailures: true });
    expect(parseServeArgs([...base, '--debug-disk-faults=seed=1'])).toMatchObject({
      debugDiskFaults: 'seed=1',
      debugIgnoreFsyncFailures: false,
    });
    for (const [argv, message] of [
      [['--debug-disk-faults', 'meteor'], /unknown fault "meteor"/],
      [['--debug-disk-faults', 'fsync-fail:p=2'], /p must be a number in 0..1/],
      [['--debug-disk-faults', 'eio-read:count=-1'], /non-negative integer/],
      [['--debug-disk-faults', `seed=1;${'eio-read;'.repeat(200)}`], /longer than 1024/],
      [['--debug-disk-faults', 'seed=1', '--log-store', 'lmdb'], /needs the wal log store/],
    ] as const) {
      const error = flagError([...base, ...argv]);
      expect(error.flag).toBe('--debug-disk-faults');
      expect(error.message).toMatch(message);
    }
    expect(flagError([...base, '--debug-ignore-fsync-failures'])).toMatchObject({
      flag: '--debug-ignore-fsync-failures',
    });
  });

  it('accepts IPv6 addresses in brackets', () => {
    const args = parseServeArgs([
      '--id',
      'n1',
      '--raft-addr',
      '[::1]:7001',
      '--http-addr',
      '[::1]:8001',
      '--data-dir',
      'd',
    ]);
    expect(args.httpUrl).toBe('http://[::1]:8001');
  });

  it('takes TLS files as a set of three', () => {
    const dir = mkdtempSync(join(tmpdir(), 'raftkit-tls-'));
    const files = ['cert', 'key', 'ca'].map((name) => {
      const path = join(dir, `${name}.pem`);
      writeFileSync(path, 'x');
      return path;
    });
    const args = parseServeArgs([
      ...base,
      '--tls-cert',
      files[0],
      '--tls-key',
      files[1],
      '--tls-ca',
      files[2],
    ]);
    expect(args.tls).toEqual({ cert: files[0], key: files[1], ca: files[2] });
    expect(args.tlsRequireIdentity).toBe(false);
    const tlsFlags = ['--tls-cert', files[0], '--tls-key', files[1], '--tls-ca', files[2]];
    expect(parseServeArgs([...base, ...tlsFlags, '--tls-require-identity']).tlsRequireIdentity).toBe(true);
    expect(flagError([...base, '--tls-require-identity']).flag).toBe('--tls-require-identity');
    expect(flagError([...base, '--tls-cert', files[0], '--tls-key', files[1]]).flag).toBe('--tls-ca');
    expect(
      flagError([...base, '--tls-cert', files[0], '--tls-key', join(dir, 'nope'), '--tls-ca', files[2]]).flag,
    ).toBe('--tls-key');
  });

  const errors: [string, string[], string, RegExp][] = [
    ['no --id', base.slice(2), '--id', /required/],
    ['no --raft-addr', [...base.slice(0, 2), ...base.slice(4)], '--raft-addr', /required/],
    ['no --http-addr', [...base.slice(0, 4), ...base.slice(6)], '--http-addr', /required/],
    ['no --data-dir', base.slice(0, 6), '--data-dir', /required/],
    ['a bad id', [...base.slice(2), '--id', 'n 1'], '--id', /letters, digits/],
    ['an unknown flag', [...base, '--bogus', 'x'], '--bogus', /unknown/],
    ['a repeated flag', [...base, '--id', 'n2'], '--id', /more than once/],
    ['a flag without value', [...base, '--peers'], '--peers', /needs a value/],
    ['an empty value', [...base, '--peers='], '--peers', /needs a value/],
    ['a positional argument', [...base, 'extra'], 'extra', /unexpected argument/],
    [
      'a raft address without port',
      [...base.slice(0, 2), '--raft-addr', 'localhost', ...base.slice(4)],
      '--raft-addr',
      /host:port/,
    ],
    [
      'a port out of range',
      [...base.slice(0, 4), '--http-addr', '127.0.0.1:70000', ...base.slice(6)],
      '--http-addr',
      /out of range/,
    ],
    [
      'a wildcard raft address without --advertise',
      ['--id', 'n1', '--raft-addr', '0.0.0.0:7001', ...base.slice(4)],
      '--advertise',
      /dial/,
    ],
    ['an --advertise with port 0', [...base, '--advertise', '10.0.0.1:0'], '--advertise', /out of range/],
    ['a peer without =', [...base, '--peers', 'n1=127.0.0.1:7001,n2'], '--peers', /ID=HOST:PORT/],
    [
      'a peer with a bad address',
      [...base, '--peers', 'n1=127.0.0.1:7001,n2=nowhere'],
      '--peers',
      /host:port/,
    ],
    ['a duplicate peer id', [...base, '--peers', 'n1=127.0.0.1:7001,n1=127.0.0.1:7002'], '--peers', /twice/],
    [
      'a duplicate peer address',
      [...base, '--peers', 'n1=127.0.0.1:7001,n2=127.0.0.1:7001'],
      '--peers',
      /twice/,
    ],
    [
      'peers without this server',
      [...base, '--peers', 'n2=127.0.0.1:7002'],
      '--peers',
      /must include this server/,
    ],
    [
      'peers listing this server elsewhere',
      [...base, '--peers', 'n1=127.0.0.1:7009'],
      '--peers',
      /127.0.0.1:7001/,
    ],
    [
      '--join with --peers',
      [...base, '--peers', peers, '--join', 'http://127.0.0.1:8002'],
      '--join',
      /not both/,
    ],
    ['a --join that is not a URL', [...base, '--join', 'ftp://x:1'], '--join', /URL/],
    ['a --join with a path', [...base, '--join', 'http://127.0.0.1:8002/kv'], '--join', /URL/],
    ['a value on a boolean flag', [...base, '--debug-routes=yes'], '--debug-routes', /no value/],
  ];
  for (const [name, argv, flag, message] of errors) {
    it(`refuses ${name}, naming ${flag}`, () => {
      const error = flagError(argv);
      expect(error.flag).toBe(flag);
      expect(error.message).toMatch(message);
      expect(error.message.startsWith(`${flag}: `)).toBe(true);
    });
  }
});
