/**
 * Reads a V8 `.cpuprofile` (from `node --cpu-prof`) and sums its time by
 * component (SDK server transport, SDK client transport, JSON, zod, our
 * bridge, the HTTP framework, fetch/undici, ...), self and inclusive, plus
 * the top functions. Used by `profile-proxy.ts`.
 *
 * @module
 */

/** The parts of a `.cpuprofile` this reads. */
interface CpuProfile {
  readonly nodes: ReadonlyArray<{
    readonly id: number;
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
    readonly children?: readonly number[];
  }>;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  /** Monotonic clock at the first sample, in µs (CLOCK_MONOTONIC on Linux, as `process.hrtime`). */
  readonly startTime: number;
}

/** A time window on the monotonic clock, in µs: only samples inside it are counted. */
export interface Window {
  readonly fromUs: number;
  readonly toUs: number;
}

/** Time of one component or function, in ms. */
export interface Share {
  readonly name: string;
  readonly selfMs: number;
  /** Time with this component anywhere on the stack (each sample counted once). */
  readonly inclusiveMs: number;
}

/** A profile summed up. */
export interface ProfileSummary {
  /** All sampled time, idle excluded, in ms. */
  readonly busyMs: number;
  readonly idleMs: number;
  readonly components: readonly Share[];
  readonly functions: readonly Share[];
}

/** Components, first match wins; tested against `url` and `functionName`. */
const COMPONENTS: ReadonlyArray<readonly [string, (url: string, fn: string) => boolean]> = [
  ['idle', (url, fn) => url === '' && fn === '(idle)'],
  ['garbage collection', (url, fn) => url === '' && fn === '(garbage collector)'],
  ['V8 without a JS frame (program: compiler, ICs, builtins)', (url, fn) => url === '' && fn === '(program)'],
  [
    'socket writes (native writev / write*String: syscall incl. loopback TCP)',
    (url, fn) => url === '' && /^(writev|writeBuffer|write\w*String|shutdown)$/.test(fn),
  ],
  ['JSON parse / serialize', (url, fn) => url === '' && /^(parse|stringify|JSON\.parse|JSON\.stringify)$/.test(fn)],
  ['zod validation', (url) => url.includes('/node_modules/zod/')],
  ['SDK server transport', (url) => /@modelcontextprotocol\/sdk\/dist\/\w+\/server\//.test(url)],
  ['SDK client transport', (url) => /@modelcontextprotocol\/sdk\/dist\/\w+\/client\//.test(url)],
  ['SDK protocol (shared)', (url) => /@modelcontextprotocol\/sdk\/dist\/\w+\/(shared|types)/.test(url)],
  ['our bridge code (src/bridge)', (url) => url.includes('/src/bridge/')],
  ['our registry, factory, request (src/)', (url) => url.includes('/src/')],
  ['example proxy code (examples/)', (url) => url.includes('/examples/')],
  [
    'express (+ router, body-parser)',
    (url) =>
      /\/node_modules\/(express|router|body-parser|raw-body|finalhandler|send|type-is|content-type|iconv-lite|on-finished|qs|mime-types|accepts|negotiator)\//.test(
        url,
      ),
  ],
  ['hono', (url) => url.includes('/node_modules/hono/')],
  ['@hono/node-server (Node ↔ web adapter; the SDK Node transport uses it too)', (url) => url.includes('/node_modules/@hono/node-server/')],
  ['eventsource-parser / SSE', (url) => /eventsource/.test(url)],
  [
    'AbortController / AbortSignal / DOMException / Node errors',
    (url) => /internal\/(abort_controller|worker\/js_transferable|per_context\/domexception|errors)/.test(url),
  ],
  ['fetch / undici / web streams', (url) => /undici|internal\/webstreams|internal\/deps\/undici|fetch/.test(url)],
  ['node:http / net / streams', (url) => /^node:(_http|http|net|internal\/(http|streams|stream_base|net|timers))/.test(url)],
  ['other node internals', (url) => url.startsWith('node:')],
  ['other dependencies', (url) => url.includes('/node_modules/')],
  ['other native (no script)', () => true],
];

function componentOf(url: string, fn: string): string {
  for (const [name, test] of COMPONENTS) if (test(url, fn)) return name;
  return 'other native (no script)';
}

function shortUrl(url: string): string {
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) return url.slice(modules + '/node_modules/'.length);
  const src = url.search(/\/(src|examples|bench)\//);
  return src >= 0 ? url.slice(src + 1) : url;
}

/** Sums a profile up. */
export function summarizeProfile(profile: CpuProfile, window?: Window, topFunctions = 25): ProfileSummary {
  const parent = new Map<number, number>();
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const component = new Map<number, string>();
  const fnKey = new Map<number, string>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    component.set(node.id, componentOf(url, functionName));
    fnKey.set(node.id, `${functionName || '(anonymous)'} ${url === '' ? '' : `${shortUrl(url)}:${lineNumber + 1}`}`.trim());
  }
  const self = { component: new Map<string, number>(), fn: new Map<string, number>() };
  const inclusive = { component: new Map<string, number>(), fn: new Map<string, number>() };
  const add = (map: Map<string, number>, key: string, ms: number): void => {
    map.set(key, (map.get(key) ?? 0) + ms);
  };
  let idleMs = 0;
  let busyMs = 0;
  let at = profile.startTime;
  profile.samples.forEach((leaf, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    at += profile.timeDeltas[i] ?? 0;
    if (window !== undefined && (at < window.fromUs || at > window.toUs)) return;
    const leafComponent = component.get(leaf) as string;
    if (leafComponent === 'idle') {
      idleMs += ms;
      return;
    }
    busyMs += ms;
    add(self.component, leafComponent, ms);
    add(self.fn, fnKey.get(leaf) as string, ms);
    const seenComponents = new Set<string>();
    const seenFns = new Set<string>();
    for (let id: number | undefined = leaf; id !== undefined && byId.has(id); id = parent.get(id)) {
      seenComponents.add(component.get(id) as string);
      seenFns.add(fnKey.get(id) as string);
    }
    for (const name of seenComponents) add(inclusive.component, name, ms);
    for (const name of seenFns) add(inclusive.fn, name, ms);
  });
  const shares = (selfMap: Map<string, number>, inclusiveMap: Map<string, number>): Share[] =>
    [...new Set([...selfMap.keys(), ...inclusiveMap.keys()])].map((name) => ({
      name,
      selfMs: selfMap.get(name) ?? 0,
      inclusiveMs: inclusiveMap.get(name) ?? 0,
    }));
  const components = shares(self.component, inclusive.component)
    .filter((s) => s.name !== 'idle')
    .sort((a, b) => b.selfMs - a.selfMs);
  const skip = /^\((root|program|idle)\)$/;
  const functions = shares(self.fn, inclusive.fn).filter((s) => !skip.test(s.name));
  const topSelf = [...functions].sort((a, b) => b.selfMs - a.selfMs).slice(0, topFunctions);
  const topInclusive = [...functions].sort((a, b) => b.inclusiveMs - a.inclusiveMs).slice(0, topFunctions);
  return { busyMs, idleMs, components, functions: [...new Set([...topSelf, ...topInclusive])] };
}

