/**
 * The disk faults of a `raftkit chaos` run, on real `kv serve` processes started with
 * `--debug-disk-faults` (a fault-injecting file layer under their WAL and snapshot store). In turn:
 *
 * - fsync-fail: the victim's next WAL sync fails. It must fail-stop (exit non-zero, never retry);
 *   it is then restarted without the fault and must come back.
 * - torn-write: the victim's next WAL write stores a prefix of its bytes and the process dies
 *   there. Restarted, its WAL must drop the torn tail and the server must come back (the verdict
 *   checks that nothing acknowledged was lost).
 * - eio-read: the victim is restarted with its first WAL read failing: it must refuse to start with a
 *   clear message (ErrStoreRead), then start without the fault.
 * - corrupt: one byte in the middle of the victim's newest WAL segment is flipped while it is down:
 *   damage beyond the tail, which it must detect at start (ErrStoreCorrupt) and refuse to serve
 *   from (sealed segments open from their index: damage there is found when read). It is then
 *   repaired from the others, the way an operator would: removed from the configuration, its data
 *   wiped, added again empty (`--join`), so that it copies the log or a snapshot from the leader.
 *
 * What a server did that it must not (kept running after a failed fsync, did not come back after
 * a torn write, served from a damaged log) is a problem, and a run with problems fails.
 */
import { closeSync, fstatSync, openSync, readdirSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, type Clock } from '../index.js';
import type { StatusBody } from '../kv/contract.js';
import { JOIN_TIMEOUT_MS, RESTART_TIMEOUT_MS, type ChaosCluster, type ChaosMember } from './chaos-cluster.js';

/** The disk faults, in the order a run injects them. */
export const DISK_ACTIONS = ['fsync-fail', 'torn-write', 'eio-read', 'corrupt'] as const;
export type DiskAction = (typeof DISK_ACTIONS)[number];

/** What the disk faults of a run did (all zero when `disk` was not among the faults). */
export interface DiskReport {
  /** Faults that took effect, by action (an armed fault that no write reached is not counted). */
  injected: Record<DiskAction, number>;
  /** Servers that stopped on their own after a failed fsync, as they must. */
  failStops: number;
  /** Servers that came back after a torn write or a failed read. */
  recovered: number;
  /** Servers that refused a damaged log and were rebuilt from the others. */
  repaired: number;
  /** What went wrong: a server that kept running after a failed fsync, did not come back, ... */
  problems: string[];
}

export function emptyDiskReport(): DiskReport {
  return {
    injected: { 'fsync-fail': 0, 'torn-write': 0, 'eio-read': 0, corrupt: 0 },
    failStops: 0,
    recovered: 0,
    repaired: 0,
    problems: [],
  };
}

/** The `kv serve` flag that gives a server the fault layer (no rules yet: they come over IPC). */
export const DISK_FAULTS_FLAG = '--debug-disk-faults';

/** How long a disk fault waits for a leader to tell the configuration before it gives up its turn. */
const LEADER_WAIT_MS = 10_000;
/** How long an armed fault may wait for the write or sync that trips it. */
const ARM_TIMEOUT_MS = 10_000;
/** How long a server may take to stop on its own after a failed fsync (it closes its API first). */
const FAIL_STOP_TIMEOUT_MS = 15_000;
/** How long a repair may take to get the damaged member out of the configuration. */
const REPAIR_TIMEOUT_MS = 60_000;
/** A WAL needs this many bytes of data before a byte in its middle is beyond its last group. */
const MIN_DAMAGE_BYTES = 4096;

