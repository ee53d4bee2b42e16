/**
 * P2/P3, tool calls over loopback HTTP against a stateful SDK counter server:
 * a directly held SDK `Client` (the limit) vs `registry.use` with the default
 * factory vs a new session per call (connect + initialize + call + close).
 * Run twice: plain loopback, and with latency added to every HTTP exchange.
 *
 * @module
 */

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type RateOptions, type RateResult, compareRates } from '../harness.js';
import type { Library } from '../library.js';
import type { Row, ScenarioResult } from '../report.js';
import type { Settings } from '../settings.js';
import { type Upstream, startUpstream } from '../upstream.js';

const CLIENT_INFO = { name: 'bench-client', version: '1.0.0' };

type Variant = 'direct' | 'registry' | 'perCall';

interface Measured {
  readonly latencyMs: number;
  readonly rates: Record<Variant, RateResult>;
  /** Tool calls made through the registry, and the counter its upstream session holds. */
  readonly registryCalls: number;
  readonly registryCounter: number;
  readonly registryCreates: number;
}

async function connectDirect(url: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client(CLIENT_INFO);
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  return { client, transport };
}

/** What a careful caller without a registry does per call: connect, initialize, call, end the session. */
async function callWithNewSession(url: string): Promise<void> {
  const { client, transport } = await connectDirect(url);
  try {
    await client.callTool({ name: 'increment' });
    await transport.terminateSession();
  } finally {
    await client.close();
  }
}

function counterOf(result: unknown): number {
  const content = (result as { content?: Array<{ text?: string }> }).content;
  return Number(content?.[0]?.text);
}

async function measure(lib: Library, upstream: Upstream, latencyMs: number, options: RateOptions): Promise<Measured> {
  const { SessionCreateRequest, UpstreamSessionRegistry, mcpSessionFactory } = lib.root;
  await upstream.setLatency(latencyMs);
  const direct = await connectDirect(upstream.url);
  const registry = new UpstreamSessionRegistry({ factory: mcpSessionFactory({ clientInfo: CLIENT_INFO }) });
  const request = SessionCreateRequest.from({
    downstreamSessionId: `bench-downstream-${latencyMs}`,
    gatewayId: 'counter',
    url: upstream.url,
  });
  let registryCalls = 0;
  try {
    const rates = await compareRates<Variant>(
      {
        direct: async (n) => {
          for (let i = 0; i < n; i++) await direct.client.callTool({ name: 'increment' });
        },
        registry: async (n) => {
          for (let i = 0; i < n; i++) {
            await registry.use(request, (client) => client.callTool({ name: 'increment' }));
            registryCalls++;
          }
        },
        perCall: async (n) => {
          for (let i = 0; i < n; i++) await callWithNewSession(upstream.url);
        },
      },
      options,
    );
    // The registry kept one upstream session: its counter saw every call.
    const registryCounter = counterOf(await registry.use(request, (client) => client.callTool({ name: 'get' })));
    return { latencyMs, rates, registryCalls, registryCounter, registryCreates: registry.snapshot().totals.created };
  } finally {
    await registry.closeAll();
    await direct.transport.terminateSession().catch(() => {});
    await direct.client.close();
  }
}

function rowsOf(m: Measured, label: string): Row[] {
  const { direct, registry, perCall } = m.rates;
  const overheadUs = 1e6 / registry.median - 1e6 / direct.median;
  const plain = m.latencyMs === 0;
  return [
    {
      measure: `${label}: registry.use(callTool)`,
      value: registry.median,
      unit: 'calls/s',
      compare: {
        label: 'direct held Client',
        value: direct.median,
        unit: 'calls/s',
        ratioLabel: 'registry / direct',
        ratio: registry.median / direct.median,
      },
      target: plain ? 'P2: ≥ 0.95x direct' : 'P2: ≥ 0.95x direct (reported)',
      met: registry.median / direct.median >= 0.95,
    },
    {
      measure: `${label}: registry.use(callTool)`,
      value: registry.median,
      unit: 'calls/s',
      compare: {
        label: 'new session per call',
        value: perCall.median,
        unit: 'calls/s',
        ratioLabel: 'registry / per-call',
        ratio: registry.median / perCall.median,
      },
      ...(plain ? { target: 'P3: ≥ 4x per-call', met: registry.median / perCall.median >= 4 } : {}),
    },
    {
      measure: `${label}: registry overhead per call`,
      value: overheadUs,
      unit: 'µs',
      compare: {
        label: 'direct call time',
        value: 1e6 / direct.median,
        unit: 'µs',
        ratioLabel: 'overhead / call',
        ratio: overheadUs / (1e6 / direct.median),
      },
    },
  ];
}

/** Runs P2 and P3 (both latencies). */
export async function runP2P3(settings: Settings, lib: Library): Promise<ScenarioResult> {
  const upstream = await startUpstream();
  try {
    const plain = await measure(lib, upstream, 0, settings.loopbackRates);
    const slow = await measure(lib, upstream, settings.addedLatencyMs, settings.latencyRates);
    const stateChecks = [plain, slow].map(
      (m) =>
        `${m.latencyMs} ms: ${m.registryCalls} calls through the registry, counter ${m.registryCounter === m.registryCalls ? `matches (${m.registryCounter})` : `DOES NOT match (${m.registryCounter})`}, ${m.registryCreates} upstream session(s) created`,
    );
    return {
      id: 'P2/P3',
      title: 'tool calls over loopback HTTP',
      rows: [...rowsOf(plain, 'loopback'), ...rowsOf(slow, `+${settings.addedLatencyMs} ms/exchange`)],
      notes: [
        'Upstream: a stateful MCP counter server on the SDK Streamable HTTP server transport (SSE responses, the SDK default), in a child process on 127.0.0.1, so it neither shares the event loop with the client nor records requests.',
        'One caller, calls one after the other: calls/s is the inverse of per-call latency. Each call is `callTool({ name: "increment" })`.',
        'direct: one SDK `Client` on `StreamableHTTPClientTransport`, connected once. registry: `registry.use(request, c => c.callTool(...))` with `mcpSessionFactory()` and a prebuilt request. per-call: new `Client` + transport, connect (initialize, initialized notification, standalone GET stream), call, DELETE the session, close.',
        `Latency run: the server waits ${settings.addedLatencyMs} ms before handling every HTTP exchange (POST, GET and DELETE alike). A held session pays it once per call; a per-call session about 4 times in sequence (initialize, initialized, call, DELETE; the GET stream opens in parallel).`,
        'Overhead per call = 1/rate(registry) - 1/rate(direct); it includes the default factory\'s death watch and its fetch wrapper, not just the registry map.',
        `State check: ${stateChecks.join('; ')}.`,
        `Interleaved rounds after ${settings.loopbackRates.warmupRounds ?? 1} (loopback) / ${settings.latencyRates.warmupRounds ?? 1} (latency) untimed warm-up rounds, median reported: loopback ${settings.loopbackRates.rounds} x ~${settings.loopbackRates.sampleMs} ms, latency ${settings.latencyRates.rounds} x ~${settings.latencyRates.sampleMs} ms per variant. One caller on a 2-process setup is sensitive to other load on the machine: compare ratios, and rerun on a quiet machine.`,
      ],
      details: { plain, latency: slow },
    };
  } finally {
    await upstream.close();
  }
}
