/**
 * `npm run sim:coverage`: the share of src/core's lines that the simulator alone exercises. It
 * runs simulator seeds (every fault kind and leader kind, 3 and 5 nodes, plus a few seeds of each
 * planted bug, whose switches are core branches too) in a child process under Node's V8 coverage
 * (NODE_V8_COVERAGE), maps the block counts of the compiled core to its TypeScript lines through
 * the source maps tsc writes into dist-bench/, and prints the figure and every uncovered line.
 *
 *   npm run sim:coverage -- [--seeds N] [--bug-seeds N] [--min PERCENT]
 *
 * A line counts when some code maps to it; it is covered when some of that code ran. Lines of
 * closing brackets alone are left out (V8 counts the code after a `return` up to the block's end
 * as a block of its own that never runs), and so are comments and re-exports (NOT_CODE).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const coreDir = resolve(here, '../src/core');
const repo = resolve(here, '../..');

interface Flags {
  seeds: number;
  bugSeeds: number;
  min: number;
}

function flags(argv: string[]): Flags {
  const value = (name: string, fallback: number) => {
    const at = argv.indexOf(name);
    if (at < 0) return fallback;
    const parsed = Number(argv[at + 1]);
    if (!Number.isFinite(parsed) || parsed < 0) throw new RangeError(`${name} takes a number`);
    return parsed;
  };
  return { seeds: value('--seeds', 300), bugSeeds: value('--bug-seeds', 5), min: value('--min', 0) };
}

/** In the child: the seeds whose coverage is measured. */
async function runSeedsForCoverage({ seeds, bugSeeds }: Flags): Promise<void> {
  const { runSeeds } = await import(pathToFileURL(resolve(here, '../src/testing/run-seeds.js')).href);
  const { PLANTED_BUGS } = await import(pathToFileURL(resolve(here, '../src/testing/planted-bugs.js')).href);
  const summary = await runSeeds({ seeds });
  process.stdout.write(`${summary.seedsRun} seeds (${summary.failures.length} failing)\n`);
  for (const bug of PLANTED_BUGS as { name: string }[])
    await runSeeds({ seeds: bugSeeds, faults: { [bug.name]: true }, stopOnFailure: true });
}

interface V8Range {
  startOffset: number;
  endOffset: number;
  count: number;
}

interface V8Script {
  url: string;
  functions: { ranges: V8Range[] }[];
}

/** The execution count of every character of a script (nested ranges override their parents). */
function characterCounts(source: string, script: V8Script): Int32Array {
  const counts = new Int32Array(source.length).fill(-1);
  const ranges = script.functions
    .flatMap((fn) => fn.ranges)
    .sort((a, b) => a.startOffset - b.startOffset || b.endOffset - a.endOffset);
  for (const range of ranges) counts.fill(range.count, range.startOffset, range.endOffset);
  return counts;
}

const VLQ = new Map(
  [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].map((c, i) => [c, i]),
);

/** Decodes one source-map segment's base64 VLQ fields. */
function decodeSegment(segment: string): number[] {
  const fields: number[] = [];
  let value = 0;
  let shift = 0;
  for (const char of segment) {
    const digit = VLQ.get(char)!;
    value += (digit & 31) << shift;
    if (digit & 32) shift += 5;
    else {
      fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return fields;
}

/** Per TypeScript line (1-based) of the script's one source: whether any code mapped to it ran. */
function lineCoverage(jsPath: string, counts: Int32Array, source: string): Map<number, boolean> {
  const map = JSON.parse(readFileSync(`${jsPath}.map`, 'utf8')) as { mappings: string };
  const lineStarts = [0];
  for (let i = 0; i < source.length; i++) if (source[i] === '\n') lineStarts.push(i + 1);
  const lines = new Map<number, boolean>();
  let originalLine = 0;
  map.mappings.split(';').forEach((generated, jsLine) => {
    let column = 0;
    for (const segment of generated.split(',')) {
      if (segment === '') continue;
      const fields = decodeSegment(segment);
      column += fields[0];
      if (fields.length < 4) continue;
      originalLine += fields[2];
      const offset = lineStarts[jsLine] + column;
      // The first non-blank character at or after the segment's start carries its count.
      let at = offset;
      while (at < source.length && /\s/.test(source[at])) at++;
      const ran = (counts[at] ?? -1) > 0;
      lines.set(originalLine + 1, (lines.get(originalLine + 1) ?? false) || ran);
    }
  });
  return lines;
}

/**
 * Lines that are no statement of their own though code maps to them: closing brackets alone,
 * comments (tsc keeps them, mapped), and re-exports (a module's linking, not its code).
 */
const NOT_CODE = /^\s*([)}\];,]*\s*$|\/\/|\/\*|\*|export \*|export \{[^}]*\} from)/;

