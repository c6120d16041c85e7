/**
 * The scenario file format (after etcd-io/raft's datadriven testdata): blocks separated by blank
 * lines, each a command line, a `----` line and the expected output (no blank lines in it).
 * Lines starting with `#` between blocks are prose for the reader and are kept as they are.
 *
 *     # Node 1's election timer fires first.
 *     tick-election 1
 *     ----
 *     1: becomes Candidate term=2
 */

export interface Command {
  /** 1-based line of the command in its file, for error messages. */
  line: number;
  name: string;
  /** Positional arguments, in order (`|` is one too, for partitions). */
  args: string[];
  /** key=value arguments; `(a,b)` lists stay as written, see listArg. */
  options: Map<string, string>;
}

export type Piece = { kind: 'prose'; text: string } | { kind: 'block'; command: Command; text: string };

const SEPARATOR = '----';

/** Splits a scenario file into prose and command blocks (expected outputs are dropped). */
export function parseScenario(text: string): Piece[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const pieces: Piece[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '' || line.startsWith('#')) {
      pieces.push({ kind: 'prose', text: line });
      continue;
    }
    if (lines[i + 1] !== SEPARATOR) throw new Error(`line ${i + 2}: expected '${SEPARATOR}' after a command`);
    pieces.push({ kind: 'block', command: parseCommand(line, i + 1), text: line });
    i += 2;
    while (i < lines.length && lines[i].trim() !== '') i++;
    if (i < lines.length) pieces.push({ kind: 'prose', text: lines[i] });
  }
  return pieces;
}

function parseCommand(text: string, line: number): Command {
  const [name, ...words] = text.trim().split(/\s+/);
  const args: string[] = [];
  const options = new Map<string, string>();
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq > 0) options.set(word.slice(0, eq), word.slice(eq + 1));
    else args.push(word);
  }
  return { line, name, args, options };
}

/** `(1,2,3)` -> ['1', '2', '3']; `()` -> []. */
export function listArg(value: string): string[] {
  const match = /^\((.*)\)$/.exec(value);
  if (!match) throw new Error(`expected a list like (1,2,3), got ${value}`);
  return match[1] === '' ? [] : match[1].split(',');
}

/** Writes a scenario back with each block's actual output. */
export function renderScenario(pieces: readonly Piece[], outputs: readonly string[][]): string {
  const lines: string[] = [];
  let block = 0;
  for (const piece of pieces) {
    if (piece.kind === 'prose') {
      lines.push(piece.text);
      continue;
    }
    const output = outputs[block++];
    if (output.some((line) => line.trim() === '')) {
      throw new Error(`line ${piece.command.line}: output must not contain blank lines`);
    }
    lines.push(piece.text, SEPARATOR, ...output);
  }
  return lines.join('\n') + '\n';
}
