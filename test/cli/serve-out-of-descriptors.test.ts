/**
 * Issue 11.3 end to end: a 3-process `raftkit kv serve` cluster in which one server runs under a
 * low descriptor limit (`prlimit --nofile`) and is flooded with connections on its HTTP and Raft
 * ports until it runs out of descriptors, while clients keep writing. Then the flood stops: the
 * server must still be running, catch up by itself and serve again, and every acknowledged write
 * must be there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { keyPath, kvRequest } from '../../src/cli/service-client.js';
import { freePorts } from '../kit/helpers.js';

const CLI = resolve('dist/cli.js');
/**
 * The flooded server's descriptor limit: about 25 in use when idle. Not lower: Node's module
 * loader opens the CLI's modules concurrently at start, which takes some 70 descriptors at once.
 */
const NOFILE = 128;
/** Connections the flood opens on each port: well past what the limit leaves. */
const FLOOD = 200;
/** --wal-segment-bytes of the rollover case: four of its 1 MB writes fill a segment. */
const SEGMENT_BYTES = 4 * 1024 * 1024;

interface Server {
  id: string;
  raft: string;
  http: string;
  child: ChildProcess;
  stdout: () => string;
  exited: Promise<number | null>;
}

const running: ChildProcess[] = [];
const floods: Flood[] = [];

