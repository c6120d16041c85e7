/**
 * The cluster of a `raftkit chaos` run: real `kv serve` processes on loopback whose membership
 * changes during the run. It owns the processes, the HTTP requests to them (every answer, or why
 * none came), the network switches (`/debug/isolate`), membership changes through the service's
 * own routes, and the end-of-run comparison of every member's key space.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, type Clock } from '../index.js';
import type { StatusBody } from '../kv/contract.js';
import { freePorts } from './free-ports.js';
import {
  childProcessLauncher,
  demoNodeSpecs,
  type ChildNodeProcess,
  type DemoNodeSpec,
} from './node-processes.js';

/** An answer, or why none came: `refused` never reached a server; `unknown` may have. */
export type Outcome =
  { status: number; body: string; headers: Headers } | { error: 'refused' | 'unknown'; why: string };

/** One server of the run. */
export interface ChaosMember {
  readonly spec: DemoNodeSpec;
  readonly process: ChildNodeProcess;
}

export interface ChaosClusterOptions {
  root: string;
  nodes: number;
  /** More `kv serve` flags for every server (tuning, --log-store, test-only switches). */
  extraServeArgs: readonly string[];
  cliPath: string;
  clock: Clock;
  requestTimeoutMs: number;
}

/** A request's extras: a body and headers. */
export interface RequestInit {
  body?: string;
  headers?: Record<string, string>;
  /** Follow the service's 307 to the leader (default true). */
  follow?: boolean;
}

const READY_TIMEOUT_MS = 30_000;
/** How long a membership change may take to show in the configuration. */
export const JOIN_TIMEOUT_MS = 20_000;
/** How long a restarted server may take to answer again (a loaded machine starts Node slowly). */
export const RESTART_TIMEOUT_MS = 30_000;
/** The service refuses JSON bodies without their media type (browser safety). */
export const JSON_HEADERS = { 'Content-Type': 'application/json' };
const POLL_MS = 100;
/** How long a member may stay a non-voter before the harness asks for its join again. */
const JOIN_RETRY_MS = 5_000;
/** How long a removal is asked again while the cluster has no leader. */
const REMOVE_RETRY_MS = 10_000;

export class ChaosCluster {
  /** The servers meant to be in the configuration (joining ones included), in start order. */
  readonly members: ChaosMember[];
  private readonly launch: (spec: DemoNodeSpec) => ChildNodeProcess;
  private nextId: number;

  private constructor(
    private readonly options: ChaosClusterOptions,
    specs: DemoNodeSpec[],
  ) {
    this.launch = childProcessLauncher(options.cliPath, options.clock);
    this.members = specs.map((spec) => ({ spec, process: this.launch(spec) }));
    this.nextId = specs.length + 1;
  }

  static async create(options: ChaosClusterOptions): Promise<ChaosCluster> {
    const ports = await freePorts(2 * options.nodes);
    const specs = demoNodeSpecs({
      nodes: options.nodes,
      raftPorts: ports.slice(0, options.nodes),
      httpPorts: ports.slice(options.nodes),
      dataRoot: options.root,
      extraServeArgs: options.extraServeArgs,
    });
    return new ChaosCluster(options, specs);
  }