/** "3, 7-9, 12" */
function spans(lines: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    let j = i;
    while (j + 1 < lines.length && lines[j + 1] === lines[j] + 1) j++;
    out.push(i === j ? `${lines[i]}` : `${lines[i]}-${lines[j]}`);
    i = j;
  }
  return out.join(', ');
}

function report(coverageDir: string, min: number): number {
  const scripts = new Map<string, V8Script>();
  for (const file of readdirSync(coverageDir)) {
    const { result } = JSON.parse(readFileSync(join(coverageDir, file), 'utf8')) as { result: V8Script[] };
    for (const script of result) {
      if (!script.url.startsWith('file:')) continue;
      const path = fileURLToPath(script.url);
      if (path.startsWith(coreDir + '/')) scripts.set(path, script);
    }
  }
  let total = 0;
  let covered = 0;
  const rows: string[] = [];
  for (const file of readdirSync(coreDir)
    .filter((name) => name.endsWith('.js'))
    .sort()) {
    const jsPath = join(coreDir, file);
    const js = readFileSync(jsPath, 'utf8');
    const tsPath = join(repo, 'src/core', file.replace(/\.js$/, '.ts'));
    const ts = readFileSync(tsPath, 'utf8').split('\n');
    const script = scripts.get(jsPath);
    const counts = script ? characterCounts(js, script) : new Int32Array(js.length);
    const lines = lineCoverage(jsPath, counts, js);
    const missed: number[] = [];
    let fileTotal = 0;
    for (const [line, ran] of [...lines].sort((a, b) => a[0] - b[0])) {
      if (NOT_CODE.test(ts[line - 1] ?? '')) continue;
      fileTotal++;
      if (ran) covered++;
      else missed.push(line);
    }
    total += fileTotal;
    if (missed.length > 0)
      rows.push(`  ${relative(repo, tsPath)} (${missed.length} of ${fileTotal}): ${spans(missed)}`);
  }
  const percent = (100 * covered) / Math.max(1, total);
  process.stdout.write(
    `src/core lines run by the simulator: ${covered} of ${total} (${percent.toFixed(2)}%)\n`,
  );
  if (rows.length > 0) process.stdout.write(`uncovered lines:\n${rows.join('\n')}\n`);
  if (percent < min) {
    process.stdout.write(`below --min ${min}%\n`);
    return 1;
  }
  return 0;
}

async function main(): Promise<number> {
  const options = flags(process.argv.slice(2));
  if (process.argv.includes('--child')) {
    await runSeedsForCoverage(options);
    return 0;
  }
  const coverageDir = mkdtempSync(join(tmpdir(), 'raftkit-sim-coverage-'));
  try {
    const child = spawnSync(
      process.execPath,
      [fileURLToPath(import.meta.url), ...process.argv.slice(2), '--child'],
      {
        env: { ...process.env, NODE_V8_COVERAGE: coverageDir },
        stdio: 'inherit',
      },
    );
    if (child.status !== 0) throw new Error(`the simulator run failed (${child.status ?? child.signal})`);
    return report(coverageDir, options.min);
  } finally {
    rmSync(coverageDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => (process.exitCode = code),
  (error: Error) => {
    process.stderr.write(`sim:coverage: ${error.message}\n`);
    process.exitCode = 2;
  },
);
