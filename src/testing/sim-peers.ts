/**
 * The kinds of server a simulated cluster mixes: raftkit's own, and servers that behave as other
 * conforming implementations do, for raftkit must stay correct next to any of them (real clusters
 * mix implementations and versions during upgrades).
 */
import { ErrUnexpectedCommand } from '../core/errors.js';
import type { CoreFaults } from '../core/raft.js';
import type { Peer, RaftRequest, ServerAddress } from '../core/types.js';
import type { Config } from '../raft/config.js';

/**
 * How a simulated server behaves: `raftkit`; `hashicorp` or `etcd` lead as those do (see
 * CoreFaults.emulateLeader); `hashicorp-legacy` is a hashicorp/raft server older than 1.3.7 and
 * 1.7: it leads as hashicorp does, its RPC headers carry its address only (no server ID), it never
 * pre-votes and it refuses RequestPreVote as an unexpected command.
 */
export type LeaderKind = 'raftkit' | 'hashicorp' | 'etcd' | 'hashicorp-legacy';

/** Every server kind the simulator can emulate. */
export const LEADER_KINDS: readonly LeaderKind[] = ['raftkit', 'hashicorp', 'etcd', 'hashicorp-legacy'];

/** The configuration a server of `kind` runs with, over the simulation's own. */
export function kindConfig(kind: LeaderKind): Partial<Config> {
  return kind === 'hashicorp-legacy' ? { preVoteDisabled: true } : {};
}

/** The core switches a server of `kind` runs with, over the simulation's planted bugs. */
export function kindFaults(kind: LeaderKind, faults: CoreFaults | undefined): CoreFaults | undefined {
  if (kind === 'raftkit') return faults;
  return { ...faults, emulateLeader: kind === 'hashicorp-legacy' ? 'hashicorp' : kind };
}

/**
 * A request as it reaches `to` from `from`, or the error `to` answers with instead, given the
 * kind of each end (`kindOf` an address; undefined for an unknown address).
 */
export function arriving(
  kindOf: (address: ServerAddress) => LeaderKind | undefined,
  from: ServerAddress,
  to: ServerAddress,
  request: RaftRequest,
): RaftRequest | Error {
  if (kindOf(to) === 'hashicorp-legacy' && request.kind === 'requestPreVote')
    return new ErrUnexpectedCommand('RequestPreVote');
  if (kindOf(from) !== 'hashicorp-legacy') return request;
  const addressOnly = (peer: Peer): Peer => ({ id: '', address: peer.address });
  switch (request.kind) {
    case 'appendEntries':
    case 'installSnapshot':
      return { ...request, leader: addressOnly(request.leader) };
    case 'requestVote':
      return { ...request, candidate: addressOnly(request.candidate) };
    case 'timeoutNow':
      return { ...request, from: addressOnly(request.from) };
    default:
      // ReadIndex is raftkit's own RPC: a legacy server never sends one with a raftkit header.
      return request;
  }
}
