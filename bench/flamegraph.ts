/**
 * Flame graphs from a V8 .cpuprofile, with no tool beyond this file: the call tree of the busy
 * samples (optionally inside a window), written three ways:
 * - folded stacks (`root;caller;callee count`, one line per stack that had samples: the format of
 *   Brendan Gregg's flamegraph.pl, speedscope and inferno);
 * - a self-contained SVG flame graph (width by share of the samples, root at the bottom, a
 *   tooltip per frame, coloured by layer);
 * - a top-down text tree of inclusive shares, to paste into a note.
 */
import {
  frameLabel,
  layerOf,
  samplesIn,
  type CallFrame,
  type CpuProfile,
  type ProfileNode,
  type Window,
} from './cpuprofile.js';

/** One frame of the merged call tree: every stack through the same callers ends in one node. */
export interface FrameNode {
  /** `name path:line`, or the bare name of native code (frameLabel). */
  label: string;
  /** Where the function lives (layerOf): picks the colour. */
  layer: string;
  /** Samples with this frame on the stack (its own and its callees'). */
  total: number;
  /** Samples in this frame itself. */
  self: number;
  /** Callees, heaviest first (then by label). */
  children: FrameNode[];
}

const ROOT_LABEL = 'all';

/** The call tree of the busy samples (every one but "(idle)"), its root labelled "all". */
export function frameTree(profile: CpuProfile, window?: Window): FrameNode {
  const selfCount = new Map<number, number>();
  for (const id of samplesIn(profile, window)) selfCount.set(id, (selfCount.get(id) ?? 0) + 1);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const children = new Set(profile.nodes.flatMap((node) => node.children ?? []));
  const root: FrameNode = { label: ROOT_LABEL, layer: '', total: 0, self: 0, children: [] };
  // V8's own root is "(root)"; its children are the stacks' outermost frames.
  for (const top of profile.nodes.filter((node) => !children.has(node.id))) {
    addSubtree(
      top,
      top.callFrame.functionName === '(root)' ? root : child(root, top.callFrame),
      byId,
      selfCount,
    );
  }
  finish(root);
  return root;
}

function child(parent: FrameNode, frame: CallFrame): FrameNode {
  const label = frameLabel(frame).replaceAll(';', ',');
  let node = parent.children.find((candidate) => candidate.label === label);
  if (node === undefined) {
    node = { label, layer: layerOf(frame), total: 0, self: 0, children: [] };
    parent.children.push(node);
  }
  return node;
}

/** Adds a profile node's samples (and its callees') under `into`; iterative, stacks can be deep. */
function addSubtree(
  start: ProfileNode,
  into: FrameNode,
  byId: Map<number, ProfileNode>,
  selfCount: Map<number, number>,
): void {
  const pending: [ProfileNode, FrameNode][] = [[start, into]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, target] = next;
    target.self += selfCount.get(node.id) ?? 0;
    for (const id of node.children ?? []) {
      const callee = byId.get(id);
      if (callee === undefined || callee.callFrame.functionName === '(idle)') continue;
      pending.push([callee, child(target, callee.callFrame)]);
    }
  }
}

/** Sums totals bottom-up, drops frames without samples and orders callees heaviest first. */
function finish(root: FrameNode): void {
  const order: FrameNode[] = [];
  const pending = [root];
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    order.push(node);
    pending.push(...node.children);
  }
  for (const node of order.reverse()) {
    node.children = node.children
      .filter((callee) => callee.total > 0)
      .sort((a, b) => b.total - a.total || (a.label < b.label ? -1 : 1));
    node.total = node.self + node.children.reduce((sum, callee) => sum + callee.total, 0);
  }
}

/** Visits every frame below the root, callers first, with its stack (outermost first) and caller. */
function walk(root: FrameNode, visit: (node: FrameNode, stack: string[], caller: FrameNode) => void): void {
  const pending: [FrameNode, string[], FrameNode][] = [];
  const push = (caller: FrameNode, stack: string[]) => {
    for (let i = caller.children.length - 1; i >= 0; i--) {
      pending.push([caller.children[i], [...stack, caller.children[i].label], caller]);
    }
  };
  push(root, []);
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, stack, caller] = next;
    visit(node, stack, caller);
    push(node, stack);
  }
}

/** Folded stacks: `outer;...;inner count` per stack with samples of its own, sorted. */
export function foldedStacks(root: FrameNode): string {
  const lines: string[] = [];
  walk(root, (node, stack) => {
    if (node.self > 0) lines.push(`${stack.join(';')} ${node.self}`);
  });
  return lines.sort().join('\n') + (lines.length > 0 ? '\n' : '');
}

