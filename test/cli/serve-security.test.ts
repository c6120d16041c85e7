/**
 * The secure-by-default rule (src/cli/serve-security.ts) and the security flags of `kv serve`
 * (src/cli/serve-args.ts): what is refused without --insecure, what --insecure warns about, and
 * how the new flags are checked.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/command.js';
import { parseServeArgs } from '../../src/cli/serve-args.js';
import { securityWarnings } from '../../src/cli/serve-security.js';

const dir = mkdtempSync(join(tmpdir(), 'raftkit-serve-security-'));
const token = join(dir, 'token');
writeFileSync(token, 'a'.repeat(32), { mode: 0o600 });
const pem = join(dir, 'file.pem');
writeFileSync(pem, 'checked when the server starts');

const serve = (raft: string, http: string, ...extra: string[]) => [
  ...['--id', 'n1', '--raft-addr', raft, '--http-addr', http, '--data-dir', join(dir, 'data')],
  ...extra,
];
const tls = ['--tls-cert', pem, '--tls-key', pem, '--tls-ca', pem];

function refusal(argv: string[]): string {
  try {
    parseServeArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
  throw new Error(`parsed without error: ${argv.join(' ')}`);
}

describe('secure by default', () => {
  it('needs nothing on loopback addresses (the demo, tests)', () => {
    for (const [raft, http] of [
      ['127.0.0.1:7001', '127.0.0.1:8001'],
      ['localhost:7001', 'localhost:8001'],
      ['[::1]:7001', '[::1]:8001'],
      ['127.0.0.2:7001', '127.0.0.3:8001'],
    ]) {
      const args = parseServeArgs(serve(raft, http));
      expect(securityWarnings(args)).toEqual([]);
    }
  });

  it('refuses an HTTP API on a non-loopback address without a token, naming the flags', () => {
    for (const http of ['10.0.0.1:8001', '0.0.0.0:8001', '[::]:8001']) {
      const message = refusal(serve('127.0.0.1:7001', http));
      expect(message).toMatch(/^refusing to start: the HTTP API would listen on .* without authentication/);
      expect(message).toContain('--auth-token-file');
      expect(message).toContain('--insecure');
    }
  });

  it('refuses a Raft port on a non-loopback address without TLS, naming the flags', () => {
    for (const raft of [['10.0.0.1:7001'], ['0.0.0.0:7001', '--advertise', '127.0.0.1:7001']]) {
      const message = refusal(serve(raft[0], '127.0.0.1:8001', ...raft.slice(1)));
      expect(message).toMatch(/Raft traffic on .* would be unauthenticated and unencrypted/);
      expect(message).toContain('--tls-cert');
      expect(message).toContain('--insecure');
    }
  });

  it('names both problems at once', () => {
    const message = refusal(serve('10.0.0.1:7001', '10.0.0.1:8001'));
    expect(message).toMatch(/HTTP API.*; Raft traffic/);
  });

  it('starts with a token and Raft TLS, warning only that tokens travel without HTTPS', () => {
    const args = parseServeArgs(serve('10.0.0.1:7001', '10.0.0.1:8001', '--auth-token-file', token, ...tls));
    expect(securityWarnings(args)).toEqual([
      expect.stringMatching(/tokens travel unencrypted over plain HTTP.*--http-tls-cert/),
    ]);
    const https = ['--http-tls-cert', pem, '--http-tls-key', pem];
    const sealed = parseServeArgs(
      serve('10.0.0.1:7001', '10.0.0.1:8001', '--admin-token-file', token, ...tls, ...https),
    );
    expect(securityWarnings(sealed)).toEqual([]);
  });

  it('starts with --insecure, and warns about each thing it let through', () => {
    const args = parseServeArgs(serve('10.0.0.1:7001', '10.0.0.1:8001', '--insecure'));
    expect(args.insecure).toBe(true);
    expect(securityWarnings(args)).toEqual([
      expect.stringMatching(
        /^--insecure: the HTTP API would listen on 10\.0\.0\.1:8001.*without authentication$/,
      ),
      expect.stringMatching(/^--insecure: Raft traffic on 10\.0\.0\.1:7001.*unencrypted$/),
    ]);
  });
});

describe('the security flags', () => {
  const base = serve('127.0.0.1:7001', '127.0.0.1:8001');

  it('reads the token files and HTTPS files, and publishes an https:// URL', () => {
    const args = parseServeArgs([
      ...base,
      ...['--auth-token-file', token, '--admin-token-file', token],
      ...['--http-tls-cert', pem, '--http-tls-key', pem, '--http-tls-ca', pem],
    ]);
    expect(args).toMatchObject({
      authTokenFile: token,
      adminTokenFile: token,
      httpTls: { cert: pem, key: pem, ca: pem },
      httpUrl: 'https://127.0.0.1:8001',
    });
  });

  it('publishes --http-advertise, which must match the scheme and be dialable', () => {
    expect(parseServeArgs([...base, '--http-advertise', 'http://kv1.example:8001']).httpUrl).toBe(
      'http://kv1.example:8001',
    );
    const https = ['--http-tls-cert', pem, '--http-tls-key', pem];
    expect(parseServeArgs([...base, ...https, '--http-advertise', 'https://kv1.example']).httpUrl).toBe(
      'https://kv1.example',
    );
    expect(refusal([...base, ...https, '--http-advertise', 'http://kv1.example:8001'])).toMatch(
      /must be https:\/\//,
    );
    expect(refusal([...base, '--http-advertise', 'http://0.0.0.0:8001'])).toMatch(
      /cannot dial|other servers can dial/,
    );
    expect(refusal([...base, '--http-advertise', 'http://kv1.example/path'])).toMatch(/--http-advertise/);
  });

  it('refuses incomplete or missing HTTPS files', () => {
    expect(refusal([...base, '--http-tls-cert', pem])).toMatch(/^--http-tls-key: is required/);
    expect(refusal([...base, '--http-tls-key', pem])).toMatch(/^--http-tls-cert: is required/);
    expect(refusal([...base, '--http-tls-ca', pem])).toMatch(/^--http-tls-ca: needs --http-tls-cert/);
    expect(refusal([...base, '--auth-token-file', join(dir, 'missing')])).toMatch(
      /^--auth-token-file: file .* does not exist/,
    );
  });

  it('reads the limits and refuses values out of bounds', () => {
    const args = parseServeArgs([
      ...base,
      ...['--http-max-connections', '10', '--http-headers-timeout', '2000', '--http-request-timeout', '5000'],
      ...['--http-max-body-bytes', '4096', '--join-timeout', '5000'],
    ]);
    expect(args).toMatchObject({
      httpLimits: { maxConnections: 10, headersTimeout: 2000, requestTimeout: 5000 },
      maxBodyBytes: 4096,
      joinTimeout: 5000,
    });
    for (const [flag, value] of [
      ['--http-max-connections', '0'],
      ['--http-headers-timeout', '10'],
      ['--http-request-timeout', 'soon'],
      ['--http-max-body-bytes', String(64 * 1024 * 1024)],
      ['--join-timeout', '-1'],
    ]) {
      expect(refusal([...base, flag, value])).toContain(flag);
    }
    expect(refusal([...base, '--http-headers-timeout', '5000', '--http-request-timeout', '1000'])).toMatch(
      /--http-request-timeout: must be at least --http-headers-timeout/,
    );
  });
});
