/**
 * `kv serve --debug-disk-faults` as `raftkit chaos` runs it (dist/cli.js over an IPC channel): a
 * loud warning at start, a server that cannot start exits instead of hanging on the channel, and
 * the WAL damage that chaos injects (`damageWal`) is what the store refuses.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { damageWal, withDiskFaults } from '../../src/cli/chaos-disk.js';
import { childProcessLauncher, demoNodeSpecs } from '../../src/cli/node-processes.js';
import { ErrStoreCorrupt, systemClock } from '../../src/index.js';
import { WalStore } from '../../src/storage/wal.js';
import { freePorts } from '../kit/helpers.js';

const cliPath = resolve('dist/cli.js');

/** Resolves with how the process ended, or 'still running' after `ms`. */
async function endedWithin(exited: Promise<void>, lastExit: () => string | null, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((done) => (timer = setTimeout(() => done('late'), ms)));
  const outcome = await Promise.race([exited.then(() => 'ended' as const), late]);
  clearTimeout(timer);
  return outcome === 'ended' ? lastExit() : 'still running';
}

describe('kv serve --debug-disk-faults', () => {
  it('warns loudly at start, and a server that cannot start exits although its parent holds an IPC channel', async () => {
    const root = mkdtempSync(join(tmpdir(), 'raftkit-disk-flag-'));
    const [raftPort, httpPort] = await freePorts(2);
    const [spec] = demoNodeSpecs({
      nodes: 1,
      raftPorts: [raftPort],
      httpPorts: [httpPort],
      dataRoot: root,
      extraServeArgs: ['--debug-disk-faults', 'seed=4', '--debug-clock'],
    });
    // A directory holding both log stores is refused before anything is read.
    mkdirSync(join(spec.dataDir, 'wal'), { recursive: true });
    writeFileSync(join(spec.dataDir, 'raft.lmdb'), '');
    const node = childProcessLauncher(cliPath, systemClock)(spec);
    node.start();
    try {
      // Before the fix the channel that --debug-clock and --debug-disk-faults listen on kept it alive.
      expect(await endedWithin(node.exited(), () => node.lastExit, 60_000)).toBe('exit code 1');
    } finally {
      await node.stop();
    }
    const log = readFileSync(`${spec.dataDir}.log`, 'utf8');
    expect(log).toContain(
      `raftkit kv serve: WARNING: --debug-disk-faults "seed=4": this server's disk fails on purpose (test only)`,
    );
    expect(log).toMatch(/cannot start n1: unusable data directory: .* holds both wal\/ and raft.lmdb/);
  }, 90_000);

  it('adds rules to the spec a server was started with', () => {
    expect(withDiskFaults(['--id', 'n1', '--debug-disk-faults', 'seed=2'], 'eio-read:count=1')).toEqual([
      '--id',
      'n1',
      '--debug-disk-faults',
      'seed=2;eio-read:count=1',
    ]);
    expect(() => withDiskFaults(['--id', 'n1'], 'eio-read')).toThrow(/without --debug-disk-faults/);
  });

  it('damages a WAL beyond its tail, which the store then refuses to open', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'raftkit-disk-damage-')), 'wal');
    const store = await WalStore.open(dir);
    const data = new Uint8Array(200).fill(7);
    for (let index = 1; index <= 40; index++) {
      await store.storeLogs([
        { index, term: 1, type: 0, data, extensions: new Uint8Array(0), appendedAt: 0 },
      ]);
    }
    await store.close();
    expect(damageWal(dir)).toMatch(/00000000000000000001\.wal at offset \d+$/);
    await expect(WalStore.open(dir)).rejects.toThrow(ErrStoreCorrupt);
    // Too little data to damage anything but the last group: no damage at all.
    const small = join(mkdtempSync(join(tmpdir(), 'raftkit-disk-damage-')), 'wal');
    await (await WalStore.open(small)).close();
    expect(damageWal(small)).toBeNull();
  });
});