/**
 * The top-down tree as text: each frame's inclusive % of the busy samples, indented under its
 * caller, down to frames of `minPercent` and `maxDepth` levels.
 */
export function renderTopDown(
  root: FrameNode,
  options: { minPercent?: number; maxDepth?: number } = {},
): string {
  const { minPercent = 1, maxDepth = 12 } = options;
  const percent = (node: FrameNode) => (node.total / Math.max(1, root.total)) * 100;
  const lines = [`100.0  all (${root.total} busy samples)`];
  const hidden = new Set<FrameNode>();
  walk(root, (node, stack, caller) => {
    // A callee is never heavier than its caller: below the threshold, the whole subtree is.
    if (hidden.has(caller) || stack.length > maxDepth || percent(node) < minPercent) {
      hidden.add(node);
      return;
    }
    lines.push(`${percent(node).toFixed(1).padStart(5)}  ${'  '.repeat(stack.length - 1)}${node.label}`);
  });
  return lines.join('\n');
}

/** Widths and layout of the SVG. */
const SVG = { width: 1200, margin: 10, row: 16, header: 44, charPx: 6.6, minFramePx: 0.1 };

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A colour per layer: raftkit warm, Node blue, npm packages purple, V8 red-grey; stable per name. */
function colour(layer: string): string {
  let hash = 0;
  for (let i = 0; i < layer.length; i++) hash = (hash * 31 + layer.charCodeAt(i)) >>> 0;
  const [hue, spread, sat] = layer.startsWith('raftkit')
    ? [20, 40, 80]
    : layer.startsWith('node')
      ? [195, 35, 55]
      : layer.startsWith('npm')
        ? [270, 30, 45]
        : layer.startsWith('V8')
          ? [0, 10, 45]
          : [0, 0, 0];
  return `hsl(${hue + (hash % (spread + 1))},${sat}%,${layer === '' ? 75 : 68}%)`;
}

/**
 * A self-contained SVG flame graph: the root ("all") at the bottom, each callee on its caller,
 * widths by share of the busy samples, labels where they fit and a tooltip (`<title>`) on every
 * frame. Frames narrower than 0.1 px (and their callees) are left out.
 */
export function renderFlameSvg(root: FrameNode, title: string): string {
  const inner = SVG.width - 2 * SVG.margin;
  const scale = inner / Math.max(1, root.total);
  const frames: string[] = [];
  let depth = 0;
  const pending: [FrameNode, number, number][] = [[root, SVG.margin, 0]];
  const placed: [FrameNode, number, number][] = [];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, x, level] = next;
    if (node.total * scale < SVG.minFramePx) continue;
    placed.push(next);
    depth = Math.max(depth, level);
    let at = x;
    for (const callee of node.children) {
      pending.push([callee, at, level + 1]);
      at += callee.total * scale;
    }
  }
  const height = SVG.header + (depth + 1) * SVG.row + SVG.margin;
  for (const [node, x, level] of placed) {
    const width = node.total * scale;
    const y = height - SVG.margin - (level + 1) * SVG.row;
    const share = ((node.total / Math.max(1, root.total)) * 100).toFixed(2);
    const fits = Math.floor((width - 6) / SVG.charPx);
    const text =
      fits < 3 ? '' : node.label.length <= fits ? node.label : `${node.label.slice(0, fits - 2)}..`;
    frames.push(
      `<g><title>${escapeXml(`${node.label}: ${node.total} samples, ${share}%`)}</title>` +
        `<rect x="${x.toFixed(2)}" y="${y}" width="${width.toFixed(2)}" height="${SVG.row - 1}" fill="${colour(node.layer)}" rx="2"/>` +
        (text === ''
          ? ''
          : `<text x="${(x + 3).toFixed(2)}" y="${y + SVG.row - 4.5}">${escapeXml(text)}</text>`) +
        '</g>',
    );
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${SVG.width}" height="${height}" viewBox="0 0 ${SVG.width} ${height}" font-family="monospace" font-size="11">`,
    `<rect x="0" y="0" width="${SVG.width}" height="${height}" fill="#fdfdf8" class="background"/>`,
    `<text x="${SVG.width / 2}" y="18" font-size="14" text-anchor="middle">${escapeXml(title)}</text>`,
    `<text x="${SVG.width / 2}" y="34" text-anchor="middle" fill="#666">${root.total} busy samples; width = share of them; colour: raftkit warm, Node blue, npm purple, V8 red</text>`,
    ...frames,
    '</svg>',
    '',
  ].join('\n');
}
