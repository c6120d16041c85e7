/**
 * Snapshot install of a large KV state (default 256 MiB of values) to a new raftkit node: a
 * single-voter `kv serve` leader is filled over HTTP (256 KiB values) with snapshots off, then
 * restarted with snapshot threshold 1 and 16 trailing logs, so it snapshots the whole state once
 * and compacts its log (the newcomer can only catch up by InstallSnapshot), and restarted with
 * snapshots off again. Then a fresh `kv serve` joins as a nonvoter. Measured: from the join request until the newcomer has applied
 * the snapshot's index (status polled every 20 ms), the snapshot's size over that time, and the
 * peak RSS growth of both ends (VmHWM reset just before the join, minus VmRSS at that moment), and
 * the newcomer's overhead (its peak minus its RSS once the snapshot is applied).
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  cleanupGoNodes,
  KvHttpClient,
  waitFor,
  waitForLeader,
  type ServerNode,
} from '../test/interop/harness.js';
import { runLoad } from './loadgen.js';
import { resetPeakRss, vmKiB } from './proc.js';
import { raftkitSystem } from './systems.js';
import { READ_FORMATS } from '../src/kv/command-formats.js';

const VALUE_BYTES = 256 * 1024;
/** While filling: no snapshots (each would serialize the growing state again). */
const NO_SNAPSHOTS = { snapshotThreshold: 2 ** 50 };
/**
 * Then: snapshot at the interval's check (every 1-2 s) once anything is applied, and keep almost
 * no log. The short interval matters: only the timer checks snapshotThreshold.
 */
const SNAPSHOT_TUNING = { snapshotThreshold: 1, snapshotIntervalMs: 1000, trailingLogs: 16 };
const RESTART_TIMEOUT_MS = 300_000;

export interface SnapshotInstallResult {
  stateMiB: number;
  snapshotBytes: number;
  seconds: number;
  mbPerS: number;
  leaderPeakGrowthMiB: number;
  newcomerPeakGrowthMiB: number;
  newcomerRssAfterMiB: number;
  /**
   * The install's own memory: the newcomer's peak RSS minus its RSS once the snapshot is applied
   * (what it keeps is the state itself: the KV store is in memory).
   */
  newcomerOverheadMiB: number;
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

/** Stops the node, changes its tuning and starts it again as the cluster's leader. */
async function restart(node: ServerNode, tuning: Partial<ServerNode['options']>): Promise<void> {
  await node.stop(RESTART_TIMEOUT_MS);
  Object.assign(node.options, tuning);
  await node.start(RESTART_TIMEOUT_MS);
  await waitForLeader([node], { timeoutMs: 30_000 });
}

export async function measureSnapshotInstall(
  stateMiB: number,
  log: (line: string) => void,
): Promise<SnapshotInstallResult> {
  const system = raftkitSystem();
  try {
    const leader = await system.create({ id: 'n1', ...NO_SNAPSHOTS });
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
    await restart(leader, SNAPSHOT_TUNING);
    const snapshotIndex = await waitFor(
      async () => {
        const status = await leader.client.status();
        return status.lastSnapshotIndex >= status.appliedIndex && status.lastSnapshotIndex;
      },
      { timeoutMs: 120_000, intervalMs: 200, what: 'a snapshot of the whole state' },
    );
    // Snapshots off again: the join's configuration entry would start another one mid-install.
    log(`  snapshot install: the leader's snapshot covers index ${snapshotIndex}`);
    await restart(leader, NO_SNAPSHOTS);
    const newcomer = await system.create({ id: 'n2', ...NO_SNAPSHOTS });
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
  // A join answers once the newcomer has caught up (the KV service waits up to 60 s), which here
  // means the whole InstallSnapshot: the harness client's 15 s would give up first.
  const joinClient = new KvHttpClient(leader.client.baseUrl, 300_000);
  await joinClient.join({
    id: newcomer.id,
    address: newcomer.raftAddress,
    http: `http://${newcomer.httpAddress}`,
    voter: false,
    // A raftkit newcomer reads both forms; a join that names none is refused while the leader
    // writes binary commands (bench/systems.ts).
    formats: [...READ_FORMATS],
  });
  await waitFor(async () => (await newcomer.client.status()).appliedIndex >= snapshotIndex, {
    timeoutMs: 300_000,
    intervalMs: 20,
    what: 'the newcomer to apply the snapshot',
  });
  const seconds = (performance.now() - start) / 1000;
  const [leaderPeak, newcomerPeak] = ends.map((pid) => vmKiB(pid, 'VmHWM'));
  const newcomerAfter = vmKiB(newcomer.pid!, 'VmRSS');
  const snapshotBytes = newestSnapshotBytes(leader.dataDir);
  return {
    stateMiB,
    snapshotBytes,
    seconds,
    mbPerS: snapshotBytes / 1e6 / seconds,
    leaderPeakGrowthMiB: (leaderPeak - leaderBefore) / 1024,
    newcomerPeakGrowthMiB: (newcomerPeak - newcomerBefore) / 1024,
    newcomerRssAfterMiB: newcomerAfter / 1024,
    newcomerOverheadMiB: (newcomerPeak - newcomerAfter) / 1024,
  };
}
