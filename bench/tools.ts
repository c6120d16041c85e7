/**
 * The programs `npm run bench` drives besides raftkit: the Go load generator (bench/loadgen, built
 * offline into bench/bin/), the Go hashicorp/raft KV node (test/interop/install.sh builds it) and
 * etcd 3.4 from Debian's etcd-server (apt-get installed when absent and we are root).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GONODE_BIN, INSTALL_SCRIPT } from '../test/interop/harness.js';

/** The repository root (this file compiles to dist-bench/bench/). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LOADGEN_SOURCE = join(ROOT, 'bench', 'loadgen');
export const LOADGEN_BIN = join(ROOT, 'bench', 'bin', 'loadgen');
export const ETCD_BIN = '/usr/bin/etcd';

function newestSource(dir: string): number {
  return Math.max(...readdirSync(dir).map((name) => statSync(join(dir, name)).mtimeMs));
}

/** Builds bench/bin/loadgen when missing or older than its sources (standard library only, offline). */
export function buildLoadgen(): void {
  if (existsSync(LOADGEN_BIN) && statSync(LOADGEN_BIN).mtimeMs >= newestSource(LOADGEN_SOURCE)) return;
  mkdirSync(join(ROOT, 'bench', 'bin'), { recursive: true });
  const temporary = `${LOADGEN_BIN}.tmp.${process.pid}`;
  execFileSync('go', ['build', '-o', temporary, '.'], {
    cwd: LOADGEN_SOURCE,
    stdio: 'inherit',
    env: {
      ...process.env,
      GO111MODULE: 'off',
      GOPROXY: 'off',
      GOFLAGS: '',
      // A cache that works without HOME (CI containers), as test/interop/install.sh does.
      GOCACHE:
        process.env.GOCACHE ??
        join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? '/tmp', '.cache'), 'go-build'),
    },
  });
  renameSync(temporary, LOADGEN_BIN);
}

/** Installs Go and hashicorp/raft from Debian if needed and builds the Go KV node. */
export function buildGoNode(): string {
  execFileSync('sh', [INSTALL_SCRIPT], { stdio: 'inherit' });
  return GONODE_BIN;
}

/** Installs etcd-server from Debian's archive when /usr/bin/etcd is missing. */
export function ensureEtcd(): void {
  if (existsSync(ETCD_BIN)) return;
  if (process.getuid?.() !== 0)
    throw new Error(`${ETCD_BIN} is missing: apt-get install etcd-server (as root)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'etcd-server'], {
    stdio: 'inherit',
    env,
  });
}

/** First line a command prints, or '?' when it fails (versions for RESULTS.md). */
export function firstLine(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')[0]
      .trim();
  } catch {
    return '?';
  }
}

/** Runs a program to completion and parses the one JSON object it prints on stdout. */
export function runJson<T>(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
    running.add(child.pid!);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      running.delete(child.pid!);
      if (code !== 0)
        return reject(new Error(`${file} ${args.join(' ')} exited ${code ?? signal}:\n${stderr}`));
      try {
        resolve(JSON.parse(stdout) as T);
      } catch {
        reject(new Error(`${file} printed no JSON:\n${stdout}\n${stderr}`));
      }
    });
  });
}

/** Children started by runJson that are still running; killChildren() ends them (Ctrl-C, errors). */
const running = new Set<number>();

export function killChildren(): void {
  for (const pid of running) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  running.clear();
}
