/**
 * lmdb is an optional peer dependency with a native addon: an application that never chooses LMDB
 * must not load it, and one that chooses it without the package installed gets a typed error that
 * says what to install. Each case runs the built package (dist/, which `npm test` builds first) in a
 * child process, importing 'raftkit' the way a user does.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePorts } from '../kit/helpers.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');

interface Outcome {
  files: string[];
  error: { name: string; message: string } | null;
  lmdbObjects: string[];
}

let root: string;
let probe: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'raftkit-lmdb-optional-'));
  probe = join(root, 'lmdb-imports.txt');
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

/** Opens and closes one RaftNode in a child process; `hideLmdb` makes lmdb look uninstalled. */
async function openNode(logStore: 'wal' | 'lmdb' | 'default', hideLmdb: boolean): Promise<Outcome> {
  const addrs = (await freePorts(3)).map((port) => `127.0.0.1:${port}`);
  const preload = hideLmdb ? ['--import', join(FIXTURES, 'hide-lmdb.mjs')] : [];
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...preload, join(FIXTURES, 'open-node.mjs'), logStore, join(root, 'node'), ...addrs],
    { env: { ...process.env, RAFTKIT_LMDB_PROBE: probe }, timeout: 30_000 },
  );
  return JSON.parse(stdout) as Outcome;
}

function lmdbImports(): string {
  try {
    return readFileSync(probe, 'utf8');
  } catch {
    return '';
  }
}

describe('lmdb is optional', () => {
  it('a WAL-backed RaftNode never asks for lmdb nor loads its addon', async () => {
    const outcome = await openNode('default', true);
    expect(outcome.error).toBeNull();
    expect(outcome.files).toContain('wal');
    expect(outcome.files).not.toContain('raft.lmdb');
    expect(lmdbImports()).toBe('');
    expect(outcome.lmdbObjects).toEqual([]);
  });

  it("logStore: 'lmdb' loads lmdb and opens the store when it is installed", async () => {
    const outcome = await openNode('lmdb', false);
    expect(outcome.error).toBeNull();
    expect(outcome.files).toContain('raft.lmdb');
    // The same check that stays empty above sees the addon here.
    expect(outcome.lmdbObjects.length).toBeGreaterThan(0);
  });

  it("logStore: 'lmdb' without the package is ErrLmdbNotInstalled, naming the install command", async () => {
    const outcome = await openNode('lmdb', true);
    expect(outcome.error).toEqual({
      name: 'ErrLmdbNotInstalled',
      message: expect.stringContaining('npm install lmdb'),
    });
    expect(lmdbImports()).toMatch(/^lmdb from .*\/dist\/storage\/lmdb\.js$/m);
    expect(outcome.lmdbObjects).toEqual([]);
  });
});