export class DiskFaults {
  readonly report = emptyDiskReport();
  /** Injected faults each server's process told us about (IPC), by process. */
  private readonly told = new Map<ChaosMember['process'], number>();
  private next = 0;

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly clock: Clock,
    private readonly event: (line: string) => void,
    /** The actions to take turns with (default all). */
    private readonly actions: readonly DiskAction[] = DISK_ACTIONS,
  ) {
    if (actions.length === 0) throw new RangeError('chaos: no disk fault to inject');
  }

  /** The action the next `inject` runs (they take turns, so a short run sees each). */
  peek(): DiskAction {
    return this.actions[this.next % this.actions.length];
  }

  /** Runs the next action on `victim` (running, and no other fault's victim). */
  async inject(victim: ChaosMember, downFor: number): Promise<void> {
    // The turn passes only once a fault is injected: a skipped one is tried again next time.
    const action = this.peek();
    const id = victim.spec.id;
    const servers = await this.servers();
    if (servers === null || !servers.some((server) => server.id === id)) {
      // A server still joining that loses its first writes cannot join again as itself (409).
      return this.event(`disk ${id}: ${action} skipped: ${servers === null ? 'no leader' : 'not a member'}`);
    }
    if (
      action === 'corrupt' &&
      !keepsQuorumWithout(servers, id, (each) => this.cluster.byId(each)?.process.running === true)
    ) {
      // Its data is lost until the repair: only a configuration that keeps a quorum without it may lose it.
      const listed = servers.map(
        (server) => `${server.id}${server.suffrage === 'Voter' ? '' : ' (non-voter)'}`,
      );
      return this.event(`disk ${id}: corrupt skipped: ${listed.join(',')} would have no quorum left`);
    }
    this.next++;
    this.watch(victim);
    if (action === 'fsync-fail' || action === 'torn-write') return this.onWrite(victim, action, downFor);
    if (action === 'eio-read') return this.failedRead(victim, downFor);
    return this.corrupt(victim, downFor);
  }

  /** The leader's configuration, asked for a while (other faults may leave no leader for seconds). */
  private async servers(): Promise<StatusBody['configuration'] | null> {
    const deadline = this.clock.now() + LEADER_WAIT_MS;
    for (;;) {
      const servers = await this.cluster.servers();
      if (servers !== null || this.clock.now() > deadline) return servers;
      await sleep(this.clock, 500);
    }
  }

  private watch(member: ChaosMember): void {
    if (this.told.has(member.process)) return;
    this.told.set(member.process, 0);
    member.process.onMessage((message) => {
      if ((message as { raftkitDiskFault?: unknown } | null)?.raftkitDiskFault !== undefined)
        this.told.set(member.process, this.told.get(member.process)! + 1);
    });
  }

  private problem(line: string): void {
    this.report.problems.push(line);
    this.event(`PROBLEM: ${line}`);
  }

  /** Arms a failed fsync or a torn write on the victim's WAL and checks what the server does. */
  private async onWrite(victim: ChaosMember, action: 'fsync-fail' | 'torn-write', downFor: number) {
    const id = victim.spec.id;
    const before = this.told.get(victim.process)!;
    victim.process.send({ raftkitDiskFaults: `${action}:count=1,path=.wal` });
    this.event(`disk ${id}: its next WAL ${action === 'fsync-fail' ? 'sync fails (EIO)' : 'write is torn'}`);
    const tripped = await this.until(ARM_TIMEOUT_MS, () => this.told.get(victim.process)! > before);
    if (!tripped) {
      victim.process.send({ raftkitDiskFaults: 'clear' });
      // Told nothing: no write reached it, or it died first (another fault).
      return this.event(`disk ${id}: not tripped within ${ARM_TIMEOUT_MS} ms; disarmed`);
    }
    this.report.injected[action]++;
    const stopped = await this.until(FAIL_STOP_TIMEOUT_MS, () => !victim.process.running);
    if (!stopped) {
      if (action === 'fsync-fail') {
        this.problem(`${id} kept running ${FAIL_STOP_TIMEOUT_MS} ms after a failed fsync (no fail-stop)`);
      } else this.problem(`${id} kept running after a torn write crashed its file layer`);
      victim.process.signal('SIGKILL');
      await victim.process.exited();
    } else if (action === 'fsync-fail') {
      const exit = victim.process.lastExit ?? '';
      if (exit === 'exit code 0') this.problem(`${id} exited 0 after a failed fsync (must be a failure)`);
      else this.report.failStops++;
      this.event(
        `disk ${id}: fail-stopped (${exit}): ${lastLogLine(victim, /storage write failed: shutting down/)}`,
      );
    } else this.event(`disk ${id}: died mid-write (${victim.process.lastExit})`);
    await sleep(this.clock, downFor);
    await this.restart(victim, `after ${action}`);
  }

  /** Restarts the victim with its first read failing; it must refuse, then start without the fault. */
  private async failedRead(victim: ChaosMember, downFor: number) {
    const id = victim.spec.id;
    victim.process.signal('SIGKILL');
    await victim.process.exited();
    this.event(`disk ${id}: kill -9, restart with its first WAL read failing (EIO)`);
    victim.process.start(withDiskFaults(victim.spec.serveArgs, 'eio-read:count=1,path=.wal'));
    const ended = await this.until(RESTART_TIMEOUT_MS, () => !victim.process.running);
    if (!ended) {
      // Started although a read failed: fine only if the failed read was one it may retry.
      this.event(`disk ${id}: serves although a read failed: ${lastLogLine(victim, /injected/)}`);
    } else {
      const reason = lastLogLine(victim, /cannot start/);
      if (/EIO|ErrStoreRead/.test(reason)) this.report.injected['eio-read']++;
      else this.problem(`${id} stopped after a failed read without saying so: ${reason}`);
      this.event(`disk ${id}: refused to start (${victim.process.lastExit}): ${reason}`);
    }
    await victim.process.stop();
    await sleep(this.clock, downFor);
    await this.restart(victim, 'after a failed read');
  }

  /**
   * Flips a byte in the middle of the victim's WAL while it is down; it must refuse to start,
   * and is then rebuilt from the others (removed, wiped, added again empty).
   */
  private async corrupt(victim: ChaosMember, downFor: number) {
    const id = victim.spec.id;
    victim.process.signal('SIGKILL');
    await victim.process.exited();
    const damaged = damageWal(join(victim.spec.dataDir, 'wal'));
    if (damaged === null) {
      this.event(`disk ${id}: kill -9; its WAL is too small to damage beyond the tail`);
      return this.restart(victim, 'undamaged');
    }
    this.report.injected.corrupt++;
    this.event(`disk ${id}: kill -9, flipped a byte of ${damaged} (beyond the tail), restart`);
    victim.process.start();
    const up = await this.until(RESTART_TIMEOUT_MS, () => !victim.process.running);
    if (!up) {
      this.problem(`${id} started on a WAL damaged beyond its tail (${damaged}) without refusing it`);
      await victim.process.stop();
    } else {
      // The flipped byte may land in a payload (a checksum mismatch) or in a record's length
      // (a record that overruns the segment): either way the refusal must name ErrStoreCorrupt.
      const reason = lastLogLine(victim, /cannot start/);
      if (!/stored value is corrupt|ErrStoreCorrupt/.test(reason)) {
        this.problem(`${id} refused a damaged WAL without calling it corrupt: ${reason}`);
      }
      this.event(`disk ${id}: refused (${victim.process.lastExit}): ${reason}`);
    }
    await sleep(this.clock, downFor);
    await this.repair(victim);
  }

  /** Removes the damaged member, wipes it and adds it again empty. */
  private async repair(victim: ChaosMember): Promise<void> {
    const id = victim.spec.id;
    const deadline = this.clock.now() + REPAIR_TIMEOUT_MS;
    let removed = false;
    while (!removed && this.clock.now() < deadline) {
      ({ removed } = await this.cluster.remove(victim));
      if (!removed) await sleep(this.clock, 1000);
    }
    if (!removed) {
      // Left down: a wiped voter that comes back as itself could forget acknowledged writes.
      return this.problem(`${id} could not be removed for repair within ${REPAIR_TIMEOUT_MS} ms`);
    }
    const joined = await this.cluster.join(victim);
    const voter = await this.cluster.untilVoter(joined, JOIN_TIMEOUT_MS);
    if (voter) this.report.repaired++;
    this.event(`disk ${id}: repaired: removed, wiped, re-added ${voter ? '(a voter)' : '(not a voter yet)'}`);
  }

  private async restart(victim: ChaosMember, why: string): Promise<void> {
    if (!this.cluster.members.includes(victim)) return; // removed meanwhile
    victim.process.start();
    const up = await this.cluster.untilUp(victim, RESTART_TIMEOUT_MS);
    if (up) this.report.recovered++;
    else this.problem(`${victim.spec.id} did not come back ${why}: ${lastLogLine(victim, /cannot start/)}`);
    this.event(`disk ${victim.spec.id}: restarted ${why}: ${up ? 'up' : 'NOT up'}`);
  }

  private async until(timeoutMs: number, done: () => boolean): Promise<boolean> {
    const deadline = this.clock.now() + timeoutMs;
    while (!done()) {
      if (this.clock.now() > deadline) return false;
      await sleep(this.clock, 50);
    }
    return true;
  }
}

