// @ts-check
/**
 * raftkit's layers (DESIGN.md, docs/ARCHITECTURE.md) and what each may import, as the ESLint rule
 * `raftkit/layer-imports`: an import that crosses a boundary the table does not allow fails lint.
 *
 * A layer is a folder under src/ (or a file directly under it: index.ts, the public surface, and
 * cli.ts, the command's entry). `may` lists the layers a layer's files may import besides its own;
 * an entry with a slash names one file instead of a whole layer. Imports of packages (bare
 * specifiers) are allowed unless the layer says `nodeBuiltinsOnly`.
 */
import { builtinModules } from 'node:module';
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const LIBRARY = ['core', 'platform', 'wire', 'storage', 'transport', 'raft', 'kit', 'index.ts'];

/** @type {Record<string, { may: string[] | '*', nodeBuiltinsOnly?: boolean, why: string }>} */
export const LAYERS = {
  core: { may: [], why: 'the pure state machine imports nothing outside core/' },
  platform: { may: ['core'], why: 'the real Clock and Random implement core/clock.ts only' },
  wire: { may: ['core'], why: 'the codec speaks the core types' },
  storage: { may: ['core', 'wire', 'platform'], why: 'stores sit below the runtime' },
  transport: { may: ['core', 'wire', 'platform'], why: 'transports sit below the runtime' },
  raft: {
    may: ['core', 'wire', 'storage', 'transport', 'platform'],
    why: 'the runtime drives the layers below it',
  },
  kit: {
    may: ['core', 'wire', 'storage', 'transport', 'platform', 'raft'],
    why: 'the kit is built on the runtime',
  },
  'index.ts': { may: LIBRARY, why: 'the public surface exports the library, not its users' },
  testing: { may: LIBRARY, why: 'the test kit is built on the library' },
  kv: { may: ['index.ts'], why: 'the KV service uses only the public surface (src/index.ts)' },
  client: {
    may: ['kv/contract.ts'],
    nodeBuiltinsOnly: true,
    why: 'raftkit/client runs without the library: node built-ins and the KV contract types only',
  },
  cli: { may: '*', why: 'the commands may use anything' },
  'cli.ts': { may: ['cli'], why: 'the entry point only starts src/cli/main.ts' },
};

const NODE_BUILTINS = new Set(builtinModules);
const SRC_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');

/** The layer of a path relative to src/: its first folder, or the file itself when at the top. */
function layerOf(/** @type {string} */ pathInSrc) {
  return pathInSrc.split('/')[0];
}

/** @type {import('eslint').Rule.RuleModule} */
const layerImports = {
  meta: {
    type: 'problem',
    docs: { description: 'Imports across src/ layers only where the layer table (eslint/layers.js) allows' },
    schema: [],
  },
  create(context) {
    const fromPath = relative(SRC_DIR, context.filename).split(sep).join('/');
    if (fromPath.startsWith('..')) return {};
    const fromLayer = layerOf(fromPath);
    const layer = LAYERS[fromLayer];

    if (layer === undefined) {
      return {
        Program: (node) =>
          context.report({
            node,
            message: `src/${fromLayer} is not a layer: add it to the table in eslint/layers.js`,
          }),
      };
    }

    /** @param {import('estree').Node} node @param {unknown} source */
    const check = (node, source) => {
      if (typeof source !== 'string') return;
      if (!source.startsWith('.')) {
        const builtin = source.startsWith('node:') || NODE_BUILTINS.has(source.split('/')[0]);
        if (layer.nodeBuiltinsOnly && !builtin) {
          context.report({
            node,
            message: `src/${fromLayer} may not import the package '${source}': ${layer.why}`,
          });
        }
        return;
      }
      const target = relative(SRC_DIR, resolve(dirname(context.filename), source))
        .split(sep)
        .join('/')
        .replace(/\.js$/, '.ts');
      const targetLayer = layerOf(target);
      if (target.startsWith('..')) {
        context.report({ node, message: `'${source}' is outside src/` });
        return;
      }
      if (targetLayer === fromLayer || layer.may === '*') return;
      if (layer.may.includes(target) || layer.may.includes(targetLayer)) return;
      const allowed =
        layer.may.length === 0 ? 'nothing outside it' : layer.may.map((name) => `src/${name}`).join(', ');
      context.report({
        node,
        message: `src/${fromLayer} may import only ${allowed} (${layer.why}); '${source}' is in src/${targetLayer}`,
      });
    };

    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => check(node, node.source?.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => check(node, node.source.type === 'Literal' ? node.source.value : undefined),
    };
  },
};

export const layersPlugin = { rules: { 'layer-imports': layerImports } };
