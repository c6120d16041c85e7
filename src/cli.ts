#!/usr/bin/env node
/** The `raftkit` command. */
import { simCommand, UsageError } from './testing/sim-command.js';

const USAGE = `usage: raftkit <command> [options]

commands:
  sim [--seeds N | --seed S] [--nodes 3|5] [--duration MS]   run the deterministic cluster simulator
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'sim':
      return simCommand(rest);
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