/** `serveArgs` with more rules in their --debug-disk-faults spec. */
export function withDiskFaults(serveArgs: readonly string[], rules: string): string[] {
  const args = [...serveArgs];
  const at = args.indexOf(DISK_FAULTS_FLAG);
  if (at < 0) throw new Error(`chaos: the server was started without ${DISK_FAULTS_FLAG}`);
  args[at + 1] = `${args[at + 1]};${rules}`;
  return args;
}

/**
 * Flips one byte half-way into the data of the WAL's newest segment (segments are preallocated:
 * the data ends at the last non-zero byte). Records are back to back and every byte is under a
 * checksum, and groups follow it, so the store must see damage, not a torn tail. The newest
 * segment because an open scans it whole; a sealed segment opens from its index, and damage there
 * is reported when the entry is read (src/storage/wal-seal-index.ts). Returns "<file> at offset
 * N", or null when the newest segment holds too little data.
 */
export function damageWal(dir: string): string | null {
  const [newest] = readdirSync(dir)
    .filter((each) => each.endsWith('.wal'))
    .sort()
    .slice(-1);
  const path = newest === undefined ? null : join(dir, newest);
  const best = path === null ? null : { path, end: dataEnd(path) };
  if (best === null || best.end < MIN_DAMAGE_BYTES) return null;
  const offset = Math.floor(best.end / 2);
  const fd = openSync(best.path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, offset);
    byte[0] ^= 0xff;
    writeSync(fd, byte, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
  return `${best.path} at offset ${offset}`;
}

/** Where a preallocated segment's data ends: after its last non-zero byte (read backwards, a MiB at a time). */
function dataEnd(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const chunk = Buffer.alloc(1 << 20);
    for (let end = fstatSync(fd).size; end > 0;) {
      const start = Math.max(0, end - chunk.length);
      const length = readSync(fd, chunk, 0, end - start, start);
      for (let i = length - 1; i >= 0; i--) if (chunk[i] !== 0) return start + i + 1;
      end = start;
    }
    return 0;
  } finally {
    closeSync(fd);
  }
}

