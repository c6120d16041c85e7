/** Drives RaftCore directly in tests: no runtime, messages delivered by hand. */
import type { Random } from '../../src/core/clock.js';
import { RaftCore, type CoreFaults } from '../../src/core/raft.js';
import type { OutboundRequest, Ready } from '../../src/core/ready.js';
import {
  LogType,
  ServerSuffrage,
  type Configuration,
  type LogEntry,
  type RaftRequest,
  type RaftResponse,
} from '../../src/core/types.js';
import { SeededRandom } from '../../src/testing/prng.js';
import { decodeConfiguration, encodeConfiguration } from '../../src/wire/configuration.js';

export const codec = { encode: encodeConfiguration, decode: decodeConfiguration };

export function configurationOf(ids: string[], nonvoters: string[] = []): Configuration {
  return {
    servers: [
      ...ids.map((id) => ({ id, address: `addr-${id}`, suffrage: ServerSuffrage.Voter })),
      ...nonvoters.map((id) => ({ id, address: `addr-${id}`, suffrage: ServerSuffrage.Nonvoter })),
    ],
  };
}

export interface TestCoreOptions {
  preVote?: boolean;
  faults?: CoreFaults;
  /** Log entries (index, term) after the bootstrap configuration entry at index 1. */
  terms?: number[];
  term?: number;
  commit?: number;
  /** Default: a SeededRandom with a fixed seed. */
  random?: Random;
  maxAppendEntries?: number;
  catchUpTimeout?: number;
}

/**
 * A core bootstrapped with `configuration` as entry 1 (term 1, committed), or with no state at all
 * when `configuration` is null (a server that waits to be added to a cluster).
 */
export function makeCore(
  id: string,
  configuration: Configuration | null,
  options: TestCoreOptions = {},
): RaftCore {
  const core = newCore(id, options);
  const bootstrapped = configuration !== null;
  core.restore({
    now: 0,
    hardState: {
      term: options.term ?? (bootstrapped ? 1 : 0),
      vote: null,
      commit: options.commit ?? (bootstrapped ? 1 : 0),
    },
    snapshot: null,
  });
  if (bootstrapped) loadLogEntries(core, initialLog(configuration, options.terms));
  core.start();
  return core;
}

/** A core with the test timings and nothing loaded yet (restore, loadLog and start it). */
export function newCore(id: string, options: TestCoreOptions = {}): RaftCore {
  return new RaftCore({
    id,
    address: `addr-${id}`,
    heartbeatTimeout: 100,
    electionTimeout: 100,
    commitTimeout: 10,
    leaderLeaseTimeout: 50,
    maxAppendEntries: options.maxAppendEntries ?? 64,
    maxInflightAppends: 2,
    preVote: options.preVote ?? false,
    maxClockDrift: 0.1,
    catchUpTimeout: options.catchUpTimeout ?? 1000,
    random: options.random ?? new SeededRandom(7),
    codec,
    faults: options.faults,
  });
}

/** Loads stored entries into a core the way Raft.create does: their terms and the configurations. */
export function loadLogEntries(core: RaftCore, entries: readonly LogEntry[]): void {
  if (entries.length === 0) return;
  core.loadLog(
    entries[0].index,
    entries.map((entry) => entry.term),
    entries.filter((entry) => entry.type === LogType.Configuration),
  );
}

/** The log makeCore loads: the configuration at index 1 (term 1), then one entry per given term. */
export function initialLog(configuration: Configuration, terms: number[] = []): LogEntry[] {
  const entries: LogEntry[] = [entry(1, 1, LogType.Configuration, encodeConfiguration(configuration))];
  terms.forEach((term, i) => entries.push(entry(i + 2, term)));
  return entries;
}

export function entry(
  index: number,
  term: number,
  type = LogType.Command,
  data: Uint8Array = new Uint8Array([index & 0xff]),
): LogEntry {
  return { index, term, type, data, extensions: new Uint8Array(0), appendedAt: 0 };
}

/** Takes the Ready and acknowledges its write at once (a disk with no latency). */
export function drain(core: RaftCore): Ready {
  const ready = core.ready();
  if (ready.write) core.persisted(ready.write.seq);
  return ready;
}

let rpcIds = 1;

/** Delivers a request to a core and returns its response (after draining). */
export function deliver(
  core: RaftCore,
  request: RaftRequest,
): { response: RaftResponse; after: number; ready: Ready } {
  const rpcId = rpcIds++;
  core.step({ rpcId, request });
  const ready = core.ready();
  const out = ready.responses.find((r) => r.rpcId === rpcId);
  if (!out) throw new Error('no response');
  if (ready.write) core.persisted(ready.write.seq);
  return { response: out.response, after: out.after, ready };
}

export function requestsOf<K extends RaftRequest['kind']>(ready: Ready, kind: K): OutboundRequest[] {
  return ready.requests.filter((r) => r.request.kind === kind);
}

/**
 * Moves the core's clock past the vote-refusing quiet period after start, without firing timers
 * (as if no timer had come due yet), for tests of the plain voting rules.
 */
export function afterStartupQuiet(core: RaftCore): RaftCore {
  core.now = core.options.electionTimeout;
  return core;
}
