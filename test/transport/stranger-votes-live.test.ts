/**
 * Issue 11, item 1, against a live 3-node cluster (real NetworkTransports, the real runtime): the
 * forged RequestVote of the issue — hashicorp 1.1.2's header (no server ID), a candidate address
 * that is not in the configuration, the leadership-transfer flag — at Term 2^53-1 is refused by
 * the wire (connection closed), and at term + 1000 reaches the core and changes nothing: every
 * node keeps its term, its role and its leader, and the cluster keeps committing. On the main of
 * before this fix the second frame made the receiver adopt term + 1000 and forced an election.
 */
import type { Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrLeadershipLost, ErrNotLeader } from '../../src/core/errors.js';
import { RaftState } from '../../src/core/types.js';
import { decodeResponse, encodeRequest } from '../../src/wire/codec.js';
import { Decoder } from '../../src/wire/decoder.js';
import { Encoder } from '../../src/wire/encoder.js';
import { vote112 } from '../support/forged-frames.js';
import { waitForAsync } from '../support/wait.js';
import { leaderOf, startCluster, stopCluster, type ClusterNode } from './cluster-node.js';
import { collect, rawClient, waitFor } from './helpers.js';

let nodes: ClusterNode[] = [];
afterAll(async () => {
  await stopCluster(nodes);
});

/** Sends one frame on its own connection and returns everything the node sent back before closing. */
async function send(address: string, frame: Uint8Array): Promise<Buffer> {
  const socket: Socket = await rawClient(address);
  socket.on('error', () => {});
  const reply = collect(socket);
  socket.write(frame);
  // The node answers (or closes); then we hang up.
  await waitFor(() => socket.destroyed || socket.bytesRead > 0 || null, 10_000).catch(() => undefined);
  socket.end();
  return reply;
}

function preVoteFrame(term: number): Uint8Array {
  const enc = new Encoder();
  encodeRequest(enc, {
    kind: 'requestPreVote',
    term,
    candidate: { id: 'intruder', address: '10.66.0.1:7000' },
    lastLogIndex: 2 ** 48 - 1,
    lastLogTerm: term - 1,
  });
  return enc.finish();
}

describe('a forged vote from outside the configuration (issue 11.1)', () => {
  it('changes no term, role or leader on a live cluster, and the cluster keeps committing', async () => {
    nodes = await startCluster(3);
    await waitFor(() => leaderOf(nodes), 10_000);
    const before = nodes.map((n) => ({ term: n.raft!.currentTerm(), state: n.raft!.state }));

    for (const node of nodes) {
      const term = node.raft!.currentTerm();
      // Beyond the wire's bound: closed without a reply.
      const huge = await send(
        node.address,
        vote112({ term: 2 ** 53 - 1, candidate: '10.66.0.1:7000', leadershipTransfer: true }),
      );
      expect(huge.length).toBe(0);
      // Within it: an ordinary request, refused at the node's own term.
      const forged = [
        [
          'requestVote',
          vote112({
            term: term + 1000,
            candidate: '10.66.0.1:7000',
            lastLogIndex: 2 ** 48 - 1,
            lastLogTerm: term + 999,
            leadershipTransfer: true,
          }),
        ],
        ['requestPreVote', preVoteFrame(term + 1000)],
      ] as const;
      for (const [kind, frame] of forged) {
        const reply = await send(node.address, frame);
        const decoded = decodeResponse(new Decoder(), reply, 0, kind);
        expect(decoded?.error).toBe('');
        // Refused at the node's own term (an election of its own may have moved it by one or two
        // under load; the forged term + 1000 never).
        expect(decoded?.response).toMatchObject({ granted: false });
        expect(decoded!.response!.term).toBeLessThan(term + 1000);
        expect(decoded!.response!.term).toBe(node.raft!.currentTerm());
      }
    }

    // No forged term was adopted anywhere, and the cluster still commits. (check-quorum with the
    // short test lease may make a loaded leader step down: terms then move by one election, not
    // by a thousand.)
    for (const [i, node] of nodes.entries()) {
      expect(node.raft!.state).not.toBe(RaftState.Shutdown);
      expect(node.raft!.currentTerm()).toBeLessThan(before[i].term + 100);
    }
    // A loaded leader may also step down during this apply: a lost leadership is retried on the
    // next leader, any other error fails the test.
    await waitForAsync(
      async () => {
        const now = leaderOf(nodes);
        if (!now) return false;
        try {
          await now.raft!.apply(new TextEncoder().encode('put after forged votes'), { timeout: 5000 });
          return true;
        } catch (err) {
          if (err instanceof ErrLeadershipLost || err instanceof ErrNotLeader) return false;
          throw err;
        }
      },
      30_000,
      'a commit after the forged votes',
    );
  }, 60_000);
});
