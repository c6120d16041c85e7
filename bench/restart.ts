/**
 * Restart of a raftkit node whose log holds many committed entries (default 1M): its data
 * directory is written directly through the library's stores (a bootstrapped single-voter
 * configuration, then KV put commands of 100-byte values, then the persisted commit index), so
 * making it costs seconds, not an hour of HTTP writes. Two cases of the same log:
 * - **replay**: no snapshot, so every entry is applied to the KV state machine before serving;
 * - **indexed** (the target's case): a snapshot of the KV state at the last index, the whole log
 *   kept behind it (as trailing logs are, for followers to catch up from): start-up restores the
 *   snapshot and only indexes the log (its terms, from the WAL's index; no payload is read).
 * Measured for each repetition and case:
 * - in this process: opening the stores (openNodeStorage) and `Raft.create` with the KV state
 *   machine (restore, log index, replay of the committed entries the snapshot does not cover);
 * - `raftkit kv serve` on the directory: from spawning the process until GET /status answers
 *   (the harness polls every 50 ms), and its peak RSS by then.
 * All with snapshots off (NO_SNAPSHOTS), so every run starts from the same directory.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  bootstrapCluster,
  defaultConfig,
  LogType,
  newTcpTransport,
  openNodeStorage,
  Raft,
  ServerSuffrage,
  StableKeys,
  systemClock,
  type LogEntry,
} from '../src/index.js';
import { freePort } from '../test/interop/harness.js';
import { TsNode } from '../test/interop/ts-node.js';
import { KvFsm } from '../src/kv/fsm.js';
import { vmKiB } from './proc.js';
import { median } from './stats.js';
import { HASHICORP_DEFAULT_TUNING } from './systems.js';

const WRITE_BATCH = 1024;
/**
 * raftkit snapshots as soon as an apply passes its log limit (at least the threshold), so the
 * replay at start would end in a snapshot and a compacted log, and the next run would restart
 * from that instead.
 */
const NO_SNAPSHOTS = { snapshotThreshold: 2 ** 50 };
/** Start-up reads the whole log today: give it minutes, not the harness's 15 s. */
const START_TIMEOUT_MS = 600_000;

export interface RestartMeasures {
  openStorageMs: number;
  raftCreateMs: number;
  processToServingMs: number;
  processPeakRssMiB: number;
}

export interface RestartRun extends RestartMeasures {
  /** Whether a snapshot at the last index covered the log (the indexed case). */
  snapshot: boolean;
}

/** Medians over the runs; the top-level measures are the indexed case (the target's). */
export interface RestartResult extends RestartMeasures {
  entries: number;
  generateS: number;
  /** Time to apply the log into a KV state machine and write its snapshot (once). */
  snapshotS: number;
  /** The same log with no snapshot: every entry is replayed into the KV state machine first. */
  replay: RestartMeasures;
  runs: RestartRun[];
}

/** Writes `entries` committed KV puts after a bootstrapped configuration entry into `dir`. */
export async function generate(dir: string, address: string, entries: number): Promise<void> {
  const storage = await openNodeStorage(dir, { clock: systemClock });
  try {
    const config = { ...defaultConfig(), localId: 'n1' };
    const servers = [{ id: 'n1', address, suffrage: ServerSuffrage.Voter }];
    await bootstrapCluster(config, storage.logStore, storage.logStore, storage.snapshotStore, { servers });
    const value = Buffer.alloc(100, 0x61).toString('base64');
    const last = entries + 1;
    for (let first = 2; first <= last; first += WRITE_BATCH) {
      const batch: LogEntry[] = [];
      for (let index = first; index <= Math.min(last, first + WRITE_BATCH - 1); index++) {
        const key = `k${String(index % 100_000).padStart(6, '0')}`;
        const data = Buffer.from(JSON.stringify({ op: 'put', key, value }));
        batch.push({
          index,
          term: 1,
          type: LogType.Command,
          data,
          extensions: new Uint8Array(0),
          appendedAt: 0,
        });
      }
      await storage.logStore.storeLogs(batch);
    }
    await storage.logStore.setUint64(StableKeys.commitIndex, last);
  } finally {
    await storage.close();
  }
}

