/**
 * P4, scale: 100k live sessions with the fake factory. Heap per session after
 * a full GC, and the cost of an acquire hit, `evictGateway` (100 sessions),
 * `evictSession` and `snapshot()` at 100k, each compared with the same
 * operation at 10k sessions to show what grows with the total.
 *
 * @module
 */

import type { FactoryContext, SessionCreateRequest, UpstreamSessionRegistry } from '../../src/index.js';
import type { FakeClient } from '../../src/testing/index.js';
import { canCollectGarbage, collectGarbage, compareRates, median, now } from '../harness.js';
import type { Library } from '../library.js';
import type { Row, ScenarioResult } from '../report.js';
import type { Settings } from '../settings.js';

/** Sessions per gateway: `evictGateway` always retires this many. */
const PER_GATEWAY = 100;
/** Sessions per page of `registry.sessions()`. */
const PAGE = 500;
/** Concurrent acquires while filling the registry. */
const FILL_BATCH = 1_000;

function requestsFor(lib: Library, count: number, prefix: string): SessionCreateRequest[] {
  const { SessionCreateRequest } = lib.root;
  const requests: SessionCreateRequest[] = [];
  // V8 keeps a string built by concatenation as a rope until it is first hashed
  // or compared, and then allocates its flat copy. Hash key and fingerprint here,
  // so that this one-time cost lands on the request (where it belongs) and not
  // on whichever registry operation happens to read them first.
  const flatten = new Set<string>();
  for (let i = 0; i < count; i++) {
    const request = SessionCreateRequest.from({
      downstreamSessionId: `${prefix}-downstream-${i}`,
      gatewayId: `${prefix}-gateway-${Math.floor(i / PER_GATEWAY)}`,
      url: 'http://127.0.0.1:1/mcp',
    });
    flatten.add(request.key).add(request.fingerprint).add(request.downstreamSessionId).add(request.gatewayId);
    flatten.clear();
    requests.push(request);
  }
  return requests;
}

