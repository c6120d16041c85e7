/** The `raftkit` dispatcher (src/cli/main.ts): picking the command and reporting a wrong command line. */
import { describe, expect, it } from 'vitest';
import { CHAOS_USAGE } from '../../src/cli/chaos-command.js';
import { DEMO_USAGE } from '../../src/cli/demo-command.js';
import { KV_CLIENT_USAGE } from '../../src/cli/kv-client.js';
import { USAGE } from '../../src/cli/main.js';
import { SERVE_USAGE } from '../../src/cli/serve-args.js';
import { SIM_USAGE } from '../../src/cli/sim.js';
import { runToText } from './cli-io.js';

const cli = runToText;

describe('raftkit', () => {
  it('prints its usage for help (exit 0) and when given nothing (exit 2)', async () => {
    expect(await cli(['--help'])).toEqual({ code: 0, stdout: USAGE, stderr: '' });
    expect(await cli([])).toEqual({ code: 2, stdout: USAGE, stderr: '' });
  });

  it('refuses an unknown command with exit code 2', async () => {
    const result = await cli(['frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`unknown command "frobnicate"\n${USAGE}`);
    expect((await cli(['constructor'])).code).toBe(2);
  });

  it.each([
    ['sim', ['sim', '--nodes', '4'], '--nodes must be 3 or 5', SIM_USAGE],
    ['sim', ['sim', '--bogus'], "Unknown option '--bogus'", SIM_USAGE],
    ['demo', ['demo', '--port', '0'], '--port must be a port number (1-65533), got "0"', DEMO_USAGE],
    ['chaos', ['chaos', '--nodes', '4'], '--nodes must be 3 or 5', CHAOS_USAGE],
    ['kv', ['kv', 'get'], 'wrong number of arguments for get', KV_CLIENT_USAGE],
    ['kv serve', ['kv', 'serve', '--id', 'n1'], '--raft-addr: is required', SERVE_USAGE],
  ])('reports a wrong %s command line with its usage and exit code 2', async (name, argv, problem, usage) => {
    const result = await cli(argv);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`raftkit ${name}: ${problem}`);
    expect(result.stderr.endsWith(`\n${usage}\n`)).toBe(true);
  });
});
