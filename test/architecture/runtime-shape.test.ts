/**
 * The runtime's shape (issue 13): `src/raft/raft.ts` is the public face, well under 400 lines, and
 * the parts it hands calls to take narrow host interfaces, never the whole `Raft` (or the Driver).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readImportGraph } from './import-graph.js';

/** The parts that carry out the public API's calls, each behind a host interface of its own. */
const REQUEST_PARTS = ['src/raft/writes.ts', 'src/raft/reads.ts', 'src/raft/membership-api.ts'];

describe('the runtime', () => {
  it('keeps raft.ts the public face: under 400 lines', () => {
    const lines = readFileSync(join(process.cwd(), 'src/raft/raft.ts'), 'utf8').trimEnd().split('\n').length;
    console.log(`src/raft/raft.ts: ${lines} lines`);
    expect(lines).toBeLessThan(400);
  });

  it('has no part that imports raft.ts, and request parts that import no Driver', () => {
    const graph = readImportGraph(process.cwd());
    const runtime = [...graph.keys()].filter((file) => file.startsWith('src/raft/'));
    expect(runtime).toEqual(expect.arrayContaining(REQUEST_PARTS));
    const importersOfRaft = runtime.filter((file) => graph.get(file)!.includes('src/raft/raft.ts'));
    expect(importersOfRaft).toEqual([]);
    const importersOfDriver = REQUEST_PARTS.filter((file) => graph.get(file)!.includes('src/raft/driver.ts'));
    expect(importersOfDriver).toEqual([]);
  });
});
