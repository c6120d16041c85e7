/**
 * Reads a V8 .cpuprofile (what `node --cpu-prof` writes) into the tables bench/PROFILE.md quotes:
 * self and inclusive time per function and self time per layer, as shares of the busy samples
 * (every sample but "(idle)"). Samples are weighted equally: V8 takes them at a fixed interval.
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

export interface Share {
  name: string;
  /** Percent of the busy samples. */
  percent: number;
}

export interface ProfileSummary {
  seconds: number;
  /** Percent of all samples that were not idle. */
  busyPercent: number;
  byLayer: Share[];
  self: Share[];
  inclusive: Share[];
}

/** A readable location: the path inside the repository, or the module name for Node's own code. */
function shortUrl(url: string): string {
  const dist = url.search(/\/(dist|dist-bench)\//);
  if (dist >= 0) return url.slice(dist + 1);
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) return url.slice(modules + 1);
  return url.replace(/^file:\/\//, '');
}

function functionKey(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  if (frame.url === '') return name;
  return `${name} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
}

/** Where a function lives: a raftkit layer, an npm package, Node's own code, or V8's work. */
export function layerOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') {
    if (functionName === '(garbage collector)') return 'V8 garbage collector';
    if (functionName === '(program)') return 'V8/native (program)';
    return 'V8 builtins and native calls';
  }
  const layer =
    /\/dist(?:-bench)?\/(?:src\/)?([^/]+)\//.exec(url) ??
    /\/dist(?:-bench)?\/(?:src\/)?([^/]+)\.js$/.exec(url);
  if (layer && !url.includes('/node_modules/')) return `raftkit ${layer[1]}`;
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return `npm ${pkg[1]}`;
  if (url.startsWith('node:')) {
    const name = url.slice('node:'.length).replace(/^internal\//, '');
    return `node ${name.split('/')[0].replace(/^_/, '').replace(/_.*$/, '')}`;
  }
  return 'other';
}

function top(counts: Map<string, number>, busy: number, limit: number): Share[] {
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, count]) => ({ name, percent: (count / busy) * 100 }));
}

export function summarizeProfile(profile: CpuProfile, limit = 20): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const layers = new Map<string, number>();
  const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  let busy = 0;
  const samples = profile.samples ?? [];
  for (const id of samples) {
    const node = byId.get(id);
    if (node === undefined || node.callFrame.functionName === '(idle)') continue;
    busy++;
    add(self, functionKey(node.callFrame));
    add(layers, layerOf(node.callFrame));
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      if (frame.functionName === '(root)') continue;
      const key = functionKey(frame);
      if (!seen.has(key)) {
        seen.add(key);
        add(inclusive, key);
      }
    }
  }
  return {
    seconds: (profile.endTime - profile.startTime) / 1e6,
    busyPercent: samples.length > 0 ? (busy / samples.length) * 100 : 0,
    byLayer: top(layers, busy, limit),
    self: top(self, busy, limit),
    inclusive: top(inclusive, busy, limit),
  };
}

export function renderProfileSummary(title: string, summary: ProfileSummary): string {
  const rows = (shares: Share[]) =>
    shares.map((share) => `| ${share.percent.toFixed(1)} | \`${share.name}\` |`);
  return [
    `### ${title}`,
    '',
    `${summary.seconds.toFixed(1)} s profiled, ${summary.busyPercent.toFixed(0)}% of the samples busy; shares below are of the busy samples.`,
    '',
    '| self % | layer |',
    '|---:|---|',
    ...rows(summary.byLayer),
    '',
    '| self % | function |',
    '|---:|---|',
    ...rows(summary.self),
    '',
    '| inclusive % | function |',
    '|---:|---|',
    ...rows(summary.inclusive),
    '',
  ].join('\n');
}
