/**
 * The simulated network: every RPC and every response travels as a scheduled event with a random
 * latency, and may be dropped, duplicated or delayed out of order; links can be cut in one
 * direction or both. A lost message simply never arrives: the sender's transport times out.
 */
import { Readable } from 'node:stream';
import type { RaftRequest, RaftResponse, ServerAddress } from '../core/types.js';
import type { InmemNetworkLike, InmemTransport } from '../transport/inmem.js';
import type { SeededRandom } from './prng.js';
import type { Scheduler } from './scheduler.js';

/** How badly the simulated network behaves; change `SimNetwork.faults` at any time. */
export interface NetworkFaults {
  /** Probability that a message (request or response) is lost. */
  loss: number;
  /** Probability that a request is delivered twice. */
  duplicate: number;
  /** Probability that a message gets a long extra delay (reordering). */
  reorder: number;
  /** Shortest one-way delay, in virtual ms. */
  minLatency: number;
  /** Longest one-way delay (before any reordering delay), in virtual ms. */
  maxLatency: number;
  /**
   * Probability that a snapshot stream (InstallSnapshot's data) is cut mid-transfer: it ends early
   * (the receiver finds a short read) or breaks with an error; either way the install fails.
   */
  snapshotCut?: number;
}

/** No loss, duplication or reordering; 1-5 ms latency. */
export const calmNetwork = (): NetworkFaults => ({
  loss: 0,
  duplicate: 0,
  reorder: 0,
  minLatency: 1,
  maxLatency: 5,
});

/** One directed link's faults. */
interface Link {
  /** Drops everything on it. */
  cut: boolean;
  /** Extra one-way latency, in virtual ms. */
  slowMs: number;
  /** Not cut (the guard of a message in flight on it). */
  readonly open: () => boolean;
}

/**
 * The simulator's network for InmemTransports: each message is a scheduled event with a random
 * latency and may be lost, duplicated or reordered per `faults`; links can be cut.
 */
export class SimNetwork implements InmemNetworkLike {
  /** The faults in force now. */
  faults: NetworkFaults = calmNetwork();
  private readonly transports = new Map<ServerAddress, InmemTransport>();
  /** One record per directed link, made once: a message looks its link up without a key string. */
  private readonly links = new Map<ServerAddress, Map<ServerAddress, Link>>();
  /** The links cut or slowed now (heal resets them). */
  private readonly faulty = new Set<Link>();
  private cutCount = 0;
  /** Messages sent so far (requests and responses). */
  messages = 0;
  /** Snapshot streams cut mid-transfer so far (NetworkFaults.snapshotCut). */
  snapshotsCut = 0;
  /**
   * The request as the server at `to` reads it, or the error it answers with instead: where
   * servers of other implementations speak their own dialect (see sim-peers.ts).
   */
  arriving?: (from: ServerAddress, to: ServerAddress, request: RaftRequest) => RaftRequest | Error;
  /** Sees each response as it leaves the server at `from` (before the network can lose it). */
  onResponse?: (from: ServerAddress, request: RaftRequest, response: RaftResponse) => void;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly random: SeededRandom,
  ) {}

  register(transport: InmemTransport): void {
    this.transports.set(transport.localAddr(), transport);
  }

  unregister(transport: InmemTransport): void {
    if (this.transports.get(transport.localAddr()) === transport)
      this.transports.delete(transport.localAddr());
  }

  /** Drops everything from `from` to `to` (one direction) until heal. */
  cutLink(from: ServerAddress, to: ServerAddress): void {
    const link = this.link(from, to);
    if (!link.cut) this.cutCount++;
    link.cut = true;
    this.faulty.add(link);
  }

  /** Adds `ms` of latency to everything from `from` to `to` (one direction) until heal. */
  slowLink(from: ServerAddress, to: ServerAddress, ms: number): void {
    const link = this.link(from, to);
    link.slowMs = ms;
    this.faulty.add(link);
  }

  /** Splits the addresses into groups that cannot talk to each other. */
  partition(groups: ServerAddress[][]): void {
    for (const group of groups) {
      for (const other of groups) {
        if (other === group) continue;
        for (const a of group) for (const b of other) this.cutLink(a, b);
      }
    }
  }

  /** Restores every link. */
  heal(): void {
    for (const link of this.faulty) {
      link.cut = false;
      link.slowMs = 0;
    }
    this.faulty.clear();
    this.cutCount = 0;
  }

  /** How many directed links are cut now. */
  get cutLinks(): number {
    return this.cutCount;
  }

  deliver(
    sender: InmemTransport,
    to: ServerAddress,
    request: RaftRequest,
    data?: Readable,
  ): Promise<RaftResponse> {
    const from = sender.localAddr();
    if (data !== undefined && this.random.chance(this.faults.snapshotCut ?? 0)) {
      this.snapshotsCut++;
      data = cutStream(data, this.random.int(0, 2), this.random.chance(0.5));
    }
    return new Promise<RaftResponse>((resolve, reject) => {
      const copies = data === undefined && this.random.chance(this.faults.duplicate) ? 2 : 1;
      for (let copy = 0; copy < copies; copy++) {
        this.travel(from, to, () => {
          const target = this.transports.get(to);
          // A sender that crashed since sending is gone; so is a target that is down.
          if (!target || this.transports.get(from) !== sender) return;
          const arrived = this.arriving ? this.arriving(from, to, request) : request;
          if (arrived instanceof Error) return this.travel(to, from, () => reject(arrived));
          target.receive(arrived, data).then(
            (response) => {
              this.onResponse?.(to, request, response);
              this.travel(to, from, () => resolve(response));
            },
            (error: Error) => this.travel(to, from, () => reject(error)),
          );
        });
      }
    });
  }

  /** A request from outside the simulated servers (a hostile or broken peer), handed to `to` at once. */
  inject(to: ServerAddress, request: RaftRequest): Promise<RaftResponse> {
    const target = this.transports.get(to);
    return target ? target.receive(request) : Promise.reject(new Error(`${to} is down`));
  }

  /** Schedules one hop unless the link is cut or the message is lost. */
  private travel(from: ServerAddress, to: ServerAddress, arrive: () => void): void {
    this.messages++;
    const faults = this.faults;
    const link = this.link(from, to);
    if (link.cut || this.random.chance(faults.loss)) return;
    let latency = this.random.int(faults.minLatency, faults.maxLatency + 1);
    if (this.random.chance(faults.reorder))
      latency += this.random.int(faults.maxLatency, faults.maxLatency * 10 + 1);
    // A link cut while the message is on it loses the message.
    this.scheduler.after(latency + link.slowMs, arrive, link.open);
  }

  private link(from: ServerAddress, to: ServerAddress): Link {
    let outgoing = this.links.get(from);
    if (!outgoing) this.links.set(from, (outgoing = new Map()));
    let link = outgoing.get(to);
    if (!link) {
      const made: Link = { cut: false, slowMs: 0, open: () => !made.cut };
      outgoing.set(to, (link = made));
    }
    return link;
  }
}

/** `data` cut after `keep` chunks: it ends there, or (`broken`) fails as a dropped connection does. */
function cutStream(data: Readable, keep: number, broken: boolean): Readable {
  const cut = Readable.from(
    (async function* () {
      let sent = 0;
      for await (const chunk of data) {
        if (sent++ === keep) break;
        yield chunk as Uint8Array;
      }
      if (broken) throw new Error('snapshot stream cut mid-transfer');
    })(),
    { objectMode: false },
  );
  // As the real transport's intake stream: the reader sees the error; one drained unread must not throw.
  cut.on('error', () => {});
  return cut;
}
