/**
 * A leader that sends no ID (hashicorp/raft before 1.3.7 sends only its address) is named by ID as
 * soon as a configuration lists its address, even when the first AppendEntries arrived before any
 * configuration (a server joining a cluster led by a Go 1.1.2 node).
 */
import { describe, expect, it } from 'vitest';
import { LogType } from '../../src/core/types.js';
import { encodeConfiguration } from '../../src/wire/configuration.js';
import { configurationOf, deliver, entry, makeCore } from './harness.js';

const byAddressOnly = { id: '', address: 'addr-a' };

describe('a leader known by address only', () => {
  it('gets its ID from the configuration that arrives after its first AppendEntries', () => {
    const core = makeCore('d', null);
    const heartbeat = {
      kind: 'appendEntries',
      term: 2,
      leader: byAddressOnly,
      prevLogIndex: 0,
      prevLogTerm: 0,
    };
    deliver(core, { ...heartbeat, entries: [], leaderCommitIndex: 0 } as never);
    expect(core.leader).toEqual(byAddressOnly);
    const configuration = entry(
      1,
      1,
      LogType.Configuration,
      encodeConfiguration(configurationOf(['a', 'b', 'c'], ['d'])),
    );
    const { ready } = deliver(core, {
      ...heartbeat,
      entries: [configuration],
      leaderCommitIndex: 1,
    } as never);
    expect(core.leader).toEqual({ id: 'a', address: 'addr-a' });
    expect(ready.events).toContainEqual({ type: 'leader', leader: { id: 'a', address: 'addr-a' } });
    // Later heartbeats without the ID keep it.
    deliver(core, {
      ...heartbeat,
      prevLogIndex: 1,
      prevLogTerm: 1,
      entries: [],
      leaderCommitIndex: 1,
    } as never);
    expect(core.leader).toEqual({ id: 'a', address: 'addr-a' });
  });

  it('stays known by address while no configuration names it', () => {
    const core = makeCore('d', null);
    const config = entry(
      1,
      1,
      LogType.Configuration,
      encodeConfiguration(configurationOf(['b', 'c'], ['d'])),
    );
    deliver(core, {
      kind: 'appendEntries',
      term: 2,
      leader: byAddressOnly,
      prevLogIndex: 0,
      prevLogTerm: 0,
      entries: [config],
      leaderCommitIndex: 1,
    });
    expect(core.leader).toEqual(byAddressOnly);
  });
});
