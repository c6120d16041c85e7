/** `raftkit --version` and `--help` on every level (issue 15 part 9). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { USAGE } from '../../src/cli/main.js';
import { SERVE_FLAGS, TUNING_FLAGS } from '../../src/cli/serve-args.js';
import { defaultConfig } from '../../src/raft/config.js';
import { runToText } from './cli-io.js';

const cli = runToText;

const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

describe('raftkit --version and --help', () => {
  it('--version prints the package version, exit 0', async () => {
    expect(await cli(['--version'])).toEqual({ code: 0, stdout: `raftkit ${version}\n`, stderr: '' });
  });

  it.each([[['--help']], [['-h']], [['help']]])('%j prints the usage, exit 0', async (argv) => {
    expect(await cli(argv)).toEqual({ code: 0, stdout: USAGE, stderr: '' });
  });

  it('kv --help describes the client commands and every flag with its default, exit 0', async () => {
    const { code, stdout, stderr } = await cli(['kv', '--help']);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    for (const flag of ['--addr', '--prev', '--stale'])
      expect(stdout).toMatch(new RegExp(`^  ${flag} .*`, 'm'));
    expect(stdout).toContain('default $RAFTKIT_ADDR, else http://127.0.0.1:8001');
    expect(stdout).toContain('kv serve --help');
  });

  it('kv serve --help describes every flag the parser accepts, with the defaults in force, exit 0', async () => {
    const { code, stdout, stderr } = await cli(['kv', 'serve', '--help']);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    // Past the synopsis (its lines start with "usage:" or are indented 7 spaces): the part that
    // says what each flag does.
    const lines = stdout.split('\n');
    const synopsis = lines.findIndex((line) => !line.startsWith('usage:') && !line.startsWith('       '));
    const descriptions = lines.slice(synopsis).join('\n');
    const described = (flag: string) => new RegExp(`${flag}(?![\\w-])`).test(descriptions);
    const missing = SERVE_FLAGS.filter((flag) => !described(flag));
    expect(missing).toEqual([]);
    const defaults = defaultConfig();
    for (const [flag, field] of Object.entries(TUNING_FLAGS)) {
      expect(stdout).toMatch(new RegExp(`${flag} .*\\(default ${defaults[field]}\\)`));
    }
  });

  it('--help after a command wins over its other arguments (nothing runs)', async () => {
    const result = await cli(['kv', 'serve', '--id', 'n1', '-h']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('--raft-addr HOST:PORT');
    for (const name of ['sim', 'demo', 'chaos']) {
      const help = await cli([name, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`usage: raftkit ${name}`);
    }
  });
});
