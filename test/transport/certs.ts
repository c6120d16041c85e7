/**
 * Test certificates made with the openssl command line at test time (node:crypto cannot sign
 * X.509 in Node 20): two independent CAs and leaf certificates usable as server and client.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pem {
  cert: string;
  key: string;
  ca: string;
}

export interface TestPki {
  /** Signed by CA "a", SAN IP:127.0.0.1 and DNS:localhost. */
  node: Pem;
  /** Signed by CA "a", SAN DNS:elsewhere.example only (fails the hostname check on 127.0.0.1). */
  wrongName: Pem;
  /** Signed by CA "b", SAN IP:127.0.0.1, with CA "a" as its trust anchor (trusts our servers). */
  rogue: Pem;
  /** Signed by CA "a", SAN IP:127.0.0.1, DNS:localhost and URI:raftkit://server/n1: bound to server n1. */
  n1: Pem;
  /** Like n1, bound to server n2. */
  n2: Pem;
  dir: string;
  cleanup(): void;
}

export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** `openssl req` arguments for a fresh P-256 key without a passphrase, written to the next argument. */
const NEW_EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout'];

function makeCa(dir: string, name: string): void {
  openssl(dir, [
    'req',
    '-x509',
    ...NEW_EC_KEY,
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-subj',
    `/CN=raftkit test ${name}`,
  ]);
}

function makeLeaf(dir: string, name: string, ca: string, san: string): void {
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\n`);
  openssl(dir, ['req', ...NEW_EC_KEY, `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  ]);
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'raftkit-pki-'));
  makeCa(dir, 'ca-a');
  makeCa(dir, 'ca-b');
  makeLeaf(dir, 'node', 'ca-a', 'IP:127.0.0.1,DNS:localhost');
  makeLeaf(dir, 'wrong-name', 'ca-a', 'DNS:elsewhere.example');
  makeLeaf(dir, 'rogue', 'ca-b', 'IP:127.0.0.1');
  for (const id of ['n1', 'n2'])
    makeLeaf(dir, id, 'ca-a', `IP:127.0.0.1,DNS:localhost,URI:raftkit://server/${id}`);
  const read = (file: string) => readFileSync(join(dir, file), 'utf8');
  const caA = read('ca-a.crt');
  return {
    node: { cert: read('node.crt'), key: read('node.key'), ca: caA },
    wrongName: { cert: read('wrong-name.crt'), key: read('wrong-name.key'), ca: caA },
    rogue: { cert: read('rogue.crt'), key: read('rogue.key'), ca: caA },
    n1: { cert: read('n1.crt'), key: read('n1.key'), ca: caA },
    n2: { cert: read('n2.crt'), key: read('n2.key'), ca: caA },
    dir,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
