/** A unified-style line diff (longest common subsequence), small enough for scenario files. */

const CONTEXT = 3;

type Op = { kind: ' ' | '-' | '+'; line: string; oldLine: number; newLine: number };

export function unifiedDiff(expected: string, actual: string, label: string): string {
  const lines = (text: string): string[] => text.replace(/\n$/, '').split('\n');
  const a = lines(expected);
  const b = lines(actual);
  const ops = editScript(a, b);
  const out = [`--- ${label} (golden)`, `+++ ${label} (actual)`];
  let i = 0;
  while (i < ops.length) {
    if (ops[i].kind === ' ') {
      i++;
      continue;
    }
    // A hunk: this change, the changes within 2 * CONTEXT lines of it, and CONTEXT lines around.
    const start = Math.max(0, i - CONTEXT);
    let end = i;
    let lastChange = i;
    while (end < ops.length && end - lastChange <= 2 * CONTEXT) {
      if (ops[end].kind !== ' ') lastChange = end;
      end++;
    }
    end = Math.min(ops.length, lastChange + CONTEXT + 1);
    const hunk = ops.slice(start, end);
    const oldCount = hunk.filter((op) => op.kind !== '+').length;
    const newCount = hunk.filter((op) => op.kind !== '-').length;
    out.push(`@@ -${hunk[0].oldLine},${oldCount} +${hunk[0].newLine},${newCount} @@`);
    for (const op of hunk) out.push(`${op.kind}${op.line}`);
    i = end;
  }
  return out.join('\n');
}

function editScript(a: string[], b: string[]): Op[] {
  // common[i][j]: length of the longest common subsequence of a[i..] and b[j..].
  const common = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      common[i][j] = a[i] === b[j] ? common[i + 1][j + 1] + 1 : Math.max(common[i + 1][j], common[i][j + 1]);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const at = { oldLine: i + 1, newLine: j + 1 };
    if (i < a.length && j < b.length && a[i] === b[j]) {
      ops.push({ kind: ' ', line: a[i++], ...at });
      j++;
    } else if (i < a.length && (j === b.length || common[i + 1][j] >= common[i][j + 1])) {
      ops.push({ kind: '-', line: a[i++], ...at });
    } else {
      ops.push({ kind: '+', line: b[j++], ...at });
    }
  }
  return ops;
}
