/**
 * Snapshot install of a large KV state (default 256 MiB of values) to a new raftkit node: a
 * single-voter `kv serve` leader is filled over HTTP (256 KiB values), snapshots it and compacts
 * its log (snapshot threshold 1, trailing logs 16, so the newcomer can only catch up by
 * InstallSnapshot); then a fresh `kv serve` joins as a nonvoter. Measured: from the join request
 * until the newcomer has applied the snapshot's index (status polled every 20 ms), the snapshot's
 * size over that time, and the peak RSS growth of both ends (VmHWM reset just before the join,
 * minus VmRSS at that moment).
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cleanupGoNodes, waitFor, waitForLeader, type ServerNode } from '../test/interop/harness.js';
import { runLoad } from './loadgen.js';
import { resetPeakRss, vmKiB } from './proc.js';
import { raftkitSystem } from './systems.js';

const VALUE_BYTES = 256 * 1024;
/** Snapshot as soon as anything new is applied, checked every 1-2 s, and keep almost no log. */
const SNAPSHOT_TUNING = { snapshotThreshold: 1, snapshotIntervalMs: 1000, trailingLogs: 16 };

export interface SnapshotInstallResult {
  stateMiB: number;
  snapshotBytes: number;
  seconds: number;
  mbPerS: number;
  leaderPeakGrowthMiB: number;
  newcomerPeakGrowthMiB: number;
  newcomerRssAfterMiB: number;
}

/** Bytes of the newest snapshot's state.bin in a raftkit data directory (<dir>/snapshots/<term>-<index>-<ms>/). */
function newestSnapshotBytes(dataDir: string): number {
  const dir = join(dataDir, 'snapshots');
  const index = (name: string) => Number(name.split('-')[1] ?? -1);
  const newest = readdirSync(dir)
    .filter((name) => !name.endsWith('.tmp'))
    .sort((a, b) => index(b) - index(a))[0];
  if (newest === undefined) throw new Error(`no snapshot in ${dir}`);
  return statSync(join(dir, newest, 'state.bin')).size;
}

export async function measureSnapshotInstall(
  stateMiB: number,
  log: (line: string) => void,
): Promise<SnapshotInstallResult> {
  const system = raftkitSystem();
  try {
    const leader = await system.create({ id: 'n1', ...SNAPSHOT_TUNING });
    leader.options.peers = [{ id: 'n1', address: leader.raftAddress }];
    await leader.start();
    await waitForLeader([leader], { timeoutMs: 30_000 });
    const keys = Math.ceil((stateMiB * 1024 * 1024) / VALUE_BYTES);
    const fill = await runLoad({
      api: 'kv',
      urls: [`http://${leader.httpAddress}`],
      pids: [leader.pid!],
      op: 'put',
      concurrency: 4,
      keys,
      valueSize: VALUE_BYTES,
      warmupS: 0,
      durationS: 0,
      fill: true,
    });
    log(`  snapshot install: filled ${stateMiB} MiB in ${fill.seconds.toFixed(1)} s`);
    const snapshotIndex = await waitFor(
      async () => {
        const status = await leader.client.status();
        return status.lastSnapshotIndex >= status.appliedIndex && status.lastSnapshotIndex;
      },
      { timeoutMs: 120_000, intervalMs: 200, what: 'a snapshot of the whole state' },
    );
    const newcomer = await system.create({ id: 'n2', ...SNAPSHOT_TUNING });
    await newcomer.start();
    return await install(leader, newcomer, snapshotIndex, stateMiB);
  } finally {
    await cleanupGoNodes();
  }
}

async function install(
  leader: ServerNode,
  newcomer: ServerNode,
  snapshotIndex: number,
  stateMiB: number,
): Promise<SnapshotInstallResult> {
  const ends = [leader.pid!, newcomer.pid!];
  for (const pid of ends) resetPeakRss(pid);
  const [leaderBefore, newcomerBefore] = ends.map((pid) => vmKiB(pid, 'VmRSS'));
  const start = performance.now();
  await leader.client.join({
    id: newcomer.id,
    address: newcomer.raftAddress,
    http: `http://${newcomer.httpAddress}`,
    voter: false,
  });
  await waitFor(async () => (await newcomer.client.status()).appliedIndex >= snapshotIndex, {
    timeoutMs: 300_000,
    intervalMs: 20,
    what: 'the newcomer to apply the snapshot',
  });
  const seconds = (performance.now() - start) / 1000;
  const [leaderPeak, newcomerPeak] = ends.map((pid) => vmKiB(pid, 'VmHWM'));
  const snapshotBytes = newestSnapshotBytes(leader.dataDir);
  return {
    stateMiB,
    snapshotBytes,
    seconds,
    mbPerS: snapshotBytes / 1e6 / seconds,
    leaderPeakGrowthMiB: (leaderPeak - leaderBefore) / 1024,
    newcomerPeakGrowthMiB: (newcomerPeak - newcomerBefore) / 1024,
    newcomerRssAfterMiB: vmKiB(newcomer.pid!, 'VmRSS') / 1024,
  };
}
