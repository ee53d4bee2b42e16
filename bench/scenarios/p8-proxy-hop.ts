/**
 * P8, the proxy hop: calls/s end to end through the Express and Hono example
 * proxies against a directly connected SDK client, at 1, 50 and 500
 * concurrent downstream sessions, against the stateful HTTP bench upstream.
 * Also the proxy's CPU time per forwarded call.
 *
 * @module
 */

import { type RateResult, compareClosedLoops, now } from '../harness.js';
import type { Library } from '../library.js';
import { type Session, closeSessions, closedLoopCalls, connectSessions, counterOf } from '../proxy/clients.js';
import { processCpuMs } from '../proxy/cpu.js';
import { type ExampleName, type ExampleProxy, startExampleProxy } from '../proxy/example-proxy.js';
import type { Row, ScenarioResult } from '../report.js';
import type { Settings } from '../settings.js';
import { startUpstream } from '../upstream.js';

type Variant = 'direct' | ExampleName;

interface AtSize {
  readonly sessions: number;
  readonly rates: Record<Variant, RateResult>;
  /** Proxy CPU per forwarded call over the timed rounds, in ms. */
  readonly cpuMsPerCall: Record<ExampleName, number>;
  /** Sessions whose upstream counter did not match the calls made on them. */
  readonly stateMismatches: number;
  readonly connectMs: number;
}

async function stateMismatches(all: readonly Session[][]): Promise<number> {
  let wrong = 0;
  for (const sessions of all) {
    // First and last session of each variant: enough to catch crossed or replaced upstream sessions.
    for (const session of new Set([sessions[0], sessions[sessions.length - 1]])) {
      if (session !== undefined && (await counterOf(session)) !== session.calls) wrong++;
    }
  }
  return wrong;
}

async function measureAt(
  count: number,
  upstreamUrl: string,
  proxies: Record<ExampleName, ExampleProxy>,
  settings: Settings,
): Promise<AtSize> {
  const connectStart = now();
  const direct = await connectSessions(upstreamUrl, count);
  const express = await connectSessions(proxies.express.url, count);
  const hono = await connectSessions(proxies.hono.url, count);
  const connectMs = now() - connectStart;
  const cpu = { express: { ms: 0, calls: 0 }, hono: { ms: 0, calls: 0 } };
  let measuring = false;
  const throughProxy = (name: ExampleName, sessions: readonly Session[]) => async (deadline: number) => {
    const before = processCpuMs(proxies[name].pid);
    const calls = await closedLoopCalls(sessions, deadline);
    if (measuring) {
      cpu[name].ms += processCpuMs(proxies[name].pid) - before;
      cpu[name].calls += calls;
    }
    return calls;
  };
  try {
    // Warm-up rounds run before `measuring` is set: their CPU is not counted.
    const warm = settings.proxyRates.warmupRounds ?? 1;
    let rounds = 0;
    const variants = {
      direct: (deadline: number) => closedLoopCalls(direct, deadline),
      express: throughProxy('express', express),
      hono: throughProxy('hono', hono),
    };
    const counted = Object.fromEntries(
      Object.entries(variants).map(([name, run]) => [
        name,
        (deadline: number) => {
          measuring = rounds++ >= warm * 3;
          return run(deadline);
        },
      ]),
    ) as typeof variants;
    const rates = await compareClosedLoops<Variant>(counted, settings.proxyRates);
    return {
      sessions: count,
      rates,
      cpuMsPerCall: { express: cpu.express.ms / cpu.express.calls, hono: cpu.hono.ms / cpu.hono.calls },
      stateMismatches: await stateMismatches([direct, express, hono]),
      connectMs,
    };
  } finally {
    await closeSessions([...direct, ...express, ...hono]);
  }
}

function rowsAt(m: AtSize): Row[] {
  const direct = m.rates.direct.median;
  return (['express', 'hono'] as const).flatMap((name): Row[] => {
    const label = name === 'express' ? 'Express' : 'Hono';
    const rate = m.rates[name].median;
    return [
      {
        measure: `${label} example proxy, ${m.sessions} session(s) calling at once`,
        value: rate,
        unit: 'calls/s',
        compare: { label: 'direct SDK client', value: direct, unit: 'calls/s', ratioLabel: 'proxy / direct', ratio: rate / direct },
        target: '≥ 0.5x direct',
        met: rate / direct >= 0.5 && m.stateMismatches === 0,
      },
      {
        measure: `${label} proxy CPU per forwarded call, ${m.sessions} session(s)`,
        value: m.cpuMsPerCall[name],
        unit: 'ms',
        target: '≤ 1.2 ms',
        met: m.cpuMsPerCall[name] <= 1.2,
      },
    ];
  });
}

/** Runs P8. */
export async function runP8(settings: Settings, _lib: Library): Promise<ScenarioResult> {
  const upstream = await startUpstream();
  const started: ExampleProxy[] = [];
  try {
    const express = await startExampleProxy('express', upstream.url);
    started.push(express);
    const hono = await startExampleProxy('hono', upstream.url);
    started.push(hono);
    const results: AtSize[] = [];
    for (const count of settings.proxySessions) results.push(await measureAt(count, upstream.url, { express, hono }, settings));
    const { rounds, sampleMs, warmupRounds } = settings.proxyRates;
    return {
      id: 'P8',
      title: 'end to end through the example proxies',
      rows: results.flatMap(rowsAt),
      notes: [
        'Upstream: the stateful bench counter server (SDK Streamable HTTP, SSE responses) in its own process. Proxies: `examples/express/server.ts` and `examples/hono/server.ts` started as a user starts them (`tsx`, `MCP_GATEWAYS` with one gateway `counter`), each in its own process; they run `src/` through tsx, not the bench build.',
        'Load: this process holds N downstream SDK clients per target (direct to the upstream, through Express, through Hono); in a round every client calls `increment` one call after another until the round ends (a closed loop, N calls in flight). calls/s counts completed calls over the round.',
        `Interleaved rounds (${warmupRounds ?? 1} untimed warm-up, then ${rounds} x ~${sampleMs} ms per variant, order rotating), median reported. The load generator shares the machine with the proxy and the upstream: on 2 cores a proxy (one server plus one client per call) cannot beat ~0.5x.`,
        'Proxy CPU per forwarded call: user + system time of the proxy process (`/proc/<pid>/stat`) over its timed rounds, divided by the calls completed in them; it includes the proxy-side work of nothing else (the GET streams are idle).',
        `State check: the first and last session of each target read their counter back; mismatches: ${results.map((r) => `${r.sessions} sessions: ${r.stateMismatches}`).join(', ')}. Connecting the sessions took ${results.map((r) => `${(r.connectMs / 1000).toFixed(1)} s`).join(', ')}.`,
      ],
      details: { results },
    };
  } finally {
    for (const proxy of started) await proxy.close();
    await upstream.close();
  }
}
