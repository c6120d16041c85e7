/** No import circles anywhere in src/: each layer and each file can be read (and changed) on its own. */
import { describe, expect, it } from 'vitest';
import { findCycles, readImportGraph, type ImportGraph } from './import-graph.js';

const graphOf = (edges: Record<string, string[]>): ImportGraph => new Map(Object.entries(edges));

describe('import circles', () => {
  it('src/ has none', () => {
    const graph = readImportGraph(process.cwd());
    const edges = [...graph.values()].reduce((sum, targets) => sum + targets.length, 0);
    const cycles = findCycles(graph);
    console.log(
      `import graph of src/: ${graph.size} modules, ${edges} imports, ${cycles.length} circles` +
        cycles.map((cycle) => `\n  ${cycle.join(' -> ')}`).join(''),
    );
    expect(graph.size).toBeGreaterThan(50); // the walk found the tree
    expect(cycles).toEqual([]);
  });

  it('finds a circle of two, a longer one and a self-import, and nothing in a tree', () => {
    expect(findCycles(graphOf({ a: ['b'], b: ['c'], c: [] }))).toEqual([]);
    expect(findCycles(graphOf({ a: ['b'], b: ['a'], c: ['a'] }))).toEqual([['a', 'b', 'a']]);
    expect(findCycles(graphOf({ a: ['b'], b: ['c'], c: ['a', 'd'], d: [] }))).toEqual([['a', 'b', 'c', 'a']]);
    expect(findCycles(graphOf({ a: ['a'] }))).toEqual([['a', 'a']]);
  });

  it('reads type-only imports and re-exports as edges', () => {
    const graph = readImportGraph(process.cwd());
    // core/index.ts only re-exports; raft/fsm.ts has only type imports.
    expect(graph.get('src/core/index.ts')).toContain('src/core/types.ts');
    expect(graph.get('src/raft/fsm.ts')).toContain('src/core/types.ts');
  });
});
