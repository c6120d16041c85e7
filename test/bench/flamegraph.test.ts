/** Flame graphs from a .cpuprofile: the merged call tree, folded stacks, the SVG and the text tree. */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { CpuProfile } from '../../bench/cpuprofile.js';
import { foldedStacks, frameTree, renderFlameSvg, renderTopDown } from '../../bench/flamegraph.js';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });
const HTTP = 'file:///repo/dist/kv/http.js';

// (root) -> main -> handle -> encode; main -> handle (a second node: another call site, merged);
// main -> writeBuffer (native); (garbage collector); (idle). One sample every 1,000 µs.
const profile: CpuProfile = {
  startTime: 0,
  endTime: 12_000,
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 7, 8] },
    { id: 2, callFrame: frame('main', 'file:///repo/dist/cli.js', 0), children: [3, 5, 6] },
    { id: 3, callFrame: frame('handle', HTTP, 9), children: [4] },
    { id: 4, callFrame: frame('encode', 'file:///repo/dist/wire/encoder.js', 19) },
    { id: 5, callFrame: frame('handle', HTTP, 9) },
    { id: 6, callFrame: frame('writeBuffer') },
    { id: 7, callFrame: frame('(garbage collector)') },
    { id: 8, callFrame: frame('(idle)') },
  ],
  // encode x4, handle (node 3) x1, handle (node 5) x1, main x1, writeBuffer x1, GC x2, idle x2
  samples: [4, 4, 4, 4, 3, 5, 2, 6, 7, 7, 8, 8],
  timeDeltas: Array(12).fill(1000),
};

const FOLDED = [
  '(garbage collector) 2',
  'main dist/cli.js:1 1',
  'main dist/cli.js:1;handle dist/kv/http.js:10 2',
  'main dist/cli.js:1;handle dist/kv/http.js:10;encode dist/wire/encoder.js:20 4',
  'main dist/cli.js:1;writeBuffer 1',
];

describe('frameTree and foldedStacks', () => {
  it('folds the busy samples into one line per stack, call sites of one function merged', () => {
    expect(foldedStacks(frameTree(profile))).toBe(FOLDED.join('\n') + '\n');
  });

  it('counts only the samples inside the window', () => {
    // Samples at 1,000..12,000 µs; the window holds the 5th to the 9th: handle x2, main, writeBuffer, GC.
    const tree = frameTree(profile, { fromUs: 4500, untilUs: 9500 });
    expect(tree.total).toBe(5);
    expect(foldedStacks(tree).split('\n')).toEqual([
      '(garbage collector) 1',
      'main dist/cli.js:1 1',
      'main dist/cli.js:1;handle dist/kv/http.js:10 2',
      'main dist/cli.js:1;writeBuffer 1',
      '',
    ]);
  });

  it('keeps a semicolon in a name from splitting the frame', () => {
    const odd: CpuProfile = {
      startTime: 0,
      endTime: 1,
      nodes: [
        { id: 1, callFrame: frame('(root)'), children: [2] },
        { id: 2, callFrame: frame('a;b') },
      ],
      samples: [2],
      timeDeltas: [1],
    };
    expect(foldedStacks(frameTree(odd))).toBe('a,b 1\n');
  });
});

describe('renderTopDown', () => {
  it('indents inclusive shares under their callers, heaviest first, down to the threshold', () => {
    expect(renderTopDown(frameTree(profile), { minPercent: 15 }).split('\n')).toEqual([
      '100.0  all (10 busy samples)',
      ' 80.0  main dist/cli.js:1',
      ' 60.0    handle dist/kv/http.js:10',
      ' 40.0      encode dist/wire/encoder.js:20',
      ' 20.0  (garbage collector)',
    ]);
    expect(renderTopDown(frameTree(profile), { maxDepth: 1 }).split('\n')).toHaveLength(3);
  });
});

const CHROMIUM = '/usr/bin/chromium';

interface ParsedSvg {
  error: string | null;
  root: string;
  texts: string[];
  frames: { title: string; width: number; rects: number }[];
}

describe.skipIf(!existsSync(CHROMIUM))(
  'renderFlameSvg (parsed by Chromium: skipped where it is not installed)',
  () => {
    it('is well-formed SVG with one rect per frame, widths by sample share', async () => {
      const svg = renderFlameSvg(frameTree(profile), 'c64 leader (node0), 1234 writes/s <&>');
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
      try {
        const page = await browser.newPage();
        // Run in the page as text: the test's own TypeScript has no DOM types.
        const parsed = (await page.evaluate(`(() => {
        const doc = new DOMParser().parseFromString(${JSON.stringify(svg)}, 'image/svg+xml');
        const error = doc.querySelector('parsererror');
        return {
          error: error ? error.textContent : null,
          root: doc.documentElement.localName,
          texts: [...doc.querySelectorAll('svg > text')].map((node) => node.textContent),
          frames: [...doc.querySelectorAll('g')].map((g) => ({
            title: g.querySelector('title').textContent,
            width: Number(g.querySelector('rect').getAttribute('width')),
            rects: g.querySelectorAll('rect').length,
          })),
        };
      })()`)) as ParsedSvg;
        expect(parsed.error).toBeNull();
        expect(parsed.root).toBe('svg');
        expect(parsed.texts[0]).toBe('c64 leader (node0), 1234 writes/s <&>');
        // 1180 px for the 10 busy samples: all, main, handle, encode, writeBuffer, GC.
        const byFrame = Object.fromEntries(parsed.frames.map((f) => [f.title.replace(/: .*/, ''), f]));
        expect(parsed.frames).toHaveLength(6);
        expect(Object.keys(byFrame).sort()).toEqual([
          '(garbage collector)',
          'all',
          'encode dist/wire/encoder.js:20',
          'handle dist/kv/http.js:10',
          'main dist/cli.js:1',
          'writeBuffer',
        ]);
        for (const f of parsed.frames) expect(f.rects).toBe(1);
        expect(byFrame['all'].width).toBe(1180);
        expect(byFrame['main dist/cli.js:1'].width).toBe(944);
        expect(byFrame['handle dist/kv/http.js:10'].width).toBe(708);
        expect(byFrame['encode dist/wire/encoder.js:20'].width).toBe(472);
        expect(byFrame['writeBuffer'].width).toBe(118);
        expect(byFrame['(garbage collector)'].width).toBe(236);
        expect(byFrame['encode dist/wire/encoder.js:20'].title).toBe(
          'encode dist/wire/encoder.js:20: 4 samples, 40.00%',
        );
      } finally {
        await browser.close();
      }
    }, 60_000);

    it('stacks callees on their callers: each starts inside its caller, one row up', () => {
      const svg = renderFlameSvg(frameTree(profile), 't');
      const rects = [
        ...svg.matchAll(/<title>([^:]+(?::\d+)?): .*?<rect x="([\d.]+)" y="(\d+)" width="([\d.]+)"/g),
      ].map(([, label, x, y, width]) => ({ label, x: Number(x), y: Number(y), width: Number(width) }));
      const at = (label: string) => rects.find((rect) => rect.label === label)!;
      const main = at('main dist/cli.js:1');
      const handle = at('handle dist/kv/http.js:10');
      const write = at('writeBuffer');
      expect(main.y).toBe(at('all').y - 16);
      expect(handle.y).toBe(main.y - 16);
      expect(handle.x).toBe(main.x);
      // Heaviest callee first, the next one right after it.
      expect(write.x).toBeCloseTo(handle.x + handle.width, 2);
      expect(at('(garbage collector)').x).toBeCloseTo(main.x + main.width, 2);
    });
  },
);
