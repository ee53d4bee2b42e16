import { afterEach, describe, expect, it } from 'vitest';
import { ATTR, METRIC } from '../../src/otel/index.js';
import { req, setup } from '../registry/helpers.js';
import { otelHarness } from './harness.js';

let harness: ReturnType<typeof otelHarness>;

/** Lets queued promise jobs run (no timers) until `done()`; the registry's claim and p-limit need a few turns. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 50 && !done(); i++) await new Promise<void>((resolve) => setImmediate(resolve));
  expect(done()).toBe(true);
}
afterEach(async () => {
  await harness?.shutdown();
});

describe('otelTelemetry gauges on a real registry (fake factory)', () => {
  it('live sessions by gateway follow creates and evictions; an evicted gateway reads 0', async () => {
    harness = otelHarness();
    const { registry } = setup({ telemetry: harness.telemetry });

    await registry.use(req('a', 'weather'), async () => undefined);
    await registry.use(req('b', 'weather'), async () => undefined);
    await registry.use(req('a', 'search'), async () => undefined);
    const live = (gw: string) => harness.point(METRIC.sessions, { [ATTR.gatewayId]: gw, [ATTR.state]: 'ready' });
    expect((await live('weather'))?.value).toBe(2);
    expect((await live('search'))?.value).toBe(1);

    await registry.evictGateway('search');
    expect((await live('search'))?.value).toBe(0);
    expect((await live('weather'))?.value).toBe(2);
  });

  it('a create waiting for its concurrency slot shows as queue depth and a creating session', async () => {
    harness = otelHarness();
    const { registry, fake } = setup({ createConcurrencyPerGateway: 1, telemetry: harness.telemetry }, { mode: 'manual' });
    const first = registry.acquire(req('a', 'weather'));
    const second = registry.acquire(req('b', 'weather'));
    await until(() => registry.snapshot().gateways.weather?.queuedCreates === 1);
    expect((await harness.point(METRIC.sessions, { [ATTR.gatewayId]: 'weather', [ATTR.state]: 'creating' }))?.value).toBe(2);
    expect((await harness.point(METRIC.createQueueDepth, { [ATTR.gatewayId]: 'weather' }))?.value).toBe(1);
    await until(() => fake.pending.length === 1);
    fake.pending[0]?.resolve();
    (await first).release();
    await until(() => fake.pending.length === 1);
    fake.pending[0]?.resolve();
    (await second).release();
  });
});
