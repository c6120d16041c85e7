/** raftkit KV servers (`raftkit kv serve`) as child processes, beside the Go peers. */
import { join } from 'node:path';
import { createNode, INTEROP_DIR, ServerNode, type GoNodeTuning, type ServerNodeOptions } from './harness.js';

const CLI = join(INTEROP_DIR, '..', '..', 'dist', 'cli.js');

const TUNING_FLAGS: Record<keyof GoNodeTuning, string> = {
  heartbeatTimeoutMs: '--heartbeat-timeout',
  electionTimeoutMs: '--election-timeout',
  leaderLeaseTimeoutMs: '--leader-lease-timeout',
  commitTimeoutMs: '--commit-timeout',
  snapshotIntervalMs: '--snapshot-interval',
  snapshotThreshold: '--snapshot-threshold',
  trailingLogs: '--trailing-logs',
};

/** Timings matching the Go peer's test defaults, so mixed clusters behave alike. */
export const TS_TEST_TUNING: GoNodeTuning = {
  heartbeatTimeoutMs: 300,
  electionTimeoutMs: 300,
  leaderLeaseTimeoutMs: 150,
  commitTimeoutMs: 20,
};

export class TsNode extends ServerNode {
  protected command(): { file: string; args: string[] } {
    const args = [CLI, 'kv', 'serve', '--id', this.id, '--raft-addr', this.raftAddress];
    args.push('--http-addr', this.httpAddress, '--data-dir', this.dataDir);
    if (this.options.peers?.length) {
      args.push('--peers', this.options.peers.map((peer) => `${peer.id}=${peer.address}`).join(','));
    }
    const tuning = { ...TS_TEST_TUNING, ...this.options };
    for (const [option, flag] of Object.entries(TUNING_FLAGS) as [keyof GoNodeTuning, string][]) {
      const value = tuning[option];
      if (value !== undefined) args.push(flag, String(value));
    }
    return { file: process.execPath, args };
  }
}

export function createTsNode(options: ServerNodeOptions): Promise<TsNode> {
  return createNode(options, 'tsnode', (...args) => new TsNode(...args));
}
