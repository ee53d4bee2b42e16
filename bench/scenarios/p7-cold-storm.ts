/**
 * P7, cold storm: 1,000 downstream sessions acquire at once on one gateway,
 * none of them warm. Total time, and the peak of concurrent `initialize`
 * exchanges the upstream saw, against `createConcurrencyPerGateway`; beside
 * it, the same storm of bare SDK clients with nothing to bound it.
 *
 * @module
 */

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { now } from '../harness.js';
import type { Library } from '../library.js';
import type { ScenarioResult } from '../report.js';
import type { Settings } from '../settings.js';
import { type Upstream, type UpstreamStats, startUpstream } from '../upstream.js';

/** The registry default; stated here so the report can quote it. */
const CREATE_CONCURRENCY = 16;
/** Sessions of the untimed warm-up storm through each path, so neither pays for the JIT alone. */
const WARMUP_SESSIONS = 50;

interface Storm {
  readonly totalMs: number;
  readonly ok: number;
  readonly failed: number;
  readonly stats: UpstreamStats;
  readonly closeMs: number;
}

async function registryStorm(lib: Library, upstream: Upstream, sessions: number, prefix = 'storm'): Promise<Storm> {
  const { SessionCreateRequest, UpstreamSessionRegistry, mcpSessionFactory } = lib.root;
  const registry = new UpstreamSessionRegistry({
    factory: mcpSessionFactory(),
    createConcurrencyPerGateway: CREATE_CONCURRENCY,
  });
  const requests = Array.from({ length: sessions }, (_, i) =>
    SessionCreateRequest.from({ downstreamSessionId: `${prefix}-${i}`, gatewayId: 'storm', url: upstream.url }),
  );
  await upstream.resetStats();
  const start = now();
  const results = await Promise.allSettled(requests.map((r) => registry.acquire(r)));
  const totalMs = now() - start;
  for (const result of results) if (result.status === 'fulfilled') result.value.release();
  const stats = await upstream.stats();
  const closeStart = now();
  await registry.closeAll();
  const closeMs = now() - closeStart;
  const ok = results.filter((r) => r.status === 'fulfilled').length;
  return { totalMs, ok, failed: sessions - ok, stats, closeMs };
}

async function bareStorm(upstream: Upstream, sessions: number): Promise<Storm> {
  await upstream.resetStats();
  const clients = Array.from({ length: sessions }, () => ({
    client: new Client({ name: 'bench-bare', version: '1.0.0' }),
    transport: new StreamableHTTPClientTransport(new URL(upstream.url)),
  }));
  const start = now();
  const results = await Promise.allSettled(clients.map(({ client, transport }) => client.connect(transport)));
  const totalMs = now() - start;
  const stats = await upstream.stats();
  const closeStart = now();
  await Promise.all(
    clients.map(async ({ client, transport }) => {
      await transport.terminateSession().catch(() => {});
      await client.close();
    }),
  );
  const closeMs = now() - closeStart;
  const ok = results.filter((r) => r.status === 'fulfilled').length;
  return { totalMs, ok, failed: sessions - ok, stats, closeMs };
}

/** Runs P7. */
export async function runP7(settings: Settings, lib: Library): Promise<ScenarioResult> {
  const sessions = settings.stormSessions;
  const upstream = await startUpstream();
  try {
    // Without latency the upstream answers each initialize before the next one
    // arrives, and no bound is ever tested; a remote upstream is slower.
    await upstream.setLatency(settings.addedLatencyMs);
    await registryStorm(lib, upstream, WARMUP_SESSIONS, 'warmup');
    await bareStorm(upstream, WARMUP_SESSIONS);
    const registry = await registryStorm(lib, upstream, sessions);
    const bare = await bareStorm(upstream, sessions);
    const peak = registry.stats.peakConcurrentInitializations;
    return {
      id: 'P7',
      title: 'cold storm',
      rows: [
        {
          measure: `${sessions} cold acquires at once, one gateway, +${settings.addedLatencyMs} ms/exchange: peak concurrent initialize at the upstream`,
          value: peak,
          unit: 'count',
          compare: {
            label: 'createConcurrencyPerGateway',
            value: CREATE_CONCURRENCY,
            unit: 'count',
            ratioLabel: 'peak / bound',
            ratio: peak / CREATE_CONCURRENCY,
          },
          target: `never above ${CREATE_CONCURRENCY}`,
          met: peak <= CREATE_CONCURRENCY && registry.failed === 0,
        },
        {
          measure: `same: total time until all ${sessions} leases are held`,
          value: registry.totalMs,
          unit: 'ms',
          compare: {
            label: `${sessions} bare SDK connects at once (peak ${bare.stats.peakConcurrentInitializations})`,
            value: bare.totalMs,
            unit: 'ms',
            ratioLabel: 'registry / bare',
            ratio: registry.totalMs / bare.totalMs,
          },
        },
      ],
      notes: [
        `Default factory against the child-process upstream with ${settings.addedLatencyMs} ms added to every HTTP exchange (on plain loopback the upstream answers each initialize before the next arrives, so no bound is exercised); \`createConcurrencyPerGateway: ${CREATE_CONCURRENCY}\` (the default). The upstream counts an \`initialize\` exchange as in flight from its arrival until its response closed.`,
        `Both paths first ran an untimed storm of ${WARMUP_SESSIONS} sessions (JIT warm-up). Total times are CPU-bound on a 2-core machine (client and upstream each create ${sessions} SDK sessions) and vary run to run; the peak is the measure that matters.`,
        `Registry: ${registry.ok} leases, ${registry.failed} failures, ${registry.stats.initializations} initialize requests (one per downstream session), closeAll of ${sessions} sessions took ${registry.closeMs.toFixed(0)} ms.`,
        `Bare baseline: ${sessions} SDK \`Client.connect\` calls at once with no bound: ${bare.ok} connected, ${bare.failed} failed, peak ${bare.stats.peakConcurrentInitializations} concurrent initialize; closing them took ${bare.closeMs.toFixed(0)} ms.`,
      ],
      details: { registry, bare },
    };
  } finally {
    await upstream.close();
  }
}