/** Applies the whole log to a KV state machine and stores its snapshot at the last index, the log kept behind it. */
export async function addSnapshot(dir: string, address: string): Promise<void> {
  const storage = await openNodeStorage(dir, { clock: systemClock });
  try {
    const fsm = new KvFsm();
    const last = await storage.logStore.lastIndex();
    for (let first = 1; first <= last; first += WRITE_BATCH) {
      for (const entry of await storage.logStore.getLogs(first, Math.min(last, first + WRITE_BATCH - 1)))
        if (entry.type === LogType.Command) fsm.apply(entry);
    }
    const servers = [{ id: 'n1', address, suffrage: ServerSuffrage.Voter }];
    const sink = await storage.snapshotStore.create(1, last, 1, { servers }, 1);
    const snapshot = fsm.snapshot();
    await snapshot.persist(sink);
    snapshot.release();
  } finally {
    await storage.close();
  }
}

async function createInProcess(dir: string): Promise<Pick<RestartRun, 'openStorageMs' | 'raftCreateMs'>> {
  const start = performance.now();
  const storage = await openNodeStorage(dir, { clock: systemClock });
  const opened = performance.now();
  try {
    const transport = await newTcpTransport('127.0.0.1:0', null, 3, 10_000);
    const raft = await Raft.create({
      config: { ...defaultConfig(), ...NO_SNAPSHOTS, localId: 'n1' },
      fsm: new KvFsm(),
      logStore: storage.logStore,
      stableStore: storage.logStore,
      snapshotStore: storage.snapshotStore,
      transport,
    });
    const created = performance.now();
    await raft.shutdown();
    return { openStorageMs: opened - start, raftCreateMs: created - opened };
  } finally {
    await storage.close();
  }
}

async function startProcess(
  dir: string,
  address: string,
): Promise<Pick<RestartRun, 'processToServingMs' | 'processPeakRssMiB'>> {
  const options = { id: 'n1', ...HASHICORP_DEFAULT_TUNING, ...NO_SNAPSHOTS };
  const node = new TsNode(options, address, `127.0.0.1:${await freePort()}`, dir);
  const start = performance.now();
  await node.start(START_TIMEOUT_MS);
  const serving = performance.now();
  try {
    return { processToServingMs: serving - start, processPeakRssMiB: vmKiB(node.pid!, 'VmHWM') / 1024 };
  } finally {
    await node.stop();
  }
}

export async function measureRestart(
  root: string,
  entries: number,
  repetitions: number,
  log: (line: string) => void,
): Promise<RestartResult> {
  const dir = join(root, 'restart-node');
  const address = `127.0.0.1:${await freePort()}`;
  const generateStart = performance.now();
  await generate(dir, address, entries);
  const generateS = (performance.now() - generateStart) / 1000;
  log(`  restart: wrote ${entries} entries in ${generateS.toFixed(1)} s`);
  const runs: RestartRun[] = [];
  let snapshotS: number;
  try {
    const measure = async (i: number, snapshot: boolean) => {
      const label = `  restart ${i + 1} (${snapshot ? 'indexed' : 'replay'})`;
      const inProcess = await createInProcess(dir);
      log(
        `${label}: open ${inProcess.openStorageMs.toFixed(0)} ms, Raft.create ${inProcess.raftCreateMs.toFixed(0)} ms`,
      );
      const process = await startProcess(dir, address);
      log(
        `${label}: kv serve to serving ${process.processToServingMs.toFixed(0)} ms` +
          ` (peak RSS ${process.processPeakRssMiB.toFixed(0)} MiB)`,
      );
      runs.push({ snapshot, ...inProcess, ...process });
    };
    for (let i = 0; i < repetitions; i++) await measure(i, false);
    const snapshotStart = performance.now();
    await addSnapshot(dir, address);
    snapshotS = (performance.now() - snapshotStart) / 1000;
    log(`  restart: applied the log and wrote its snapshot in ${snapshotS.toFixed(1)} s`);
    for (let i = 0; i < repetitions; i++) await measure(i, true);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const medians = (snapshot: boolean): RestartMeasures => {
    const of = runs.filter((run) => run.snapshot === snapshot);
    const pick = (key: keyof RestartMeasures) => median(of.map((run) => run[key]));
    return {
      openStorageMs: pick('openStorageMs'),
      raftCreateMs: pick('raftCreateMs'),
      processToServingMs: pick('processToServingMs'),
      processPeakRssMiB: pick('processPeakRssMiB'),
    };
  };
  return { entries, generateS, snapshotS, ...medians(true), replay: medians(false), runs };
}
