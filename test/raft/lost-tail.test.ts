/**
 * A follower whose log lost its tail while it was down (issue 11 item 4): it restarts, says so,
 * applies only what it holds, and the leader repairs it below the match index it had.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/raft/logger.js';
import { TestCluster, waitFor } from './helpers.js';

/** Records every warning, with the node that logged it. */
function warnings(): { lines: string[]; logger: Logger } {
  const lines: string[] = [];
  const quiet = () => undefined;
  const logger: Logger = {
    debug: quiet,
    info: quiet,
    error: quiet,
    warn: (_obj, msg) => lines.push(msg ?? ''),
  };
  return { lines, logger };
}

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.shutdown();
  cluster = null;
});

async function cutFollowerTail() {
  const logged = warnings();
  cluster = await new TestCluster({ logger: logged.logger }).start(['a', 'b', 'c']);
  await cluster.write(20, 'before-');
  const leader = await cluster.leader();
  const follower = cluster.nodes.find((node) => node !== leader)!;
  await waitFor(() => follower.fsm.items.length === 20 || undefined, 5000, 'the follower applies 20 writes');
  const commit = follower.raft.stats().commit_index;
  await cluster.stop(follower);
  // The newest entries vanish from its disk; its hard state (the commit index) survives.
  const last = await follower.store.lastIndex();
  await follower.store.deleteRange(last - 9, last);
  const restarted = await cluster.launch(follower.id, follower.store, follower.snapshots);
  return { logged, leader, restarted, commit: Number(commit), cutAt: last - 9 };
}

describe('a follower that lost the tail of its log', () => {
  it('starts, warns, applies only what it holds, and is repaired by the leader', async () => {
    const { logged, restarted, commit, cutAt } = await cutFollowerTail();
    expect(logged.lines).toContainEqual(
      expect.stringContaining(`log ends at ${cutAt - 1}, below the commit index ${commit}`),
    );
    expect(restarted.fsm.items).toHaveLength(10);
    await waitFor(
      () => logged.lines.find((line) => line.includes(`replica ${restarted.id} lost log entries`)),
      5000,
      "the leader's warning",
    );
    await cluster!.write(5, 'after-');
    await waitFor(
      () => restarted.fsm.items.length === 25 || undefined,
      5000,
      'the repaired follower applies',
    );
    const leader = await cluster!.leader();
    expect(restarted.fsm.items).toEqual(leader.fsm.items);
  });
});
