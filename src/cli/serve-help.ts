/**
 * `raftkit kv serve --help`: the usage line, then every flag the parser knows with what it does and
 * its default. The defaults are read from where they live (defaultConfig for the Raft tuning
 * flags), so the text cannot drift from the code; test/cli/help.test.ts checks that every flag the
 * parser accepts is described here or in the usage.
 */
import { defaultConfig } from '../index.js';
import { SERVE_USAGE, TUNING_FLAGS } from './serve-args.js';

const TUNING_TEXT: Record<keyof typeof TUNING_FLAGS, string> = {
  '--heartbeat-timeout': 'follower timeout before it campaigns (ms)',
  '--election-timeout': 'candidate timeout (ms)',
  '--leader-lease-timeout': 'a leader without a quorum for this long steps down (ms)',
  '--commit-timeout': 'idle replication tick (ms)',
  '--snapshot-interval': 'how often to check whether a snapshot is due (ms)',
  '--snapshot-threshold': 'entries applied since the last snapshot that make one due at the interval check',
  '--snapshot-log-limit': 'entries applied since the last snapshot that make one at once (+0-100%; 0: off)',
  '--trailing-logs': 'log entries kept after a snapshot',
};

function tuningLines(): string[] {
  const defaults = defaultConfig();
  return (Object.entries(TUNING_FLAGS) as [keyof typeof TUNING_FLAGS, keyof typeof defaults][]).map(
    ([flag, field]) => `  ${flag.padEnd(24)} ${TUNING_TEXT[flag]} (default ${String(defaults[field])})`,
  );
}

export function serveHelp(): string {
  return [
    SERVE_USAGE,
    '',
    'Run one member of the replicated KV service (docs/kv-contract.md).',
    '',
    'Required:',
    '  --id ID                  this server\'s Raft ID (letters, digits, "._-")',
    '  --raft-addr HOST:PORT    where the Raft transport listens',
    '  --http-addr HOST:PORT    where the HTTP API listens (port 0: any free port)',
    '  --data-dir DIR           the data directory (created if missing)',
    'Cluster:',
    '  --advertise HOST:PORT    where other servers dial this one (default: --raft-addr)',
    '  --peers ID=HOST:PORT,... the initial voters, bootstrapped on first start and ignored once',
    '                           state exists (default: none)',
    '  --join URL               ask this running member to add this server (default: none;',
    '                           not with --peers)',
    '  --log-store wal|lmdb     the log store of a new data directory (default: wal; an existing',
    '                           directory keeps its own)',
    '  --tls-cert FILE --tls-key FILE --tls-ca FILE',
    '                           mutual TLS between the Raft servers (default: plain TCP)',
    'Raft tuning (hashicorp/raft Config fields):',
    ...tuningLines(),
    'For tests and the demo only:',
    "  --debug-routes           serve POST /debug/isolate (the demo's partition switch; default off)",
    '  --debug-stale-reads      deliberately broken: answer reads from local state (default off)',
    '  --debug-early-ack        deliberately broken: acknowledge writes before they commit (chaos; default off)',
    '  --debug-clock            run on a clock the parent process skews over IPC (chaos; default off)',
    '  --debug-disk-faults SPEC put a fault-injecting file layer under the WAL and snapshots (chaos;',
    '                           raftkit/testing fault spec, e.g. "seed=3;fsync-fail:after=100";',
    '                           more rules over IPC; wal only; default off)',
    '  --debug-ignore-fsync-failures',
    '                           deliberately broken: swallow injected fsync failures (chaos; default off)',
    '  --help, -h               print this help',
    '',
  ].join('\n');
}
