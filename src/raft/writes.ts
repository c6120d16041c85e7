/**
 * The write path's entry (hashicorp's Apply, ApplyLog and Barrier): the arguments are checked,
 * the entry is proposed to the core through the drive loop, and the caller waits under the
 * entry's log index, tagged with the term it was proposed in (an entry a later leader overwrote
 * fails with ErrLeadershipLost: driver.ts onApplied).
 */
import type { Clock } from '../core/clock.js';
import type { RaftCore } from '../core/raft.js';
import { LogType } from '../core/types.js';
import type { Transport } from '../transport/types.js';
import { requireEntryFits } from './append-frames.js';
import { checked, refuseWait, requireBytes } from './arguments.js';
import type { MetricsSink } from './metrics.js';
import type { ApplyOptions, ApplyResult } from './options.js';
import type { Waits } from './pending.js';

const EMPTY = new Uint8Array(0);

/** What proposing needs of the runtime (the Driver is one). */
export interface WriteHost {
  command<T>(start: (core: RaftCore) => number, wait: (key: number) => Promise<T>): Promise<T>;
  readonly core: { readonly term: number };
  readonly waits: Pick<Waits, 'applies'>;
  readonly metrics: MetricsSink;
}

export class Writes {
  constructor(
    private readonly host: WriteHost,
    private readonly clock: Clock,
    private readonly transport: Pick<Transport, 'maxFrameBytes'>,
  ) {}

  apply(data: Uint8Array, options: ApplyOptions): Promise<ApplyResult> {
    return checked(
      () => requireBytes('data', data),
      () => this.propose(LogType.Command, data, EMPTY, options),
    );
  }

  applyLog(log: { data: Uint8Array; extensions?: Uint8Array }, options: ApplyOptions): Promise<ApplyResult> {
    return checked(
      () => {
        if (typeof log !== 'object' || log === null) throw new TypeError('log must be an object with data');
        requireBytes('log.data', log.data);
        if (log.extensions !== undefined) requireBytes('log.extensions', log.extensions);
      },
      () => this.propose(LogType.Command, log.data, log.extensions ?? EMPTY, options),
    );
  }

  async barrier(options: ApplyOptions): Promise<number> {
    return (await this.propose(LogType.Barrier, EMPTY, EMPTY, options)).index;
  }

  private propose(
    type: LogType,
    data: Uint8Array,
    extensions: Uint8Array,
    options: ApplyOptions,
  ): Promise<ApplyResult> {
    const refused = refuseWait(options);
    if (refused) return refused;
    try {
      // Refused before anything is written: no follower would ever accept it.
      requireEntryFits({ data, extensions }, this.transport.maxFrameBytes);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const { host } = this;
    return host.command(
      (core) => {
        const [index] = core.propose([{ type, data, extensions, appendedAt: this.clock.wallTime() }]);
        host.metrics.incrCounter(type === LogType.Barrier ? 'raft.barrier' : 'raft.apply', 1);
        return index;
      },
      (index) => host.waits.applies.wait(index, options, { tag: host.core.term }),
    );
  }
}
