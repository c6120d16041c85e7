/**
 * The layer boundaries of DESIGN.md are lint errors (eslint/layers.js, wired in eslint.config.js):
 * imports a layer may not make are reported, the ones it may make are not, and no file under src/
 * grows past 600 lines (except the three being split, named in eslint.config.js).
 */
import { readdirSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import { ESLint, Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
import { LAYERS, layersPlugin } from '../../eslint/layers.js';

const RULE = 'raftkit/layer-imports';
const eslint = new ESLint();

/** Lints `code` with the project's whole config as if it were the real file at `filePath`. */
async function projectMessages(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result.messages.map((message) => `${message.ruleId}: ${message.message}`);
}

/** Lints `code` with the layer rule alone, as a file at `filePath` (which need not exist). */
function layerMessages(filePath: string, code: string): string[] {
  const linter = new Linter();
  const config = [
    {
      files: ['**/*.ts'],
      languageOptions: { parser: tseslint.parser as Linter.Parser },
      plugins: { raftkit: layersPlugin },
      rules: { [RULE]: 'error' as const },
    },
  ];
  return linter.verify(code, config, { filename: resolve(filePath) }).map((message) => message.message);
}

describe('layer boundaries in the project config', () => {
  it.each([
    [
      'src/kv/fsm.ts',
      "import { Raft } from '../raft/raft.js';\nexport type R = Raft;",
      'src/kv may import only src/index.ts',
    ],
    [
      'src/kv/fsm.ts',
      "export { SeededRandom } from '../testing/prng.js';",
      "'../testing/prng.js' is in src/testing",
    ],
    [
      'src/storage/wal.ts',
      "import type { Raft } from '../raft/raft.js';\nexport type R = Raft;",
      'src/storage may import only',
    ],
    [
      'src/core/log.ts',
      "import { systemClock } from '../platform/clock.js';\nexport const c = systemClock;",
      'src/core may import only nothing outside it',
    ],
    [
      'src/testing/prng.ts',
      "import { runCli } from '../cli/main.js';\nexport const r = runCli;",
      "'../cli/main.js' is in src/cli",
    ],
  ])(
    'reports %s importing across a boundary',
    async (filePath, code, text) => {
      const messages = await projectMessages(filePath, code);
      expect(messages.filter((message) => message.startsWith(`${RULE}: `)).join('\n')).toContain(text);
    },
    60_000,
  );

  it.each([
    ['src/kv/fsm.ts', "import { Raft } from '../index.js';\nexport type R = Raft;"],
    ['src/storage/wal.ts', "import { ErrDecode } from '../core/errors.js';\nexport const e = ErrDecode;"],
    ['src/cli/main.ts', "import { SeededRandom } from '../testing/prng.js';\nexport const s = SeededRandom;"],
  ])(
    'allows %s its own imports',
    async (filePath, code) => {
      expect((await projectMessages(filePath, code)).filter((message) => message.startsWith(RULE))).toEqual(
        [],
      );
    },
    60_000,
  );
});

describe('the layer rule', () => {
  it('keeps src/client to node built-ins and the KV contract types', () => {
    const ok = "import { request } from 'node:http';\nimport type { StatusBody } from '../kv/contract.js';";
    expect(layerMessages('src/client/watch.ts', ok)).toEqual([]);
    expect(layerMessages('src/client/watch.ts', "import { pino } from 'pino';")).toEqual([
      expect.stringContaining("src/client may not import the package 'pino'"),
    ]);
    expect(layerMessages('src/client/watch.ts', "import { KvFsm } from '../kv/fsm.js';")).toEqual([
      expect.stringContaining('src/client may import only src/kv/contract.ts'),
    ]);
  });

  it('sees dynamic imports and re-exports', () => {
    expect(layerMessages('src/wire/codec.ts', "export * from '../storage/wal.js';")).toHaveLength(1);
    expect(
      layerMessages('src/wire/codec.ts', "export const m = () => import('../raft/raft.js');"),
    ).toHaveLength(1);
  });

  it('refuses a folder the table does not know', () => {
    expect(layerMessages('src/extras/thing.ts', "import { x } from './x.js';")).toEqual([
      expect.stringContaining('src/extras is not a layer'),
    ]);
  });

  it('knows every folder and top-level file under src/', () => {
    const entries = readdirSync('src', { withFileTypes: true })
      .filter((entry) => entry.isDirectory() || entry.name.endsWith('.ts'))
      .map((entry) => entry.name);
    expect(entries.filter((name) => !(name in LAYERS))).toEqual([]);
  });
});

describe('file length', () => {
  it('reports a file under src/ over 600 lines', async () => {
    const code = Array.from({ length: 601 }, (_, i) => `export const line${i} = ${i};`).join('\n');
    expect((await projectMessages('src/kv/metrics.ts', code)).some((m) => m.startsWith('max-lines: '))).toBe(
      true,
    );
  }, 60_000);

  it('exempts no file under src/', async () => {
    const files = readdirSync('src', { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts'))
      .map((file) => `src/${file.split(sep).join('/')}`);
    const exempt: string[] = [];
    for (const file of files) {
      const config = (await eslint.calculateConfigForFile(file)) as { rules: Record<string, [number]> };
      if (config.rules['max-lines'][0] !== 2) exempt.push(file);
    }
    expect(exempt).toEqual([]);
  }, 60_000);
});
