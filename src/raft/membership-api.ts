/**
 * The membership API's runtime half: a change (add a voter or non-voter, remove, demote) is handed
 * to the core, which queues it behind the pending one, catches a new server up and appends the
 * configuration entry; the caller waits under the change's token until that entry commits. A live
 * bootstrap waits for its write to be durable; a leadership transfer waits under TRANSFER.
 */
import type { ConfigurationChange } from '../core/configuration.js';
import { ErrApplyTimeout, ErrEnqueueTimeout } from '../core/errors.js';
import type { RaftCore } from '../core/raft.js';
import { ServerSuffrage, type Configuration, type Peer } from '../core/types.js';
import {
  checked,
  refuseWait,
  requireConfiguration,
  requireCount,
  requireName,
  requireWaitOptions,
} from './arguments.js';
import type { ApplyOptions, ChangeTimeout } from './options.js';
import { TRANSFER, type Waits } from './pending.js';

/** What membership changes need of the runtime (the Driver is one). */
export interface MembershipHost {
  command<T>(start: (core: RaftCore) => number, wait: (key: number) => Promise<T>): Promise<T>;
  run<T>(fn: (core: RaftCore) => T): T;
  readonly stopped: boolean;
  readonly waits: Pick<Waits, 'membership' | 'durable' | 'transfer'>;
}

export class MembershipApi {
  constructor(private readonly host: MembershipHost) {}

  /** Resolves with the index of the change's configuration entry once it is committed. */
  change(change: ConfigurationChange, timeout: ChangeTimeout): Promise<number> {
    const { host } = this;
    const options = typeof timeout === 'number' ? { timeout } : timeout;
    const onExpire = (token: number) => (error: Error) => {
      // Cancelling a change that is catching up appends the removal of its non-voter.
      if (!host.stopped) host.run((core) => core.cancelConfigurationChange(token));
      return error instanceof ErrApplyTimeout ? new ErrEnqueueTimeout() : error;
    };
    return checked(
      () => {
        requireName('id', change.id);
        if (change.command.startsWith('add')) requireName('address', change.address);
        requireCount('prevIndex', change.prevIndex);
        requireWaitOptions(options);
      },
      () =>
        refuseWait(options) ??
        host.command(
          (core) => core.changeConfiguration(change),
          (token) => host.waits.membership.wait(token, options, { onExpire: onExpire(token) }),
        ),
    );
  }

  /** A live bootstrap: resolves once the configuration's write is durable. */
  bootstrap(configuration: Configuration, options: ApplyOptions): Promise<void> {
    const { host } = this;
    return (
      refuseWait(options) ??
      host.command(
        (core) => core.bootstrap(requireConfiguration('configuration', configuration)),
        (seq) => host.waits.durable.wait(seq, options),
      )
    );
  }

  /** Transfers leadership to `target`, or (null) to the most up-to-date voter. */
  transfer(target: Peer | null): Promise<void> {
    const { host } = this;
    const server = target && { id: target.id, address: target.address, suffrage: ServerSuffrage.Voter };
    return host.command(
      (core) => (core.transferLeadership(server), TRANSFER),
      () => host.waits.transfer.wait(TRANSFER),
    );
  }

  /** hashicorp's LeadershipTransferToServer, its arguments checked. */
  transferTo(id: string, address: string): Promise<void> {
    return checked(
      () => (requireName('id', id), requireName('address', address)),
      () => this.transfer({ id, address }),
    );
  }
}
