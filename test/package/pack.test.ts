/**
 * What `npm pack` would publish: the files the package needs and nothing that points outside it.
 * The list comes from `npm pack --dry-run --json --ignore-scripts` over the dist/ that `npm test`
 * builds first (scripts are skipped so that prepack's clean build does not pull dist/ from under
 * the tests running beside this one).
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);

interface PackageJson {
  name: string;
  bin: Record<string, string>;
  exports: Record<string, { types: string; default: string }>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as PackageJson;
let files: Set<string>;

beforeAll(async () => {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    maxBuffer: 16 << 20,
  });
  const [report] = JSON.parse(stdout) as [{ files: { path: string }[] }];
  files = new Set(report.files.map((file) => file.path));
}, 60_000);

/** `./dist/x.js` as npm lists it: `dist/x.js`. */
function packed(path: string): string {
  return posix.normalize(path);
}

function shipped(extension: string): string[] {
  return [...files].filter((path) => path.endsWith(extension));
}

/** Package names imported by a module (bare specifiers, reduced to the package), node: ones left out. */
function importedPackages(source: string): string[] {
  const specifiers = [
    ...source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)'([^'.][^']*)'/g),
  ].map((match) => match[1]);
  return specifiers
    .filter((specifier) => !specifier.startsWith('node:') && !builtinModules.includes(specifier))
    .map((specifier) => specifier.split('/', specifier.startsWith('@') ? 2 : 1).join('/'));
}

describe('npm pack', () => {
  it('ships the entry points, the CLI, the dashboard and the documents', () => {
    const required = [
      'package.json',
      'README.md',
      'LICENSE',
      'CHANGELOG.md',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/testing/index.js',
      'dist/testing/index.d.ts',
      'dist/client/index.js',
      'dist/client/index.d.ts',
      ...Object.values(pkg.bin).map(packed),
      ...Object.values(pkg.exports).flatMap((target) => [packed(target.types), packed(target.default)]),
    ];
    for (const path of required) expect(files, path).toContain(path);
    expect(shipped('dashboard/index.html')).toHaveLength(1);
  });

  it('raftkit/client loads nothing but node built-ins, its own files and the contract types', () => {
    const seen = new Set<string>();
    const visit = (path: string) => {
      if (seen.has(path)) return;
      seen.add(path);
      const source = readFileSync(path, 'utf8');
      for (const [, specifier] of source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)'([^']+)'/g)) {
        if (specifier.startsWith('.')) visit(posix.join(dirname(path), specifier));
        else
          expect(
            specifier.startsWith('node:') || builtinModules.includes(specifier),
            `${path} imports ${specifier}`,
          ).toBe(true);
      }
    };
    visit('dist/client/index.js');
    const outside = [...seen].filter(
      (path) => !path.startsWith('dist/client/') && path !== 'dist/kv/contract.js',
    );
    expect(outside).toEqual([]);
    expect(seen.size).toBeGreaterThan(5);
    for (const path of seen) expect(files, path).toContain(path);
  });

  it('ships no tests, sources, benchmarks or tooling', () => {
    const strays = [...files].filter(
      (path) =>
        /^(src|test|bench|examples|dist-bench|docs-html|node_modules|\.ci)\//.test(path) ||
        /\.(test|spec)\.[cm]?[jt]s$/.test(path) ||
        /^(tsconfig.*|vitest.*|eslint.*|typedoc.*|\.prettier.*|package-lock)\.[a-z]+$/.test(path),
    );
    expect(strays).toEqual([]);
    // Everything is under dist/ except the four top-level documents.
    expect([...files].filter((path) => !path.startsWith('dist/')).sort()).toEqual([
      'CHANGELOG.md',
      'LICENSE',
      'README.md',
      'package.json',
    ]);
  });

  it('ships no source map whose sources are missing, and no link to a map that is missing', () => {
    for (const map of shipped('.map')) {
      const { sources } = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] };
      for (const source of sources)
        expect(files, `${map} -> ${source}`).toContain(posix.join(dirname(map), source));
    }
    for (const module of [...shipped('.js'), ...shipped('.d.ts')]) {
      const link = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(module, 'utf8'));
      if (link !== null)
        expect(files, `${module} -> ${link[1]}`).toContain(posix.join(dirname(module), link[1]));
    }
  });

  it('imports no package that an installing user would not get', () => {
    const declared = new Set([
      ...Object.keys(pkg.dependencies ?? {}),
      ...Object.keys(pkg.peerDependencies ?? {}),
    ]);
    const undeclared = [...shipped('.js'), ...shipped('.d.ts')].flatMap((module) =>
      importedPackages(readFileSync(module, 'utf8'))
        .filter((name) => !declared.has(name))
        .map((name) => `${module} imports ${name}`),
    );
    expect(undeclared).toEqual([]);
    // The check above must see imports at all: the entry's dependencies are found.
    expect(importedPackages(readFileSync('dist/storage/lmdb.js', 'utf8'))).toEqual(['lmdb']);
  });
});

describe('the packed files on their own', () => {
  // Staged under the repository so that the dependencies resolve from its node_modules, as they
  // would from the user's; only the packed files of raftkit itself are there.
  let root: string;

  beforeAll(() => {
    mkdirSync('.tmp', { recursive: true });
    root = mkdtempSync(join('.tmp', 'packed-'));
    for (const path of files) cpSync(path, join(root, 'node_modules', pkg.name, path));
    // Its own package scope, or 'raftkit' would resolve to this repository by self-reference.
    writeFileSync(join(root, 'package.json'), '{ "private": true, "type": "module" }\n');
    writeFileSync(
      join(root, 'use.mjs'),
      [
        `import * as raftkit from 'raftkit';`,
        `import * as testing from 'raftkit/testing';`,
        `import * as client from 'raftkit/client';`,
        `console.log(import.meta.resolve('raftkit'));`,
        `console.log(typeof raftkit.Raft, typeof raftkit.RaftNode, typeof testing.runSimulation, typeof client.KvClient);`,
      ].join('\n'),
    );
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('import as raftkit, raftkit/testing and raftkit/client', async () => {
    const { stdout } = await run(process.execPath, ['use.mjs'], { cwd: root });
    const [resolved, types] = stdout.trim().split('\n');
    expect(resolved).toMatch(/\/\.tmp\/packed-\w+\/node_modules\/raftkit\/dist\/index\.js$/);
    expect(types).toBe('function function function function');
  });

  it('run as the raftkit command', async () => {
    const bin = join(root, 'node_modules', pkg.name, pkg.bin.raftkit);
    const { stdout } = await run(process.execPath, [bin, '--help']);
    expect(stdout).toMatch(/^usage: raftkit <command>/);
  });
});
