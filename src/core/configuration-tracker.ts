/**
 * Tracks the configurations a server knows: the committed one and any configuration entries after
 * it in the log (hashicorp keeps only "latest"; a follower that lags can hold more than one
 * uncommitted entry, and a conflict truncation must fall back to exactly the right one).
 */
import { cloneConfiguration, emptyConfiguration, voters, type Configurations } from './configuration.js';
import { MajorityQuorum, type Quorum } from './quorum.js';
import type { Configuration } from './types.js';

interface Entry {
  index: number;
  configuration: Configuration;
}

export class ConfigurationTracker {
  private committed: Entry = { index: 0, configuration: emptyConfiguration() };
  private uncommitted: Entry[] = [];
  /** The latest configuration's quorum, built once per configuration. */
  private latestQuorum: { of: Configuration; quorum: Quorum } | null = null;

  get latest(): Configuration {
    return (this.uncommitted.at(-1) ?? this.committed).configuration;
  }

  /** Decides elections, commits, reads and check-quorum: the latest configuration rules (hashicorp). */
  get quorum(): Quorum {
    const latest = this.latest;
    if (this.latestQuorum?.of !== latest) {
      this.latestQuorum = {
        of: latest,
        quorum: new MajorityQuorum(voters(latest).map((server) => server.id)),
      };
    }
    return this.latestQuorum.quorum;
  }

  get latestIndex(): number {
    return (this.uncommitted.at(-1) ?? this.committed).index;
  }

  get committedConfiguration(): Configuration {
    return this.committed.configuration;
  }

  get committedIndex(): number {
    return this.committed.index;
  }

  /** True if a configuration entry is in the log but not yet committed. */
  get changePending(): boolean {
    return this.uncommitted.length > 0;
  }

  snapshot(): Configurations {
    return {
      committed: cloneConfiguration(this.committed.configuration),
      committedIndex: this.committed.index,
      latest: cloneConfiguration(this.latest),
      latestIndex: this.latestIndex,
    };
  }

  /** A configuration entry was appended at index. */
  append(index: number, configuration: Configuration): void {
    this.uncommitted.push({ index, configuration });
  }

  /** Entries from index on were removed by a conflict truncation. Returns true if latest changed. */
  truncateFrom(index: number): boolean {
    const before = this.uncommitted.length;
    this.uncommitted = this.uncommitted.filter((entry) => entry.index < index);
    return this.uncommitted.length !== before;
  }

  /** The commit index advanced. Returns true if the committed configuration changed. */
  commit(commitIndex: number): boolean {
    let changed = false;
    while (this.uncommitted.length > 0 && this.uncommitted[0].index <= commitIndex) {
      this.committed = this.uncommitted.shift()!;
      changed = true;
    }
    return changed;
  }

  /**
   * A snapshot replaced the log up to `keepAfter`: its configuration becomes the committed one and
   * only configuration entries after keepAfter survive.
   */
  reset(index: number, configuration: Configuration, keepAfter: number): void {
    this.committed = { index, configuration: cloneConfiguration(configuration) };
    this.uncommitted = this.uncommitted.filter((entry) => entry.index > keepAfter);
  }
}
