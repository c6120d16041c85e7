/**
 * The simulated network: every RPC and every response travels as a scheduled event with a random
 * latency, and may be dropped, duplicated or delayed out of order; links can be cut in one
 * direction or both. A lost message simply never arrives: the sender's transport times out.
 */
import type { Readable } from 'node:stream';
import type { RaftRequest, RaftResponse, ServerAddress } from '../core/types.js';
import type { InmemNetworkLike, InmemTransport } from '../transport/inmem.js';
import type { SeededRandom } from './prng.js';
import type { Scheduler } from './scheduler.js';

export interface NetworkFaults {
  /** Probability that a message (request or response) is lost. */
  loss: number;
  /** Probability that a request is delivered twice. */
  duplicate: number;
  /** Probability that a message gets a long extra delay (reordering). */
  reorder: number;
  minLatency: number;
  maxLatency: number;
}

export const calmNetwork = (): NetworkFaults => ({
  loss: 0,
  duplicate: 0,
  reorder: 0,
  minLatency: 1,
  maxLatency: 5,
});

export class SimNetwork implements InmemNetworkLike {
  faults: NetworkFaults = calmNetwork();
  private readonly transports = new Map<ServerAddress, InmemTransport>();
  /** Directed links that drop everything: "from|to". */
  private readonly cut = new Set<string>();
  messages = 0;

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

  cutLink(from: ServerAddress, to: ServerAddress): void {
    this.cut.add(`${from}|${to}`);
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

  heal(): void {
    this.cut.clear();
  }

  get cutLinks(): number {
    return this.cut.size;
  }

  deliver(
    sender: InmemTransport,
    to: ServerAddress,
    request: RaftRequest,
    data?: Readable,
  ): Promise<RaftResponse> {
    const from = sender.localAddr();
    return new Promise<RaftResponse>((resolve, reject) => {
      const copies = data === undefined && this.random.chance(this.faults.duplicate) ? 2 : 1;
      for (let copy = 0; copy < copies; copy++) {
        this.travel(from, to, () => {
          const target = this.transports.get(to);
          // A sender that crashed since sending is gone; so is a target that is down.
          if (!target || this.transports.get(from) !== sender) return;
          target.receive(request, data).then(
            (response) => this.travel(to, from, () => resolve(response)),
            (error: Error) => this.travel(to, from, () => reject(error)),
          );
        });
      }
    });
  }

  /** Schedules one hop unless the link is cut or the message is lost. */
  private travel(from: ServerAddress, to: ServerAddress, arrive: () => void): void {
    this.messages++;
    const faults = this.faults;
    if (this.cut.has(`${from}|${to}`) || this.random.chance(faults.loss)) return;
    let latency = this.random.int(faults.minLatency, faults.maxLatency + 1);
    if (this.random.chance(faults.reorder))
      latency += this.random.int(faults.maxLatency, faults.maxLatency * 10 + 1);
    this.scheduler.after(latency, () => {
      if (!this.cut.has(`${from}|${to}`)) arrive();
    });
  }
}