afterEach(() => {
  for (const flood of floods.splice(0)) flood.stop();
  for (const child of running.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

function start(
  id: string,
  raft: string,
  http: string,
  dataDir: string,
  peers: string,
  nofile?: number,
  extra: string[] = [],
): Server {
  const node = [process.execPath, CLI, 'kv', 'serve', '--id', id, '--raft-addr', raft, '--http-addr', http];
  // Frequent snapshots, so that the flooded server also snapshots, and is sent one, under the flood.
  const args = [
    ...node,
    '--data-dir',
    dataDir,
    '--peers',
    peers,
    '--snapshot-threshold',
    '32',
    '--snapshot-log-limit',
    '32',
    '--trailing-logs',
    '16',
    ...extra,
  ];
  const [command, ...rest] = nofile ? ['prlimit', `--nofile=${nofile}`, ...args] : args;
  const child = spawn(command, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(child);
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('close', (code) => done(code)));
  return { id, raft, http: `http://${http}`, child, stdout: () => stdout, exited };
}

async function serving(server: Server): Promise<void> {
  for (let waited = 0; !server.stdout().includes('"msg":"kv: serving"'); waited += 20) {
    if (waited > 15_000 || server.child.exitCode !== null)
      throw new Error(`${server.id} did not start:\n${server.stdout()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Keeps `count` connections to host:port open until stopped: each one the server closes (shed by
 * libuv when it has no descriptor, or timed out as idle) is opened again a little later.
 */
class Flood {
  private stopped = false;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly address: string,
    count: number,
  ) {
    for (let i = 0; i < count; i++) this.open();
  }

  private open(): void {
    if (this.stopped) return;
    const [host, port] = this.address.split(':');
    const socket = connect({ host, port: Number(port) });
    socket.on('error', () => {});
    socket.once('close', () => {
      this.sockets.delete(socket);
      setTimeout(() => this.open(), 250);
    });
    this.sockets.add(socket);
  }

  stop(): void {
    this.stopped = true;
    for (const socket of this.sockets) socket.destroy();
  }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Fails with the server's last log lines when it is no longer running. */
function expectRunning(server: Server): void {
  const tail = server.stdout().trim().split('\n').slice(-6).join('\n');
  expect(server.child.exitCode, `${server.id} exited:\n${tail}`).toBeNull();
}

interface Status {
  id: string;
  leader: { id: string };
  commitIndex: number;
  appliedIndex: number;
}

async function status(server: Server): Promise<Status | null> {
  try {
    const response = await fetch(`${server.http}/status`, { signal: AbortSignal.timeout(1000) });
    return (await response.json()) as Status;
  } catch {
    return null;
  }
}

/**
 * The scenario; with `rollover`, large writes during the flood also make the flooded server's
 * write-ahead log start a new segment while it has no descriptor to open it with.
 */
async function floodScenario(rollover: boolean): Promise<void> {
  {
    const root = mkdtempSync(join(tmpdir(), 'raftkit-emfile-'));
    const ports = await freePorts(6);
    const ids = ['n1', 'n2', 'n3'];
    const peers = ids.map((id, i) => `${id}=127.0.0.1:${ports[i]}`).join(',');
    const servers = ids.map((id, i) =>
      start(
        id,
        `127.0.0.1:${ports[i]}`,
        `127.0.0.1:${ports[i + 3]}`,
        join(root, id),
        peers,
        i === 2 ? NOFILE : undefined,
        // Small segments: a few large writes start a new one while the flood is on (during it the
        // flooded server receives only part of the log).
        rollover ? ['--wal-segment-bytes', String(SEGMENT_BYTES)] : [],
      ),
    );
    await Promise.all(servers.map(serving));
    const victim = servers[2];

    // Writers: unique values to a few keys through any server (followers redirect to the leader).
    const acked = new Map<string, number>();
    let acks = 0;
    let stop = false;
    const writer = async (w: number) => {
      for (let n = 0; !stop; n++) {
        const key = `w${w}-${n % 10}`;
        try {
          const response = await fetch(`${servers[n % 3].http}/kv/${key}`, {
            method: 'PUT',
            body: String(n),
            signal: AbortSignal.timeout(2000),
          });
          if (response.status === 200) {
            acked.set(key, n);
            acks++;
          } else await pause(20);
        } catch {
          await pause(20);
        }
      }
    };
    const writers = [0, 1, 2].map(writer);
    const progress = async (count: number) => {
      const target = acks + count;
      for (let waited = 0; acks < target; waited += 50) {
        if (waited > 30_000) throw new Error(`only ${acks} of ${target} writes acknowledged`);
        await pause(50);
      }
    };
    await progress(20);

    // The flood: connections to both of the victim's ports, kept open, more than it has descriptors.
    const descriptors = () => readdirSync(`/proc/${victim.child.pid}/fd`).length;
    floods.push(new Flood(victim.raft, FLOOD), new Flood(victim.http.slice('http://'.length), FLOOD));
    let peak = descriptors();
    for (let i = 0; i < 40; i++) {
      await pause(50);
      peak = Math.max(peak, descriptors());
    }
    expect(peak).toBeGreaterThanOrEqual(NOFILE - 2);
    expectRunning(victim);
    await progress(10); // the others keep the cluster writing meanwhile
    if (rollover) {
      const atRollover = await fillSegment(join(root, victim.id, 'wal'), servers, victim, descriptors);
      expectRunning(victim);
      expect(
        atRollover,
        'the new segment must be needed while descriptors are exhausted',
      ).toBeGreaterThanOrEqual(NOFILE - 2);
    }

    for (const flood of floods.splice(0)) flood.stop();
    const flooded = acks;
    await progress(10);

    // Recovered by itself: still running, caught up, and serving writes and reads again.
    expectRunning(victim);
    let caughtUp = false;
    for (let waited = 0; !caughtUp && waited < 20_000; waited += 100) {
      const [mine, theirs] = await Promise.all([status(victim), status(servers[0])]);
      caughtUp =
        mine !== null &&
        theirs !== null &&
        mine.appliedIndex >= theirs.commitIndex - 5 &&
        mine.leader.id !== '';
      if (!caughtUp) await pause(100);
    }
    expect(caughtUp).toBe(true);
    const through = await kvRequest(victim.http, 'PUT', keyPath('after-flood'), {
      body: 'yes',
      timeout: 10_000,
    });
    expect(through.status).toBe(200);

    stop = true;
    await Promise.all(writers);
    const lost: string[] = [];
    for (const [key, n] of acked) {
      const response = await kvRequest(victim.http, 'GET', keyPath(key), { timeout: 10_000 });
      const got = response.status === 200 ? Number(response.body.toString()) : -1;
      // The last acknowledged value, or a later one that was in flight when the writers stopped.
      if (!(got >= n)) lost.push(`${key}: acknowledged ${n}, read ${got}`);
    }
    expect(lost).toEqual([]);
    expectRunning(victim);
    console.log(
      `descriptor flood: peak ${peak} of ${NOFILE} descriptors, ${acks} writes acknowledged ` +
        `(${flooded} before the flood ended), ${acked.size} keys all present`,
    );
    for (const server of servers) server.child.kill('SIGTERM');
    expect(await Promise.all(servers.map((s) => s.exited))).toEqual([0, 0, 0]);
  }
}

/** The newest segment number in a WAL directory. */
function newestSegment(dir: string): number {
  const numbers = readdirSync(dir)
    .filter((name) => name.endsWith('.wal'))
    .map((name) => Number(name.slice(0, -4)));
  return Math.max(0, ...numbers);
}

/**
 * Writes values of about 1 MiB through the healthy servers (four writers) until the victim's WAL
 * (in `dir`) starts a new segment or the victim exits; returns the victim's descriptor count then.
 */
async function fillSegment(
  dir: string,
  servers: Server[],
  victim: Server,
  descriptors: () => number,
): Promise<number> {
  const first = newestSegment(dir);
  const value = Buffer.alloc(1_000_000, 'x');
  let writes = 0;
  let acknowledged = 0;
  let lastProblem = 'none';
  let seen = -1;
  const done = () => seen >= 0 || victim.child.exitCode !== null || writes > 400;
  const writer = async (w: number) => {
    while (!done()) {
      // Every attempt counts toward the bound, answered or not; what went wrong is kept for the
      // message below (seen once in a full run: 400 attempts without a rollover).
      await kvRequest(servers[w % 2].http, 'PUT', keyPath(`big-${w}`), { body: value, timeout: 5000 }).then(
        (response) => {
          if (response.status === 200) acknowledged++;
          else lastProblem = `HTTP ${response.status}`;
        },
        (err: unknown) => {
          lastProblem = String(err);
        },
      );
      writes++;
    }
  };
  // The count at the moment the new segment is seen can dip by a few (the flood reconnects a
  // closed socket after 250 ms; the rollover itself closes a file): the highest count of the last
  // 500 ms says whether descriptors were exhausted around the rollover.
  const recent: { at: number; count: number }[] = [];
  const watch = async () => {
    while (!done()) {
      const at = performance.now();
      recent.push({ at, count: descriptors() });
      while (recent[0].at < at - 500) recent.shift();
      if (newestSegment(dir) !== first) seen = Math.max(...recent.map((sample) => sample.count));
      else await pause(5);
    }
  };
  await Promise.all([watch(), ...[0, 1, 2, 3].map(writer)]);
  if (writes > 400) {
    throw new Error(
      `the WAL in ${dir} never started a new segment: ${acknowledged} of ${writes} writes acknowledged, ` +
        `the last problem: ${lastProblem}`,
    );
  }
  return seen;
}

describe('raftkit kv serve out of file descriptors', () => {
  it('survives a connection flood under a low descriptor limit, recovers by itself and loses nothing acknowledged', async () => {
    await floodScenario(false);
  }, 90_000);

  // Before the WAL kept its next segment's file open, the flooded server's WAL failed to open it
  // ("ErrStoreFailed: ... EMFILE: too many open files, open '.../wal/00000000000000000002.wal'"),
  // Raft shut down and the server exited.
  it('survives the flood when its write-ahead log must open a new segment meanwhile', async () => {
    await floodScenario(true);
  }, 120_000);
});
