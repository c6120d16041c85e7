/**
 * A real descriptor shortage (issue 11.3): a child process under `prlimit --nofile` opens a
 * WalStore, takes every descriptor left, appends across many segments' worth of bytes, frees the
 * descriptors and appends again (test/storage/descriptors/exhaust-child.mjs). The store must keep
 * accepting writes (the newest segment grows past its size while no spare can be created), find
 * its spare again by itself, and lose nothing acknowledged; the snapshot store must answer
 * ErrOutOfDescriptors meanwhile, never a listing that silently leaves snapshots out.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '../support/temp-dir.js';

const CHILD = join(import.meta.dirname, 'descriptors', 'exhaust-child.mjs');
const prlimit = spawnSync('prlimit', ['--version']).status === 0;

const temp = useTempDir('raftkit-emfile-');

describe('stores under a real descriptor limit', () => {
  // prlimit is util-linux's; without it there is no portable way to lower the child's limit.
  it.skipIf(!prlimit)(
    'keep writing while descriptors are exhausted, recover by themselves, and lose nothing',
    () => {
      const child = spawnSync('prlimit', ['--nofile=64:64', process.execPath, CHILD, temp.path], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      const lines = child.stdout.trim().split('\n');
      expect(child.stderr).toBe('');
      expect(child.status).toBe(0);
      const exhausted = Number(/^exhausted (\d+)$/.exec(lines[1])![1]);
      expect(exhausted).toBeGreaterThan(0);
      const [before, during, after] = lines
        .map((line) => /^acked (\d+) segments (\d+)$/.exec(line))
        .filter((match) => match !== null)
        .map((match) => ({ acked: Number(match[1]), segments: Number(match[2]) }));
      expect(before.acked).toBe(50);
      // 600 entries of ~150 bytes with no descriptor to spare: at most the one rollover the spare
      // made before the shortage allowed.
      expect(during.acked).toBe(650);
      expect(during.segments).toBeLessThanOrEqual(before.segments + 1);
      // Both the listing and the new snapshot.
      expect(lines.filter((line) => line.startsWith('snapshot'))).toEqual([
        'snapshot ErrOutOfDescriptors',
        'snapshot ErrOutOfDescriptors',
      ]);
      expect(lines).toContain('spare true');
      expect(after.acked).toBe(1250);
      expect(after.segments).toBeGreaterThan(during.segments + 5);
      expect(lines).toContain('listed 1');
      expect(lines).toContain('warned true');
      expect(lines[lines.length - 1]).toBe('reopened 1..1250 intact true');
    },
    90_000,
  );
});
