/**
 * Token and certificate files are hostile input (src/kv/credentials.ts): each problem is refused
 * with a CredentialError that names the file and says what to do.
 */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CredentialError, loadHttpsCredentials, readTokenFile } from '../../src/kv/credentials.js';
import { hasOpenssl, makeTestPki } from '../transport/certs.js';

const dir = mkdtempSync(join(tmpdir(), 'raftkit-credentials-'));
const file = (name: string, content: string, mode = 0o600) => {
  const path = join(dir, name);
  writeFileSync(path, content, { mode });
  chmodSync(path, mode);
  return path;
};

describe('readTokenFile', () => {
  it('reads one token without the surrounding whitespace', () => {
    const token = 'a'.repeat(64);
    expect(readTokenFile(file('ok', `\n  ${token}\n\n`), '--auth-token-file')).toEqual({
      token,
      warning: null,
    });
  });

  it('accepts hex and base64 tokens', () => {
    for (const token of ['0123456789abcdef0123', 'q83vEjRWeJq83vEjRWeJ+/==', 'Zm9v-YmFy_YmF6.fm9v']) {
      expect(readTokenFile(file('fine', token), 'f').token).toBe(token);
    }
  });

  const refusals: [string, string, RegExp][] = [
    ['an empty file', '', /is empty; make one with `openssl rand -hex 32/],
    ['whitespace only', ' \n\t\n', /is empty/],
    ['a token shorter than 16 bytes', '0123456789abcde', /shorter than 16 bytes/],
    ['two tokens', `${'a'.repeat(20)} ${'b'.repeat(20)}`, /one token of letters, digits/],
    ['a token with a control character', `${'a'.repeat(20)}\u0001`, /one token of letters, digits/],
    ['a token too long for a header', 'a'.repeat(1025), /longer than 1024 bytes/],
    ['a large file', 'a'.repeat(5000), /larger than 4096 bytes/],
  ];
  for (const [what, content, message] of refusals) {
    it(`refuses ${what}, naming the flag and the file`, () => {
      const path = file('bad', content);
      expect(() => readTokenFile(path, '--auth-token-file')).toThrow(CredentialError);
      expect(() => readTokenFile(path, '--auth-token-file')).toThrow(message);
      expect(() => readTokenFile(path, '--auth-token-file')).toThrow(`--auth-token-file ${path}`);
    });
  }

  it('refuses a missing file and a directory', () => {
    expect(() => readTokenFile(join(dir, 'missing'), '--admin-token-file')).toThrow(/cannot be read.*ENOENT/);
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    expect(() => readTokenFile(sub, '--admin-token-file')).toThrow(/not a regular file/);
  });

  // Root reads any file whatever its mode, so there is nothing to refuse as root.
  it.skipIf(process.getuid?.() === 0)('refuses a file it may not read', () => {
    expect(() => readTokenFile(file('secret', 'a'.repeat(32), 0o000), 'f')).toThrow(/cannot be read.*EACCES/);
  });

  it('warns when other users can read the token', () => {
    const { warning } = readTokenFile(file('shared', 'a'.repeat(32), 0o644), '--auth-token-file');
    expect(warning).toMatch(/readable by other users: chmod 600/);
  });
});

describe.skipIf(!hasOpenssl())('loadHttpsCredentials', () => {
  const pki = makeTestPki();
  const pem = (name: string) => join(pki.dir, name);
  const now = Date.now();
  afterAll(() => pki.cleanup());

  it('reads a certificate with its key and a client CA', () => {
    const loaded = loadHttpsCredentials(
      { cert: pem('node.crt'), key: pem('node.key'), ca: pem('ca-a.crt') },
      now,
    );
    expect(loaded.cert.toString()).toBe(pki.node.cert);
    expect(loaded.ca?.toString()).toBe(pki.node.ca);
    expect(loadHttpsCredentials({ cert: pem('node.crt'), key: pem('node.key') }, now).ca).toBeNull();
  });

  it('refuses a key that does not belong to the certificate', () => {
    expect(() => loadHttpsCredentials({ cert: pem('node.crt'), key: pem('rogue.key') }, now)).toThrow(
      `key ${pem('rogue.key')} does not belong to certificate ${pem('node.crt')}`,
    );
  });

  it('refuses an expired certificate', () => {
    const later = now + 10 * 24 * 3600 * 1000; // the test certificates live two days
    expect(() => loadHttpsCredentials({ cert: pem('node.crt'), key: pem('node.key') }, later)).toThrow(
      /expired on/,
    );
  });

  it('refuses files that are not PEM certificates or keys', () => {
    const junk = file('junk.pem', 'not a certificate');
    expect(() => loadHttpsCredentials({ cert: junk, key: pem('node.key') }, now)).toThrow(
      /not a PEM certificate/,
    );
    expect(() => loadHttpsCredentials({ cert: pem('node.crt'), key: junk }, now)).toThrow(
      /not a readable private key/,
    );
    expect(() => loadHttpsCredentials({ cert: pem('node.crt'), key: join(dir, 'nope') }, now)).toThrow(
      /cannot be read/,
    );
  });

  it('refuses a CA file that holds a certificate that is no CA', () => {
    expect(() =>
      loadHttpsCredentials({ cert: pem('node.crt'), key: pem('node.key'), ca: pem('node.crt') }, now),
    ).toThrow(/is not a CA certificate/);
  });
});
