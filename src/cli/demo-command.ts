/** `raftkit demo [flags]`: the flags that move the demo's ports and data (tests run it on free ports). */
import { integerFlag, parseFlags, UsageError, type Command } from './command.js';
import { runDemo, type DemoOptions } from './demo.js';

export const DEMO_USAGE = `usage: raftkit demo [--port 8080] [--raft-port 7001] [--http-port 8001] [--data-dir ./data] [--fresh]
                   [--token-file FILE]
  three local KV nodes n1..n3 (raft on --raft-port.., HTTP API on --http-port..) and the dashboard on --port;
  the nodes' API needs the token in --token-file (default: DATA-DIR/api-token, made on the first start)`;

/** Room for three consecutive ports. */
const PORT = { min: 1, max: 65533, what: 'a port number (1-65533)' };

export function parseDemoArgs(argv: string[]): DemoOptions {
  const values = parseFlags(argv, {
    values: ['port', 'raft-port', 'http-port', 'data-dir', 'token-file'],
    switches: ['fresh'],
  });
  const dataDir = values['data-dir'];
  if (dataDir === '') throw new UsageError('--data-dir needs a value');
  if (values['token-file'] === '') throw new UsageError('--token-file needs a value');
  return {
    dashboardPort: integerFlag(values.port, '--port', { ...PORT, fallback: 8080 }),
    raftBasePort: integerFlag(values['raft-port'], '--raft-port', { ...PORT, fallback: 7001 }),
    httpBasePort: integerFlag(values['http-port'], '--http-port', { ...PORT, fallback: 8001 }),
    dataRoot: dataDir ?? './data',
    fresh: values.fresh ?? false,
    ...(values['token-file'] === undefined ? {} : { tokenFile: values['token-file'] }),
  };
}

/** Runs the demo until SIGINT/SIGTERM. */
export const demo: Command = {
  name: 'demo',
  usage: DEMO_USAGE,
  async run(argv, io) {
    await runDemo({ ...parseDemoArgs(argv), log: (line) => io.stdout.write(`${line}\n`) });
    return 0;
  },
};
