/**
 * The security of `raftkit kv serve` as a process (dist/cli.js): the secure-by-default refusal
 * and the --insecure warning, unusable token files, token rotation on SIGHUP, and the client
 * commands' --token-file and RAFTKIT_TOKEN.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePorts } from '../kit/helpers.js';
import { serving, useCliProcesses, type Run } from '../support/cli-process.js';
import { rawRequest } from '../support/raw-request.js';
import { waitFor } from '../support/wait.js';

const cli = useCliProcesses();
const root = mkdtempSync(join(tmpdir(), 'raftkit-serve-security-'));

function tokenFile(name: string, token: string): string {
  const path = join(root, name);
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  return path;
}

/** A one-server cluster on loopback ports, with these extra flags. */
async function single(id: string, extra: string[], env?: NodeJS.ProcessEnv) {
  const [raftPort, httpPort] = await freePorts(2);
  const raft = `127.0.0.1:${raftPort}`;
  const run = cli(
    [
      ...['kv', 'serve', '--id', id, '--raft-addr', raft, '--http-addr', `127.0.0.1:${httpPort}`],
      ...['--data-dir', join(root, id), '--peers', `${id}=${raft}`, ...extra],
    ],
    env,
  );
  return { run, url: `http://127.0.0.1:${httpPort}`, httpPort, raftPort };
}

const logLines = (run: Run) =>
  run
    .stdout()
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string; error?: string });

describe('raftkit kv serve: secure by default', () => {
  it('refuses to serve the API on a non-loopback address without a token (exit 2, naming the flags)', async () => {
    const [raftPort, httpPort] = await freePorts(2);
    const run = cli([
      ...['kv', 'serve', '--id', 'n1', '--raft-addr', `127.0.0.1:${raftPort}`],
      ...['--http-addr', `0.0.0.0:${httpPort}`, '--data-dir', join(root, 'refused')],
    ]);
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toMatch(
      /refusing to start: the HTTP API would listen on 0\.0\.0\.0:\d+, which is not loopback/,
    );
    expect(run.stderr()).toContain('--auth-token-file');
    expect(run.stderr()).toContain('--insecure');
  });

  it('starts with --insecure and says so in a warning', async () => {
    const [raftPort, httpPort] = await freePorts(2);
    const raft = `127.0.0.1:${raftPort}`;
    const run = cli([
      ...['kv', 'serve', '--id', 'w1', '--raft-addr', raft, '--http-addr', `0.0.0.0:${httpPort}`],
      ...['--data-dir', join(root, 'w1'), '--peers', `w1=${raft}`, '--insecure'],
    ]);
    await serving(run);
    const warning = logLines(run).find((line) => line.msg.startsWith('kv: --insecure:'));
    expect(warning).toMatchObject({ level: 40 });
    expect(warning!.msg).toMatch(/HTTP API would listen on 0\.0\.0\.0:\d+.*without authentication/);
    expect((await rawRequest(`http://127.0.0.1:${httpPort}`, 'GET', '/healthz')).status).toBe(200);
  });

  it('refuses an unusable token file (exit 2, naming the file)', async () => {
    const short = tokenFile('short', 'tooshort');
    const { run } = await single('t0', ['--auth-token-file', short]);
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toContain(`--auth-token-file ${short} holds a token shorter than 16 bytes`);
  });
});

describe('raftkit kv serve: tokens', () => {
  it('rotates tokens on SIGHUP and keeps the old ones when the new file is broken', async () => {
    const first = 'first-token-0123456789abcdef';
    const file = tokenFile('rotating', first);
    const { run, url } = await single('t1', ['--auth-token-file', file]);
    await serving(run);
    const status = (token?: string) =>
      rawRequest(url, 'GET', '/status', {
        headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
      }).then((res) => res.status);
    expect(await status()).toBe(401);
    expect(await status(first)).toBe(200);

    const second = 'second-token-0123456789abcdef';
    writeFileSync(file, second);
    run.child.kill('SIGHUP');
    await waitFor(
      () => run.stdout().includes('SIGHUP: token and certificate files read again'),
      10_000,
      'the reload',
    );
    expect(await status(first)).toBe(401);
    expect(await status(second)).toBe(200);

    writeFileSync(file, '');
    run.child.kill('SIGHUP');
    await waitFor(
      () => run.stdout().includes('could not reload the credential files'),
      10_000,
      'the failed reload',
    );
    expect(await status(second)).toBe(200);
    expect(run.child.exitCode).toBeNull();
  });

  it('the client commands send the token from --token-file or RAFTKIT_TOKEN', async () => {
    const token = 'client-token-0123456789abcdef';
    const file = tokenFile('client', token);
    const { run, url } = await single('t2', ['--auth-token-file', file]);
    await serving(run);
    const client = async (args: string[], env?: NodeJS.ProcessEnv) => {
      const command = cli(['kv', ...args, '--addr', url], env);
      return { code: await command.exited, stdout: command.stdout(), stderr: command.stderr() };
    };
    expect(await client(['put', 'k', 'v', '--token-file', file])).toMatchObject({ code: 0 });
    expect(await client(['get', 'k'], { RAFTKIT_TOKEN: token })).toEqual({
      code: 0,
      stdout: 'v',
      stderr: '',
    });
    const refused = await client(['get', 'k'], { RAFTKIT_TOKEN: '' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/Bearer.*\(give --token-file FILE or set RAFTKIT_TOKEN\)/);
  });
});