/** How much of the end of a server's log `lastLogLine` searches. */
const LOG_TAIL_BYTES = 64 * 1024;

/** The server's last log line matching `pattern` (its log is <dataDir>.log), trimmed, or "". */
function lastLogLine(member: ChaosMember, pattern: RegExp): string {
  const tail = Buffer.alloc(LOG_TAIL_BYTES);
  let text: string;
  try {
    const fd = openSync(`${member.spec.dataDir}.log`, 'r');
    try {
      const size = fstatSync(fd).size;
      const length = Math.min(size, LOG_TAIL_BYTES);
      text = tail.toString('utf8', 0, readSync(fd, tail, 0, length, size - length));
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
  const line =
    text
      .split('\n')
      .reverse()
      .find((each) => pattern.test(each)) ?? '';
  return shortLine(line);
}

/** A log line for an event: a JSON (pino) line as "msg: error", anything else as is; at most 300 characters. */
function shortLine(line: string): string {
  let text = line;
  try {
    const { msg, err } = JSON.parse(line) as { msg?: string; err?: { message?: string } };
    if (typeof msg === 'string') text = err?.message === undefined ? msg : `${msg}: ${err.message}`;
  } catch {
    // not JSON: stderr text
  }
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}

/**
 * Whether the configuration `servers` keeps a quorum of running voters without `victim`: a voter
 * whose data is lost until its repair counts as down, and so does every other voter not running.
 * Non-voters count for nothing (a re-added member not yet promoted is one).
 */
export function keepsQuorumWithout(
  servers: StatusBody['configuration'],
  victim: string,
  isRunning: (id: string) => boolean,
): boolean {
  const voters = servers.filter((server) => server.suffrage === 'Voter');
  const up = voters.filter((server) => server.id !== victim && isRunning(server.id));
  return up.length > voters.length / 2;
}
