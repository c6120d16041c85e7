/** The `raftkit` command: picks the subcommand, runs it, and reports a wrong command line. */
import { readFileSync } from 'node:fs';
import { chaos } from './chaos-command.js';
import { EXIT_OK, EXIT_USAGE, UsageError, type CliIo, type Command } from './command.js';
import { demo } from './demo-command.js';
import { kvClient } from './kv-client.js';
import { kvServe } from './serve.js';
import { sim } from './sim.js';

export const USAGE = `usage: raftkit <command> [options]
       raftkit --version | --help | <command> --help

commands:
  demo [--port 8080] [--fresh]                                three local KV nodes and the live dashboard
  kv serve --id ID --raft-addr HOST:PORT --http-addr HOST:PORT --data-dir DIR [--peers ...] [--join URL]
           [--auth-token-file FILE] [--admin-token-file FILE] [--http-tls-cert FILE --http-tls-key FILE]
                                                              run one member of the replicated KV service
  kv put KEY [VALUE] | get KEY | del KEY | status | range PREFIX | watch PREFIX | lock NAME -- CMD
     [--addr URL[,URL...]] [--token-file FILE]                talk to the KV service (raftkit/client)
  <command> --help                                            the command's flags
  sim [--seeds N] [--seed S] [--nodes 3|5] [--duration MS] [--break FAULT]
                                         run the deterministic cluster simulator (--break: a deliberately
                                         broken core, to watch the checker catch it)
  chaos [--nodes 3|5] [--duration S] [--seed N] [--faults kill,pause,isolate,crash] [--break stale-reads]
                                         real kv serve processes under faults, history checked for
                                         linearizability
`;

const COMMANDS: Record<string, Command> = { demo, sim, chaos, kv: kvClient };

const HELP_FLAGS = ['--help', '-h'];

/** The package's version, from the package.json beside src/ or dist/. */
export function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

/** Runs `raftkit <argv...>`; resolves with the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || HELP_FLAGS.includes(name)) {
    io.stdout.write(USAGE);
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === '--version' || name === 'version') {
    io.stdout.write(`raftkit ${packageVersion()}\n`);
    return EXIT_OK;
  }
  const serve = name === 'kv' && rest[0] === 'serve';
  const command = serve ? kvServe : Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    io.stderr.write(`unknown command "${name}"\n${USAGE}`);
    return EXIT_USAGE;
  }
  const args = serve ? rest.slice(1) : rest;
  // Arguments after "--" are values, never flags.
  const end = args.indexOf('--');
  if ((end < 0 ? args : args.slice(0, end)).some((arg) => HELP_FLAGS.includes(arg))) {
    io.stdout.write(`${command.help?.() ?? command.usage}\n`);
    return EXIT_OK;
  }
  try {
    return await command.run(args, io);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`raftkit ${command.name}: ${error.message}\n${command.usage}\n`);
    return EXIT_USAGE;
  }
}
