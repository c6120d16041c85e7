/** `raftkit demo [flags]`: the flags that move the demo's ports and data (tests run it on free ports). */
import { parseArgs } from 'node:util';
import { runDemo, type DemoOptions } from './demo.js';

export const DEMO_USAGE = `usage: raftkit demo [--port 8080] [--raft-port 7001] [--http-port 8001] [--data-dir ./data] [--fresh]
  three local KV nodes n1..n3 (raft on --raft-port.., HTTP API on --http-port..) and the dashboard on --port`;

export class DemoUsageError extends Error {
  override name = 'DemoUsageError';
}

function port(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  // Room for three consecutive ports.
  if (!Number.isSafeInteger(value) || value < 1 || value > 65533) {
    throw new DemoUsageError(`${flag} must be a port number (1-65533), got "${text}"`);
  }
  return value;
}

export function parseDemoArgs(argv: string[]): DemoOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        'raft-port': { type: 'string' },
        'http-port': { type: 'string' },
        'data-dir': { type: 'string' },
        fresh: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (error) {
    throw new DemoUsageError((error as Error).message);
  }
  const dataDir = values['data-dir'];
  if (dataDir === '') throw new DemoUsageError('--data-dir needs a value');
  return {
    dashboardPort: port(values.port, '--port', 8080),
    raftBasePort: port(values['raft-port'], '--raft-port', 7001),
    httpBasePort: port(values['http-port'], '--http-port', 8001),
    dataRoot: dataDir ?? './data',
    fresh: values.fresh ?? false,
  };
}

/** Runs the demo until SIGINT/SIGTERM; exit code 2 for bad flags. */
export async function demoCommand(
  argv: string[],
  stderr: { write(text: string): unknown } = process.stderr,
): Promise<number> {
  let options: DemoOptions;
  try {
    options = parseDemoArgs(argv);
  } catch (error) {
    if (!(error instanceof DemoUsageError)) throw error;
    stderr.write(`raftkit demo: ${error.message}\n${DEMO_USAGE}\n`);
    return 2;
  }
  await runDemo(options);
  return 0;
}