function heapUsed(): number {
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

interface Filled {
  readonly registry: UpstreamSessionRegistry<FakeClient>;
  readonly requests: readonly SessionCreateRequest[];
  readonly fillMs: number;
  /** Heap growth of the filled registry (factory connections included), per session, in bytes. */
  readonly bytesPerSession: number;
}

async function fill(lib: Library, count: number, prefix: string): Promise<Filled> {
  const requests = requestsFor(lib, count, prefix);
  const fake = lib.testing.createFakeFactory();
  const registry = new lib.root.UpstreamSessionRegistry({
    factory: fake.factory,
    idleTtlMs: 0,
    idleValidationMs: Number.POSITIVE_INFINITY,
    maxSessions: count * 2,
  });
  const before = heapUsed();
  const start = now();
  for (let i = 0; i < count; i += FILL_BATCH) {
    const leases = await Promise.all(requests.slice(i, i + FILL_BATCH).map((r) => registry.acquire(r)));
    for (const lease of leases) lease.release();
  }
  const fillMs = now() - start;
  const after = heapUsed();
  if (registry.size !== count) throw new Error(`expected ${count} live sessions, got ${registry.size}`);
  return { registry, requests, fillMs, bytesPerSession: (after - before) / count };
}

/** Heap per connection of the fake factory alone, called the way the registry calls it. */
async function factoryBytesPerConnection(lib: Library, requests: readonly SessionCreateRequest[]): Promise<number> {
  const count = requests.length;
  const fake = lib.testing.createFakeFactory();
  const ctx: FactoryContext = { signal: new AbortController().signal, onBroken: () => {} };
  const held: unknown[] = new Array(count);
  const before = heapUsed();
  for (let i = 0; i < count; i++) held[i] = await fake.factory(requests[i] as SessionCreateRequest, ctx);
  const after = heapUsed();
  if (held.length !== count) throw new Error('unreachable');
  return (after - before) / count;
}

/** Heap per prebuilt `SessionCreateRequest` (the registry keeps the one it was created with). */
function requestBytes(lib: Library, count: number): number {
  const before = heapUsed();
  const requests = requestsFor(lib, count, 'request-only');
  const after = heapUsed();
  if (requests.length !== count) throw new Error('unreachable');
  return (after - before) / count;
}

interface Costs {
  /** One hot key, every other session idle. */
  readonly hotOpsPerSec: number;
  /** 4,096 keys round robin. */
  readonly acquireOpsPerSec: number;
  readonly evictGatewayMs: number;
  readonly evictSessionUs: number;
  readonly snapshot: Timing;
  /** `snapshot({ sessions: false })`. */
  readonly counts: Timing;
  /** `sessions({ limit: 500 })`: the first page, and the last (its cursor skips every earlier session). */
  readonly firstPage: Timing;
  readonly lastPage: Timing;
}

/** Timings of one operation: back to back, and right after a forced full GC. */
interface Timing {
  /** Median of calls in a row (after one untimed call): the garbage of each is the next one's to collect, as in a running proxy. */
  readonly steadyMs: number;
  /** Median of calls each made 50 ms after a forced full GC (V8 then recompiles and refills caches, and sweeps lazily). */
  readonly afterGcMs: number;
}

/** A full GC, then time for V8's concurrent sweeper, so the next timed call does not sweep for it. */
async function settleHeap(): Promise<void> {
  collectGarbage();
  await new Promise((resolve) => setTimeout(resolve, 50));
}

async function timed(times: number, run: () => void): Promise<Timing> {
  const afterGc: number[] = [];
  for (let i = 0; i < times; i++) {
    await settleHeap();
    const start = now();
    run();
    afterGc.push(now() - start);
  }
  run();
  const steady: number[] = [];
  for (let i = 0; i < times; i++) {
    const start = now();
    run();
    steady.push(now() - start);
  }
  return { steadyMs: median(steady), afterGcMs: median(afterGc) };
}

async function costsAt(filled: Filled, settings: Settings): Promise<Costs> {
  const { registry, requests } = filled;
  // Hits spread over many keys, in a fixed pseudo-random order, so the map is not one hot entry.
  const keys = Array.from({ length: 4096 }, (_, i) => requests[(i * 7919) % requests.length] as SessionCreateRequest);
  const hot = requests[Math.floor(requests.length / 2)] as SessionCreateRequest;
  let next = 0;
  const rates = await compareRates(
    {
      hot: async (n) => {
        for (let i = 0; i < n; i++) {
          const lease = await registry.acquire(hot);
          lease.release();
        }
      },
      acquire: async (n) => {
        for (let i = 0; i < n; i++) {
          const lease = await registry.acquire(keys[next++ & 4095] as SessionCreateRequest);
          lease.release();
        }
      },
    },
    { ...settings.rates, gcBetweenRounds: false },
  );

  const gateways = requests.length / PER_GATEWAY;
  // At most a quarter of the gateways, so that the size barely changes while measuring.
  const gatewayEvictions = Math.min(settings.scaleEvictions, Math.floor(gateways / 4));
  const evictGateway: number[] = [];
  for (let i = 0; i < gatewayEvictions; i++) {
    // Gateways from the far end, so that evictSession below has its own sessions left.
    const gatewayId = (requests[(gateways - 1 - i) * PER_GATEWAY] as SessionCreateRequest).gatewayId;
    const start = now();
    const retired = await registry.evictGateway(gatewayId);
    evictGateway.push(now() - start);
    if (retired !== PER_GATEWAY) throw new Error(`evictGateway retired ${retired}, expected ${PER_GATEWAY}`);
  }

  const evictSession: number[] = [];
  for (let i = 0; i < settings.scaleEvictions; i++) {
    const request = requests[i * 3] as SessionCreateRequest;
    const start = now();
    const retired = await registry.evictSession(request.downstreamSessionId);
    evictSession.push((now() - start) * 1000);
    if (retired !== 1) throw new Error(`evictSession retired ${retired}, expected 1`);
  }

  let sessions: readonly { readonly connectionId: number }[] = [];
  const snapshot = await timed(settings.scaleSnapshots, () => {
    sessions = registry.snapshot().sessions;
    if (sessions.length !== registry.size) throw new Error('snapshot size mismatch');
  });
  const counts = await timed(settings.scaleSnapshots, () => registry.snapshot({ sessions: false }));
  const firstPage = await timed(settings.scaleSnapshots, () => registry.sessions({ limit: PAGE }));
  const lastCursor = String(sessions[sessions.length - PAGE - 1]?.connectionId);
  const lastPage = await timed(settings.scaleSnapshots, () => {
    if (registry.sessions({ cursor: lastCursor, limit: PAGE }).sessions.length !== PAGE) throw new Error('last page size mismatch');
  });

  return {
    hotOpsPerSec: rates.hot.median,
    acquireOpsPerSec: rates.acquire.median,
    evictGatewayMs: median(evictGateway),
    evictSessionUs: median(evictSession),
    snapshot,
    counts,
    firstPage,
    lastPage,
  };
}

/** Runs P4. */
export async function runP4(settings: Settings, lib: Library): Promise<ScenarioResult> {
  const large = settings.scaleSessions;
  const small = settings.scaleSmallSessions;
  const gcAvailable = canCollectGarbage();

  const phases: Record<string, number> = {};
  let mark = now();
  const phase = (name: string): void => {
    const at = now();
    phases[name] = Math.round(at - mark);
    mark = at;
  };

  // Per-object sizes do not depend on how many objects there are: measured at the small size, first, on a clean heap.
  const reqBytes = requestBytes(lib, small);
  phase('request bytes');

  const smallFilled = await fill(lib, small, 'small');
  phase('fill small');
  const smallCosts = await costsAt(smallFilled, settings);
  phase('measure small');
  const factoryBytes = await factoryBytesPerConnection(lib, smallFilled.requests);
  phase('factory bytes');
  await settleHeap();
  const smallCloseStart = now();
  await smallFilled.registry.closeAll();
  const smallCloseAllMs = now() - smallCloseStart;
  phase('closeAll small');

  const largeFilled = await fill(lib, large, 'large');
  phase('fill large');
  const largeCosts = await costsAt(largeFilled, settings);
  phase('measure large');
  const snapshotBytes = JSON.stringify(largeFilled.registry.snapshot()).length;
  // The same clean heap at both sizes: the 20 MiB JSON just made is not closeAll()'s garbage to collect.
  await settleHeap();
  const closeStart = now();
  await largeFilled.registry.closeAll();
  const closeAllMs = now() - closeStart;
  phase('closeAll large');

  const bookkeeping = largeFilled.bytesPerSession - factoryBytes;
  const label = (n: number): string => `${n / 1000}k`;
  const flat = (ratio: number): boolean => ratio <= 2;
  /** The full snapshot at both sizes, timed one way (see {@link Timing}). */
  const snapshotRow = (measure: string, timing: keyof Timing): Row => ({
    measure,
    value: largeCosts.snapshot[timing],
    unit: 'ms',
    target: '≤ 20 ms',
    met: largeCosts.snapshot[timing] <= 20,
    compare: {
      label: `at ${label(small)}`,
      value: smallCosts.snapshot[timing],
      unit: 'ms',
      ratioLabel: `${label(large)} / ${label(small)}`,
      ratio: largeCosts.snapshot[timing] / smallCosts.snapshot[timing],
    },
  });

  const rows: Row[] = [
    {
      measure: `registry bookkeeping per session at ${label(large)} (heap after GC, fake connection subtracted)`,
      value: gcAvailable ? bookkeeping : Number.NaN,
      unit: 'B',
      compare: {
        label: 'total incl. fake connection',
        value: largeFilled.bytesPerSession,
        unit: 'B',
        ratioLabel: 'bookkeeping / total',
        ratio: bookkeeping / largeFilled.bytesPerSession,
      },
      target: '≤ 1 KiB',
      ...(gcAvailable ? { met: bookkeeping <= 1024 } : {}),
    },
    {
      measure: 'prebuilt SessionCreateRequest per session (held by caller and registry)',
      value: gcAvailable ? reqBytes : Number.NaN,
      unit: 'B',
    },
    {
      measure: `acquire + release hit, one hot key among ${label(large)} idle sessions`,
      value: largeCosts.hotOpsPerSec,
      unit: 'ops/s',
      compare: {
        label: `among ${label(small)}`,
        value: smallCosts.hotOpsPerSec,
        unit: 'ops/s',
        ratioLabel: `${label(large)} / ${label(small)}`,
        ratio: largeCosts.hotOpsPerSec / smallCosts.hotOpsPerSec,
      },
    },
    {
      measure: `acquire + release hit at ${label(large)} (4,096 keys round robin)`,
      value: largeCosts.acquireOpsPerSec,
      unit: 'ops/s',
      compare: {
        label: `at ${label(small)}`,
        value: smallCosts.acquireOpsPerSec,
        unit: 'ops/s',
        ratioLabel: `${label(large)} / ${label(small)}`,
        ratio: largeCosts.acquireOpsPerSec / smallCosts.acquireOpsPerSec,
      },
    },
    {
      measure: `evictGateway of ${PER_GATEWAY} among ${label(large)}`,
      value: largeCosts.evictGatewayMs,
      unit: 'ms',
      compare: {
        label: `${PER_GATEWAY} among ${label(small)}`,
        value: smallCosts.evictGatewayMs,
        unit: 'ms',
        ratioLabel: `${label(large)} / ${label(small)}`,
        ratio: largeCosts.evictGatewayMs / smallCosts.evictGatewayMs,
      },
      target: 'proportional to evicted (ratio ≤ 2 for 10x sessions)',
      met: flat(largeCosts.evictGatewayMs / smallCosts.evictGatewayMs),
    },
    {
      measure: `evictSession at ${label(large)}`,
      value: largeCosts.evictSessionUs,
      unit: 'µs',
      compare: {
        label: `at ${label(small)}`,
        value: smallCosts.evictSessionUs,
        unit: 'µs',
        ratioLabel: `${label(large)} / ${label(small)}`,
        ratio: largeCosts.evictSessionUs / smallCosts.evictSessionUs,
      },
      target: 'proportional to evicted (ratio ≤ 2 for 10x sessions)',
      met: flat(largeCosts.evictSessionUs / smallCosts.evictSessionUs),
    },
    snapshotRow(`snapshot() at ${label(large)} (full form), calls in a row`, 'steadyMs'),
    snapshotRow('same, each call right after a forced full GC', 'afterGcMs'),
    {
      measure: `snapshot({ sessions: false }) at ${label(large)} (counts only, ${large / PER_GATEWAY} gateways), calls in a row`,
      value: largeCosts.counts.steadyMs * 1000,
      unit: 'µs',
      compare: {
        label: `right after a forced full GC`,
        value: largeCosts.counts.afterGcMs * 1000,
        unit: 'µs',
        ratioLabel: 'in a row / after GC',
        ratio: largeCosts.counts.steadyMs / largeCosts.counts.afterGcMs,
      },
    },
    {
      measure: `sessions({ limit: ${PAGE} }) at ${label(large)}: first page, calls in a row`,
      value: largeCosts.firstPage.steadyMs,
      unit: 'ms',
      compare: {
        label: `last page (its cursor skips ${label(large - PAGE)} sessions)`,
        value: largeCosts.lastPage.steadyMs,
        unit: 'ms',
        ratioLabel: 'first / last',
        ratio: largeCosts.firstPage.steadyMs / largeCosts.lastPage.steadyMs,
      },
    },
    {
      measure: `fill ${label(large)} cold (concurrent acquires in batches of ${FILL_BATCH}, fake factory)`,
      value: (large * 1000) / largeFilled.fillMs,
      unit: 'ops/s',
      compare: {
        label: `fill ${label(small)}`,
        value: (small * 1000) / smallFilled.fillMs,
        unit: 'ops/s',
        ratioLabel: `${label(large)} / ${label(small)}`,
        ratio: smallFilled.fillMs / small / (largeFilled.fillMs / large),
      },
    },
  ];
  const closeRatio = closeAllMs / smallCloseAllMs;
  rows.push(
    {
      measure: `closeAll() of ${label(large)} idle sessions (fake close resolves at once)`,
      value: closeAllMs,
      unit: 'ms',
      target: '≤ 1 s',
      met: closeAllMs <= 1_000,
    },
    {
      measure: `same, against closeAll() of ${label(small)}`,
      value: closeAllMs,
      unit: 'ms',
      compare: {
        label: `${label(small)} idle sessions`,
        value: smallCloseAllMs,
        unit: 'ms',
        ratioLabel: `${label(large)} / ${label(small)}`,
        ratio: closeRatio,
      },
      target: `≤ ${large / small}x (linear)`,
      met: closeRatio <= large / small,
    },
  );
  return {
    id: 'P4',
    title: `scale (${label(large)} live sessions)`,
    rows,
    notes: [
      `Fake factory from \`/testing\`, \`idleTtlMs: 0\`, \`idleValidationMs: Infinity\`, \`maxSessions\` ${2 * large}; ${PER_GATEWAY} downstream sessions per gateway (${large / PER_GATEWAY} gateways at ${label(large)}), one upstream session each.`,
      gcAvailable
        ? `Heap: \`process.memoryUsage().heapUsed\` after two forced GCs, before and after filling, divided by the sessions; the prebuilt requests exist before the first reading. The fake factory's own cost per connection (${Math.round(factoryBytes)} B: FakeClient, handle, frozen connection, closures; measured at ${label(small)} by calling the factory directly with one shared context) is subtracted to get the registry's bookkeeping (Binding, SessionInfo, AbortController, deferred, map and set entries, downstream and gateway state).`
        : 'Heap figures need `--expose-gc` (`npm run bench` passes it); they are n/a in this run.',
      `evictGateway and evictSession are timed one call at a time (median of up to ${settings.scaleEvictions} calls each at each size; evictGateway on at most a quarter of the gateways), including the close of the fake connections; the same operations at ${label(small)} sessions show whether the cost follows the sessions evicted or all sessions.`,
      'Acquire rates: interleaved rounds without a GC between them (a full GC of this heap takes longer than a round). The hot-key row is the common shape of a busy proxy: one active downstream session among many idle ones.',
      `closeAll() is timed on each registry once, after its other measurements (${label(large)} and ${label(small)} sessions, every one idle; the fake close resolves at once), so it measures the registry's own per-session close work and garbage.`,
      `snapshot() is O(sessions) by design (it lists every session); at ${label(large)} its JSON is ${(snapshotBytes / 1024 / 1024).toFixed(1)} MiB. Operators who poll use \`snapshot({ sessions: false })\` (counts, O(gateways) in time and size: the counts-only row grows with the ${large / PER_GATEWAY} gateways, not the sessions) and page through \`sessions({ cursor, limit })\` (O(limit) to build, plus the sessions a cursor skips).`,
    ],
    details: { small: { ...smallCosts, fillMs: smallFilled.fillMs, bytesPerSession: smallFilled.bytesPerSession }, large: { ...largeCosts, fillMs: largeFilled.fillMs, bytesPerSession: largeFilled.bytesPerSession }, factoryBytes, requestBytes: reqBytes, phases },
  };
}
