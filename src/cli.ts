#!/usr/bin/env node
/** The `raftkit` command. */
import { chaosCommand } from './kv/chaos-command.js';
import { runKvClient } from './kv/client.js';
import { demoCommand } from './kv/demo-command.js';
import { runKvServe } from './kv/serve.js';
import { simCommand, UsageError } from './testing/sim-command.js';

const USAGE = `usage: raftkit <command> [options]

commands:
  demo [--port 8080] [--fresh]                                three local KV nodes and the live dashboard
  kv serve --id ID --raft-addr HOST:PORT --http-addr HOST:PORT --data-dir DIR [--peers ...] [--join URL]
                                                              run one member of the replicated KV service
  kv put KEY [VALUE] | get KEY | del KEY | status [--addr URL] talk to the KV service
  sim [--seeds N] [--seed S] [--nodes 3|5] [--duration MS] [--break FAULT]
                                         run the deterministic cluster simulator (--break: a deliberately
                                         broken core, to watch the checker catch it)
  chaos [--nodes 3|5] [--duration S] [--seed N] [--faults kill,pause,isolate,crash] [--break stale-reads]
                                         real kv serve processes under faults, history checked for
                                         linearizability
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'sim':
      return simCommand(rest);
    case 'demo':
      return demoCommand(rest);
    case 'chaos':
      return chaosCommand(rest);
    case 'kv':
      if (rest[0] === 'serve') return runKvServe(rest.slice(1));
      return runKvClient(rest, {
        stdout: process.stdout,
        stderr: process.stderr,
        stdin: process.stdin,
        env: process.env,
      });
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: Error) => {
    process.stderr.write(`raftkit: ${error.message}\n`);
    process.exitCode = error instanceof UsageError || error.name === 'TypeError' ? 2 : 1;
  },
);