/**
 * The summary as markdown. Sampled time on a loaded machine is wall time (a
 * descheduled process is sampled where it stopped), so per-call figures are
 * each share of the samples times `cpuUsPerCall`, the process's CPU time per
 * call measured apart (from `/proc`).
 */
export function profileMarkdown(summary: ProfileSummary, calls: number, cpuUsPerCall: number, topFunctions = 25): string {
  const perCall = (ms: number): string => `${((ms / summary.busyMs) * cpuUsPerCall).toFixed(0)} µs`;
  const pct = (ms: number): string => `${((ms / summary.busyMs) * 100).toFixed(1)}%`;
  const topTable = (title: string, column: string, time: (f: Share) => number): string[] => [
    `| ${title} | ${column} | Per call |`,
    '|---|---:|---:|',
    ...[...summary.functions]
      .sort((a, b) => time(b) - time(a))
      .slice(0, topFunctions)
      .map((f) => `| \`${f.name}\` | ${pct(time(f))} | ${perCall(time(f))} |`),
  ];
  const lines = [
    `Samples: busy ${summary.busyMs.toFixed(0)} ms (idle ${summary.idleMs.toFixed(0)} ms) over ${calls} forwarded calls; per-call columns scale each share to ${cpuUsPerCall.toFixed(0)} µs of CPU per call.`,
    '',
    '| Component | Self | Self per call | Inclusive | Inclusive per call |',
    '|---|---:|---:|---:|---:|',
    ...summary.components.map((c) => `| ${c.name} | ${pct(c.selfMs)} | ${perCall(c.selfMs)} | ${pct(c.inclusiveMs)} | ${perCall(c.inclusiveMs)} |`),
    '',
    ...topTable('Top self time', 'Self', (f) => f.selfMs),
    '',
    ...topTable('Top inclusive time', 'Inclusive', (f) => f.inclusiveMs),
  ];
  return lines.join('\n');
}