  startAll(): void {
    for (const member of this.members) member.process.start();
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.members.map((member) => member.process.stop()));
  }

  byId(id: string): ChaosMember | undefined {
    return this.members.find((member) => member.spec.id === id);
  }

  /** One HTTP request with the run's timeout; never throws. */
  async request(member: ChaosMember, method: string, path: string, init: RequestInit = {}): Promise<Outcome> {
    const controller = new AbortController();
    const timer = this.options.clock.setTimer(this.options.requestTimeoutMs, () => controller.abort());
    try {
      const response = await fetch(`${member.spec.httpUrl}${path}`, {
        method,
        body: init.body,
        headers: init.headers,
        redirect: init.follow === false ? 'manual' : 'follow',
        signal: controller.signal,
      });
      return { status: response.status, body: await response.text(), headers: response.headers };
    } catch (error) {
      const cause = (error as Error).cause as (NodeJS.ErrnoException & { port?: number }) | undefined;
      // Refused on the first hop: nothing reached a server. After a redirect it may have.
      return cause?.code === 'ECONNREFUSED' && cause.port === portOf(member.spec.httpUrl)
        ? { error: 'refused', why: 'connection refused' }
        : { error: 'unknown', why: cause?.code ?? (error as Error).name };
    } finally {
      timer.cancel();
    }
  }

  async status(member: ChaosMember): Promise<StatusBody | null> {
    const outcome = await this.request(member, 'GET', '/status');
    if (!('status' in outcome) || outcome.status !== 200) return null;
    try {
      return JSON.parse(outcome.body) as StatusBody;
    } catch {
      return null;
    }
  }

  /** The member that some running member names as leader, or null. */
  async leader(): Promise<ChaosMember | null> {
    for (const member of this.members) {
      if (!member.process.running) continue;
      const status = await this.status(member);
      const leader = status?.leader.id === undefined ? undefined : this.byId(status.leader.id);
      if (leader !== undefined) return leader;
    }
    return null;
  }

  /** The leader's configuration (member IDs), or null when no leader answers. */
  async configuration(): Promise<string[] | null> {
    return (await this.servers())?.map((server) => server.id) ?? null;
  }

  /** The leader's configuration with each member's suffrage, or null when no leader answers. */
  async servers(): Promise<StatusBody['configuration'] | null> {
    const leader = await this.leader();
    const status = leader === null ? null : await this.status(leader);
    if (status === null || status.state !== 'Leader') return null;
    return status.configuration;
  }

  /**
   * Sets each member's blocked peers (symmetric lists are the caller's business); members missing
   * from `blocked` are healed.
   */
  async network(blocked: ReadonlyMap<string, readonly string[]>): Promise<void> {
    await Promise.all(
      this.members.map((member) => {
        const peers = blocked.get(member.spec.id) ?? [];
        const body = JSON.stringify(peers.length === 0 ? { heal: true } : { peers });
        return this.request(member, 'POST', '/debug/isolate', { body, headers: JSON_HEADERS, follow: false });
      }),
    );
  }

  /** Resolves with the index of a write through some member once one succeeds (the cluster serves). */
  async untilServing(what: string): Promise<number> {
    const deadline = this.options.clock.now() + READY_TIMEOUT_MS;
    for (let n = 0; ; n++) {
      const member = this.members[n % this.members.length];
      const outcome = await this.request(member, 'PUT', '/kv/chaos-ready', { body: `${n}` });
      if ('status' in outcome && outcome.status === 200)
        return (JSON.parse(outcome.body) as { index: number }).index;
      if (this.members.every((each) => !each.process.running)) {
        const why = this.members.map((each) => `${each.spec.id}: ${each.process.lastExit}`).join(', ');
        throw new Error(`chaos: every server exited (${why}); logs in ${this.options.root}/n*.log`);
      }
      if (this.options.clock.now() > deadline)
        throw new Error(`chaos: the cluster did not serve ${what} within 30 s`);
      await sleep(this.options.clock, POLL_MS);
    }
  }

  /**
   * Removes `victim` from the configuration (asked of any running member; followers redirect) and
   * stops its process. Resolves false, changing nothing, when the configuration still holds it.
   */
  async remove(victim: ChaosMember): Promise<{ removed: boolean; answer: string }> {
    // Through the first member that takes the request (one still starting refuses it); while no
    // leader is known (503) or nobody listens, ask again for a while, as an operator would.
    const deadline = this.options.clock.now() + REMOVE_RETRY_MS;
    let outcome: Outcome = { error: 'refused', why: 'no other member runs' };
    const retry = () => ('error' in outcome ? outcome.error === 'refused' : outcome.status === 503);
    do {
      for (const via of this.members.filter((member) => member !== victim && member.process.running)) {
        outcome = await this.request(via, 'DELETE', `/cluster/${victim.spec.id}`);
        if (!('error' in outcome && outcome.error === 'refused')) break;
      }
      if (!retry()) break;
      await sleep(this.options.clock, 5 * POLL_MS);
    } while (this.options.clock.now() < deadline);
    const answer = 'status' in outcome ? `${outcome.status}` : outcome.error;
    if (!('status' in outcome) || outcome.status !== 200) {
      // Unknown or refused: trust only the configuration, once it had time to settle. A removal
      // that timed out (504) may still commit seconds later; a run that took it for "still a
      // member" kept a removed server running and never replaced it.
      if (!(await this.untilRemoved(victim.spec.id, REMOVE_RETRY_MS))) return { removed: false, answer };
    }
    await victim.process.stop();
    this.members.splice(this.members.indexOf(victim), 1);
    return { removed: true, answer };
  }

  /**
   * Starts a server that joins through `--join` with an empty data directory: `like`'s ID, ports
   * and directory (wiped) to re-add a removed member, or a new ID and new ports to replace one.
   */
  async join(like: ChaosMember | null): Promise<ChaosMember> {
    const via = this.members.find((member) => member.process.running) ?? this.members[0];
    let spec: DemoNodeSpec;
    if (like !== null) {
      rmSync(like.spec.dataDir, { recursive: true, force: true });
      spec = joiningSpec(like.spec, via.spec.httpUrl);
    } else {
      const [raftPort, httpPort] = await freePorts(2);
      const [fresh] = demoNodeSpecs({
        nodes: 1,
        raftPorts: [raftPort],
        httpPorts: [httpPort],
        dataRoot: this.options.root,
        extraServeArgs: this.options.extraServeArgs,
      });
      const id = `n${this.nextId++}`;
      spec = joiningSpec(
        {
          ...fresh,
          id,
          dataDir: join(this.options.root, id),
          serveArgs: fresh.serveArgs.map((arg, i, all) =>
            all[i - 1] === '--id' ? id : all[i - 1] === '--data-dir' ? join(this.options.root, id) : arg,
          ),
        },
        via.spec.httpUrl,
      );
    }
    const member = { spec, process: this.launch(spec) };
    this.members.push(member);
    member.process.start();
    return member;
  }

  /** Waits until `member` answers `GET /healthz` (false after `timeoutMs`, or once its process is gone). */
  async untilUp(member: ChaosMember, timeoutMs: number): Promise<boolean> {
    const deadline = this.options.clock.now() + timeoutMs;
    while (this.options.clock.now() < deadline && member.process.running) {
      const outcome = await this.request(member, 'GET', '/healthz', { follow: false });
      if ('status' in outcome && outcome.status === 200) return true;
      await sleep(this.options.clock, POLL_MS);
    }
    return false;
  }

  /** Whether a leader's configuration stops naming `id` within `timeoutMs`. */
  private async untilRemoved(id: string, timeoutMs: number): Promise<boolean> {
    const deadline = this.options.clock.now() + timeoutMs;
    do {
      const configuration = await this.configuration();
      if (configuration !== null && !configuration.includes(id)) return true;
      await sleep(this.options.clock, 4 * POLL_MS);
    } while (this.options.clock.now() < deadline);
    return false;
  }

  /**
   * Waits until the configuration lists `member` as a voter (false after `timeoutMs`). A join adds
   * a non-voter and promotes it once caught up; a joiner killed in between comes back with state,
   * and `kv serve` ignores `--join` then, so it would stay a non-voter for the rest of the run,
   * and the cluster would run with one voter fewer than the harness counts (chaos seed 1 lost its
   * quorum that way once a voter's disk was damaged). As an operator would, the join is asked
   * again every few seconds while the member is listed as a non-voter; the service carries a
   * retried join on where it stopped.
   */
  async untilVoter(member: ChaosMember, timeoutMs: number): Promise<boolean> {
    const { clock } = this.options;
    const deadline = clock.now() + timeoutMs;
    let askAt = clock.now() + JOIN_RETRY_MS;
    const body = JSON.stringify({
      id: member.spec.id,
      address: member.spec.raftAddr,
      http: member.spec.httpUrl,
      voter: true,
    });
    while (clock.now() < deadline) {
      const listed = (await this.servers())?.find((server) => server.id === member.spec.id);
      if (listed?.suffrage === 'Voter') return true;
      const via = this.members.find((other) => other !== member && other.process.running);
      if (listed !== undefined && via !== undefined && clock.now() >= askAt) {
        askAt = clock.now() + JOIN_RETRY_MS;
        await this.request(via, 'POST', '/cluster/join', { body, headers: JSON_HEADERS });
      }
      await sleep(clock, 4 * POLL_MS);
    }
    return false;
  }

  /**
   * Every configured member's whole key space once it has applied `index` (read with `?stale`, so
   * it is that member's own state): the states must agree. Resolves with each member's keys and
   * values, or throws when a member does not catch up within 30 s.
   */
  async keySpaces(index: number, keys: readonly string[]): Promise<Map<string, Map<string, string | null>>> {
    const configuration = (await this.configuration()) ?? this.members.map((member) => member.spec.id);
    const spaces = new Map<string, Map<string, string | null>>();
    for (const id of configuration) {
      const member = this.byId(id);
      if (member === undefined)
        throw new Error(`chaos: the configuration lists ${id}, which this run never started`);
      const deadline = this.options.clock.now() + READY_TIMEOUT_MS;
      while (((await this.status(member))?.appliedIndex ?? -1) < index) {
        if (this.options.clock.now() > deadline)
          throw new Error(`chaos: ${id} did not apply index ${index} within 30 s`);
        await sleep(this.options.clock, POLL_MS);
      }
      const space = new Map<string, string | null>();
      for (const key of keys) {
        const outcome = await this.request(member, 'GET', `/kv/${key}?stale`, { follow: false });
        if (!('status' in outcome) || (outcome.status !== 200 && outcome.status !== 404)) {
          throw new Error(`chaos: ${id} did not answer a stale read of ${key}`);
        }
        space.set(key, outcome.status === 200 ? outcome.body : null);
      }
      spaces.set(id, space);
    }
    return spaces;
  }
}

/** `spec` started with `--join URL` instead of `--peers`. */
function joiningSpec(spec: DemoNodeSpec, joinUrl: string): DemoNodeSpec {
  const args = [...spec.serveArgs];
  const at = args.indexOf('--peers');
  if (at >= 0) args.splice(at, 2, '--join', joinUrl);
  else args.splice(args.indexOf('--join'), 2, '--join', joinUrl);
  return { ...spec, serveArgs: args };
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}
