/**
 * A server learns of its removal (the 'removed' event, on which the runtime shuts down with
 * `shutdownOnRemove`) when a configuration without it commits and is not followed by one that adds
 * it back. A leader decides at once; a follower waits an election timeout, because the leader
 * announces only the commit index the follower's log is proven to hold: a follower restarting
 * behind a removal and a re-add of its ID (an addVoter whose catch-up failed removes the new
 * server; a retry adds it back) saw the removal commit first and stopped there, at every restart
 * (simulator soak seeds 5200 and 14536 left the re-added server down for good).
 */
import { describe, expect, it } from 'vitest';
import type { RaftCore } from '../../src/core/raft.js';
import type { CoreEvent } from '../../src/core/ready.js';
import { LogType, type AppendEntriesRequest, type LogEntry } from '../../src/core/types.js';
import { codec, configurationOf, deliver, drain, entry, makeCore } from './harness.js';

function configurationEntry(index: number, ids: string[]): LogEntry {
  return entry(index, 1, LogType.Configuration, codec.encode(configurationOf(ids)));
}

/** Every entry here is of term 1, so prevLogTerm is 1 whatever prevLogIndex is. */
function append(entries: LogEntry[], leaderCommitIndex: number, prevLogIndex = 1): AppendEntriesRequest {
  return {
    kind: 'appendEntries',
    term: 1,
    leader: { id: 'a', address: 'addr-a' },
    prevLogIndex,
    prevLogTerm: 1,
    entries,
    leaderCommitIndex,
  };
}

function types(events: CoreEvent[]): CoreEvent['type'][] {
  return events.map((event) => event.type);
}

/** The events of delivering `request` and of the Ready after it. */
function eventsOf(core: RaftCore, request: AppendEntriesRequest): CoreEvent['type'][] {
  const { ready } = deliver(core, request);
  return types([...ready.events, ...drain(core).events]);
}

/** The events of a tick `ms` later. */
function tickBy(core: RaftCore, ms: number): CoreEvent['type'][] {
  core.tick(core.now + ms);
  return types(drain(core).events);
}

describe("a follower's removal", () => {
  it('is learnt an election timeout after a configuration without it commits, when nothing adds it back', () => {
    const core = makeCore('n', configurationOf(['a', 'b', 'n']));
    expect(eventsOf(core, append([configurationEntry(2, ['a', 'b'])], 2))).not.toContain('removed');
    expect(tickBy(core, core.options.electionTimeout / 2)).not.toContain('removed');
    expect(tickBy(core, core.options.electionTimeout / 2)).toContain('removed');
    expect(tickBy(core, core.options.electionTimeout)).not.toContain('removed'); // once
  });

  it('is not learnt when a later entry of its log adds it back', () => {
    const core = makeCore('n', configurationOf(['a', 'b', 'n']));
    const removal = configurationEntry(2, ['a', 'b']);
    const readd = configurationEntry(3, ['a', 'b', 'n']);
    expect(eventsOf(core, append([removal, readd], 2))).not.toContain('removed');
    expect(tickBy(core, core.options.electionTimeout)).not.toContain('removed');
    expect(eventsOf(core, append([], 3, 3))).not.toContain('removed');
    expect(tickBy(core, core.options.electionTimeout)).not.toContain('removed');
  });

  it('is not learnt when the re-add arrives after the removal committed (a restart behind both)', () => {
    // The leader announces commit 2 with the removal alone (all this request proves), then sends
    // the re-add it committed long ago.
    const core = makeCore('n', configurationOf(['a', 'b', 'n']));
    expect(eventsOf(core, append([configurationEntry(2, ['a', 'b'])], 2))).not.toContain('removed');
    expect(tickBy(core, core.options.electionTimeout / 4)).not.toContain('removed');
    expect(eventsOf(core, append([configurationEntry(3, ['a', 'b', 'n'])], 3, 2))).not.toContain('removed');
    expect(tickBy(core, 2 * core.options.electionTimeout)).not.toContain('removed');
  });
});
