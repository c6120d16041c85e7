/**
 * Reads a V8 .cpuprofile (what `node --cpu-prof` writes) into the tables bench/PROFILE.md quotes:
 * self and inclusive time per function and self time per layer, as shares of the busy samples
 * (every sample but "(idle)"), optionally only inside a window of time (the measured load, not the
 * start-up). Samples are weighted equally: V8 takes them at a fixed interval.
 */

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  /** Microseconds on the monotonic clock (the clock of process.hrtime). */
  startTime: number;
  endTime: number;
  samples?: number[];
  /** Microseconds since the previous sample (the first: since startTime). */
  timeDeltas?: number[];
}

/** A stretch of the monotonic clock in microseconds. */
export interface Window {
  fromUs: number;
  untilUs: number;
}

export interface Share {
  name: string;
  /** Percent of the busy samples. */
  percent: number;
}

export interface ProfileSummary {
  /** Length of the window (of the whole profile without one). */
  seconds: number;
  /** Percent of the samples that were not idle. */
  busyPercent: number;
  byLayer: Share[];
  self: Share[];
  inclusive: Share[];
  /** Inclusive share of every function with each focus name, wherever it is on the stack. */
  focus: Share[];
}

export interface SummaryOptions {
  /** Rows per table (default 20). */
  limit?: number;
  /** Count only the samples inside it. */
  window?: Window;
  /** Function names to report inclusive shares for: the suspects. */
  focus?: string[];
}

/** A readable location: the path inside the repository, or the module name for Node's own code. */
export function shortUrl(url: string): string {
  const dist = url.search(/\/(dist|dist-bench)\//);
  if (dist >= 0) return url.slice(dist + 1);
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) return url.slice(modules + 1);
  return url.replace(/^file:\/\//, '');
}

/**
 * A function's name and place. Native functions have no place, and one name can mean several
 * things (`writeBuffer` is the socket write and the fs write), so they carry their caller's.
 */
function functionKey(frame: CallFrame, caller: CallFrame | undefined): string {
  if (frame.url !== '' || caller === undefined || caller.url === '') return frameLabel(frame);
  return `${frameLabel(frame)} (from ${caller.functionName || '(anonymous)'} ${shortUrl(caller.url)})`;
}

/** A function's name and, for JavaScript, its place: `name path:line`. */
export function frameLabel(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  return frame.url === '' ? name : `${name} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
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

/** The samples taken inside the window (all of them without one). */
export function samplesIn(profile: CpuProfile, window: Window | undefined): number[] {
  const samples = profile.samples ?? [];
  if (window === undefined) return samples;
  const deltas = profile.timeDeltas ?? [];
  const inside: number[] = [];
  let at = profile.startTime;
  samples.forEach((id, i) => {
    at += deltas[i] ?? 0;
    if (at >= window.fromUs && at <= window.untilUs) inside.push(id);
  });
  return inside;
}

export function summarizeProfile(profile: CpuProfile, options: SummaryOptions = {}): ProfileSummary {
  const { limit = 20, window, focus = [] } = options;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const callerOf = (id: number) => byId.get(parent.get(id) ?? -1)?.callFrame;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const layers = new Map<string, number>();
  const focused = new Map<string, number>();
  const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  const samples = samplesIn(profile, window);
  let busy = 0;
  for (const id of samples) {
    const node = byId.get(id);
    if (node === undefined || node.callFrame.functionName === '(idle)') continue;
    busy++;
    add(self, functionKey(node.callFrame, callerOf(id)));
    add(layers, layerOf(node.callFrame));
    const keys = new Set<string>();
    const names = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      if (frame.functionName === '(root)') continue;
      keys.add(functionKey(frame, callerOf(at)));
      names.add(frame.functionName);
    }
    for (const key of keys) add(inclusive, key);
    for (const name of focus) if (names.has(name)) add(focused, name);
  }
  const seconds = window ? window.untilUs - window.fromUs : profile.endTime - profile.startTime;
  return {
    seconds: seconds / 1e6,
    busyPercent: samples.length > 0 ? (busy / samples.length) * 100 : 0,
    byLayer: top(layers, busy, limit),
    self: top(self, busy, limit),
    inclusive: top(inclusive, busy, limit),
    focus: focus.map((name) => ({ name, percent: ((focused.get(name) ?? 0) / Math.max(1, busy)) * 100 })),
  };
}

export function renderProfileSummary(title: string, summary: ProfileSummary): string {
  const rows = (shares: Share[]) =>
    shares.map((share) => `| ${share.percent.toFixed(1)} | \`${share.name}\` |`);
  const table = (header: string, shares: Share[]) =>
    shares.length === 0 ? [] : [`| ${header} |`, '|---:|---|', ...rows(shares), ''];
  return [
    `### ${title}`,
    '',
    `${summary.seconds.toFixed(1)} s profiled, ${summary.busyPercent.toFixed(0)}% of the samples busy; ` +
      'shares below are of the busy samples.',
    '',
    ...table('inclusive % | suspect (every function of that name)', summary.focus),
    ...table('self % | layer', summary.byLayer),
    ...table('self % | function', summary.self),
    ...table('inclusive % | function', summary.inclusive),
  ].join('\n');
}
