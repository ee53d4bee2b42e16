/**
 * P6, dead upstream: how long a call in flight through `registry.use` (default
 * factory, real SDK server) takes to fail after the upstream process is
 * killed with SIGKILL, against a bare SDK client that can only wait for its
 * request timeout.
 *
 * @module
 */

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { median, now } from '../harness.js';
import type { Library } from '../library.js';
import type { ScenarioResult } from '../report.js';
import type { Settings } from '../settings.js';
import { type Upstream, startUpstream } from '../upstream.js';

/** Request timeout of every client here: a death that is not noticed shows up as this. */
const REQUEST_TIMEOUT_MS = 10_000;
/** The bare SDK baseline's timeout; short, because it is what the baseline measures. */
const BASELINE_TIMEOUT_MS = 2_000;
const TARGET_MS = 1_000;

interface DeadRun {
  readonly failMs: number;
  readonly error: string;
  readonly errorClass: string;
  readonly retired: boolean;
}

/**
 * A fetch that tells when the response to a `tools/call` POST has arrived. The
 * server reports that the tool started before its response headers reach the
 * client; killing it in between makes the fetch itself fail, which is a
 * different (and easier) case than a call whose response stream is open.
 */
interface WatchedFetch {
  readonly fetch: FetchLike;
  toolCallAnswered(): Promise<void>;
}

function watchedFetch(): WatchedFetch {
  const waiters: Array<() => void> = [];
  return {
    fetch: async (url, init) => {
      const response = await fetch(url, init);
      if (typeof init?.body === 'string' && init.body.includes('"tools/call"')) {
        for (const wake of waiters.splice(0)) wake();
      }
      return response;
    },
    toolCallAnswered: () => new Promise<void>((resolve) => waiters.push(resolve)),
  };
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return `${error.name}${code === undefined ? '' : ` ${String(code)}`}: ${error.message.slice(0, 80)}`;
}

/**
 * Starts a hanging tool call, kills the upstream once the call is in progress
 * (the server started the tool and its response stream is open), and times
 * from the kill to the call's rejection.
 */
async function killDuringCall(
  upstream: Upstream,
  watched: WatchedFetch,
  call: () => Promise<unknown>,
): Promise<{ failMs: number; error: string; cause: unknown }> {
  const started = Promise.all([upstream.nextToolStart('hang'), watched.toolCallAnswered()]);
  const outcome = call().then(
    () => ({ ok: true as const, at: now() }),
    (error: unknown) => ({ ok: false as const, error, at: now() }),
  );
  await started;
  const killedAt = now();
  await upstream.kill();
  const settled = await outcome;
  if (settled.ok) throw new Error('the hanging call answered');
  return { failMs: settled.at - killedAt, error: describeError(settled.error), cause: settled.error };
}

async function registryRun(lib: Library, run: number): Promise<DeadRun> {
  const { SessionCreateRequest, UpstreamSessionRegistry, classifyError, mcpSessionFactory } = lib.root;
  const upstream = await startUpstream();
  const watched = watchedFetch();
  const registry = new UpstreamSessionRegistry({
    factory: mcpSessionFactory({ requestTimeoutMs: REQUEST_TIMEOUT_MS, fetch: watched.fetch }),
  });
  try {
    const request = SessionCreateRequest.from({
      downstreamSessionId: `dead-${run}`,
      gatewayId: 'counter',
      url: upstream.url,
    });
    await registry.use(request, (client) => client.callTool({ name: 'increment' }));
    const { cause, ...failed } = await killDuringCall(upstream, watched, () =>
      registry.use(request, (client) => client.callTool({ name: 'hang' })),
    );
    return { ...failed, errorClass: classifyError(cause), retired: registry.size === 0 };
  } finally {
    await registry.closeAll();
    await upstream.close();
  }
}

async function bareClientRun(lib: Library): Promise<DeadRun> {
  const { classifyError } = lib.root;
  const upstream = await startUpstream();
  const watched = watchedFetch();
  const client = new Client({ name: 'bench-bare', version: '1.0.0' });
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(upstream.url), { fetch: watched.fetch }));
    const { cause, ...failed } = await killDuringCall(upstream, watched, () =>
      client.callTool({ name: 'hang' }, undefined, { timeout: BASELINE_TIMEOUT_MS }),
    );
    return { ...failed, errorClass: classifyError(cause), retired: false };
  } finally {
    await client.close();
    await upstream.close();
  }
}

/** Runs P6. */
export async function runP6(settings: Settings, lib: Library): Promise<ScenarioResult> {
  const runs: DeadRun[] = [];
  for (let run = 0; run < settings.deadRuns; run++) runs.push(await registryRun(lib, run));
  const baseline = await bareClientRun(lib);
  const times = runs.map((r) => r.failMs);
  const mid = median(times);
  const worst = Math.max(...times);
  const errors = [...new Set(runs.map((r) => `${r.error} (classified '${r.errorClass}')`))];
  return {
    id: 'P6',
    title: 'dead upstream',
    rows: [
      {
        measure: `in-flight call fails after SIGKILL of the upstream (median of ${runs.length})`,
        value: mid,
        unit: 'ms',
        compare: {
          label: `bare SDK Client (timeout ${BASELINE_TIMEOUT_MS / 1000} s)`,
          value: baseline.failMs,
          unit: 'ms',
          ratioLabel: 'bare / registry',
          ratio: baseline.failMs / mid,
        },
        target: '< 1 s',
        met: mid < TARGET_MS,
      },
      { measure: `same, worst of ${runs.length}`, value: worst, unit: 'ms', target: '< 1 s', met: worst < TARGET_MS },
    ],
    notes: [
      `Each run starts a fresh upstream process, makes one call through \`registry.use\` with \`mcpSessionFactory({ requestTimeoutMs: ${REQUEST_TIMEOUT_MS}, fetch })\` (a pass-through fetch that reports when the response to the call arrived), starts a \`hang\` tool call, waits until the server reports that the tool started and the client has the response headers (its SSE stream is open), then kills the server with SIGKILL and times from the kill to the rejection of the call.`,
      `The caller saw: ${errors.join('; ')}. Connection retired by the registry in ${runs.filter((r) => r.retired).length} of ${runs.length} runs.`,
      `Baseline: a bare SDK \`Client\` on \`StreamableHTTPClientTransport\` with a ${BASELINE_TIMEOUT_MS} ms request timeout, same kill (one run): ${baseline.error} after ${baseline.failMs.toFixed(0)} ms from the kill (its timeout runs from the call, which started a little before the kill). Without a timeout option it waits the SDK default of 60 s.`,
      `All runs (ms): ${times.map((t) => t.toFixed(1)).join(', ')}.`,
    ],
    details: { runs, baseline },
  };
}
