/**
 * P1, hit path: acquire + release on a warm key (fake factory) against
 * generic-pool acquire + release of one resource and a bare Map get/set loop.
 *
 * @module
 */

import genericPool from 'generic-pool';
import { compareRates } from '../harness.js';
import type { Library } from '../library.js';
import type { ScenarioResult } from '../report.js';
import type { Settings } from '../settings.js';

const INIT = { downstreamSessionId: 'bench-downstream-1', gatewayId: 'bench-gateway', url: 'http://127.0.0.1:1/mcp' };
/** The same session with five upstream headers, as a proxy that forwards credentials and tracing would send. */
const INIT_5_HEADERS = {
  ...INIT,
  downstreamSessionId: 'bench-downstream-5',
  headers: {
    authorization: 'Bearer bench-token-0123456789abcdef',
    'x-tenant-id': 'tenant-42',
    'x-request-source': 'bench',
    'accept-language': 'en-GB',
    'x-api-version': '2026-01-01',
  },
};

/** Runs P1. */
export async function runP1(settings: Settings, lib: Library): Promise<ScenarioResult> {
  const { SessionCreateRequest, UpstreamSessionRegistry } = lib.root;
  const { createFakeFactory } = lib.testing;
  const fake = createFakeFactory();
  const registry = new UpstreamSessionRegistry({ factory: fake.factory });
  const request = SessionCreateRequest.from(INIT);
  (await registry.acquire(request)).release();
  (await registry.acquire(INIT_5_HEADERS)).release();
  // The same with telemetry on: otelTelemetry() on the API's global no-op providers
  // (no SDK registered), the setup of an app that installs the SDK later or not at all.
  const traced = new UpstreamSessionRegistry({ factory: fake.factory, telemetry: lib.otel.otelTelemetry() });
  (await traced.acquire(request)).release();
  // A second registry without telemetry: the spread between the two off registries is the noise floor.
  const twin = new UpstreamSessionRegistry({ factory: fake.factory });
  (await twin.acquire(request)).release();

  const pool = genericPool.createPool({ create: async () => ({ id: 1 }), destroy: async () => {} }, { min: 1, max: 1 });
  pool.release(await pool.acquire());

  const map = new Map<string, number>([[request.key, 0]]);
  let sink = 0;

  const rates = await compareRates(
    {
      registry: async (n) => {
        for (let i = 0; i < n; i++) {
          const lease = await registry.acquire(request);
          lease.release();
        }
      },
      registryTelemetry: async (n) => {
        for (let i = 0; i < n; i++) {
          const lease = await traced.acquire(request);
          lease.release();
        }
      },
      registryTwin: async (n) => {
        for (let i = 0; i < n; i++) {
          const lease = await twin.acquire(request);
          lease.release();
        }
      },
      registryInit: async (n) => {
        for (let i = 0; i < n; i++) {
          const lease = await registry.acquire(INIT);
          lease.release();
        }
      },
      registryInit5: async (n) => {
        for (let i = 0; i < n; i++) {
          const lease = await registry.acquire(INIT_5_HEADERS);
          lease.release();
        }
      },
      pool: async (n) => {
        for (let i = 0; i < n; i++) {
          const resource = await pool.acquire();
          // release() resolves at once; like most callers, do not wait for it.
          void pool.release(resource);
        }
      },
      asyncFloor: async (n) => {
        for (let i = 0; i < n; i++) {
          const value = await map.get(request.key);
          map.set(request.key, (value as number) + 1);
        }
      },
      map: (n) => {
        for (let i = 0; i < n; i++) {
          const value = map.get(request.key) as number;
          map.set(request.key, value + 1);
        }
        sink += map.get(request.key) as number;
      },
    },
    settings.rates,
  );

  const created = fake.created;
  await Promise.all([registry.closeAll(), traced.closeAll(), twin.closeAll()]);
  await pool.drain();
  await pool.clear();

  const reg = rates.registry.median;
  const poolRate = rates.pool.median;
  const init0 = rates.registryInit.median;
  const init5 = rates.registryInit5.median;
  const versusPool = (value: number) => ({
    label: 'generic-pool (1 resource)',
    value: poolRate,
    unit: 'ops/s' as const,
    ratioLabel: 'registry / pool',
    ratio: value / poolRate,
  });
  return {
    id: 'P1',
    title: 'hit path',
    rows: [
      {
        measure: 'acquire + release, warm key, prebuilt request',
        value: reg,
        unit: 'ops/s',
        compare: versusPool(reg),
        target: '≥ 3x generic-pool',
        met: reg / poolRate >= 3,
      },
      {
        measure: 'same, absolute',
        value: reg,
        unit: 'ops/s',
        compare: {
          label: 'bare Map get/set (floor)',
          value: rates.map.median,
          unit: 'ops/s',
          ratioLabel: 'registry / Map',
          ratio: reg / rates.map.median,
        },
        target: '≥ 1,000,000 ops/s',
        met: reg >= 1_000_000,
      },
      {
        measure: 'same, per op',
        value: 1e6 / reg,
        unit: 'µs',
        compare: {
          label: 'await + Map get/set (async floor)',
          value: 1e6 / rates.asyncFloor.median,
          unit: 'µs',
          ratioLabel: 'registry / async floor',
          ratio: rates.asyncFloor.median / reg,
        },
      },
      {
        measure: 'same, telemetry on (otelTelemetry(), no SDK registered)',
        value: rates.registryTelemetry.median,
        unit: 'ops/s',
        compare: {
          label: 'telemetry off',
          value: reg,
          unit: 'ops/s',
          ratioLabel: 'on / off',
          ratio: rates.registryTelemetry.median / reg,
        },
        target: 'within noise of off (hooks run on slow paths only)',
      },
      {
        measure: 'same, a second registry without telemetry (noise floor)',
        value: rates.registryTwin.median,
        unit: 'ops/s',
        compare: {
          label: 'telemetry off',
          value: reg,
          unit: 'ops/s',
          ratioLabel: 'twin / off',
          ratio: rates.registryTwin.median / reg,
        },
      },
      {
        measure: 'acquire + release, warm key, plain init object per call, no headers (validated and hashed per call)',
        value: init0,
        unit: 'ops/s',
        compare: versusPool(init0),
        target: '≥ 1.5x generic-pool',
        met: init0 / poolRate >= 1.5,
      },
      {
        measure: 'same, plain init object with 5 headers',
        value: init5,
        unit: 'ops/s',
        compare: versusPool(init5),
        target: '≥ 1x generic-pool',
        met: init5 / poolRate >= 1,
      },
      {
        measure: 'plain init object, no headers, absolute',
        value: init0,
        unit: 'ops/s',
        compare: {
          label: 'prebuilt request',
          value: reg,
          unit: 'ops/s',
          ratioLabel: 'init / prebuilt',
          ratio: init0 / reg,
        },
        target: '≥ 1,000,000 ops/s',
        met: init0 >= 1_000_000,
      },
    ],
    notes: [
      'One registry with the fake factory from `/testing` (default options); the key is created once before timing, so every timed acquire is a hit.',
      'The request is built once with `SessionCreateRequest.from(...)`: validation and fingerprint hashing are off the hot path. The plain-init rows pass a plain init object instead, as the README Quick start and a proxy that builds the request per call do: `SessionCreateRequest.from` validates, copies and fingerprints (SHA-256) it on every acquire. The 5-header init carries authorization, x-tenant-id, x-request-source, accept-language and x-api-version.',
      'Telemetry on: a second registry with `telemetry: otelTelemetry()`; its warm path never calls a hook, so on/off must agree within noise.',
      'generic-pool: `createPool` with min = max = 1; each op is `await pool.acquire()` then `pool.release(resource)` (not awaited: it resolves at once).',
      'The Map floor is a synchronous `get` + `set` on the same key; the async floor adds one `await`, the least any promise-returning acquire costs.',
      `Interleaved rounds (${settings.rates.rounds} x ~${settings.rates.sampleMs} ms per variant), median reported; the factory ran ${created} time(s).`,
    ],
    details: { rates, sink },
  };
}
