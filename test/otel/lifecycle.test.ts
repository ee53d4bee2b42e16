/**
 * The exported metrics and spans of one real session lifecycle: a real SDK
 * upstream on 127.0.0.1, the default MCP factory, the OTel SDK with in-memory
 * readers, and a ManualClock for the registry (probe after idle without sleeping).
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionCreateRequest } from '../../src/index.js';
import { mcpSessionFactory } from '../../src/mcp/factory.js';
import { ATTR, METRIC } from '../../src/otel/index.js';
import { UpstreamSessionRegistry } from '../../src/registry/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { type CounterServer, startCounterServer } from '../fixtures/counter-server.js';
import { countOf, otelHarness } from './harness.js';

const IDLE = 60_000;
let server: CounterServer | undefined;
let harness: ReturnType<typeof otelHarness> | undefined;

afterEach(async () => {
  await server?.close();
  await harness?.shutdown();
});

describe('otelTelemetry on a real session lifecycle', () => {
  it('create, calls, probe after idle, retire on a killed upstream, evict, closeAll', async () => {
    server = await startCounterServer();
    harness = otelHarness();
    const h = harness;
    const clock = new ManualClock();
    const registry = new UpstreamSessionRegistry<Client>({
      factory: mcpSessionFactory(),
      clock,
      idleValidationMs: IDLE,
      telemetry: h.telemetry,
    });
    const req = (ds: string) => SessionCreateRequest.from({ downstreamSessionId: ds, gatewayId: 'counter', url: (server as CounterServer).url });
    const increment = (ds: string) => registry.use(req(ds), (client) => client.callTool({ name: 'increment' }));
    const gw = { [ATTR.gatewayId]: 'counter' };

    // Create, then warm calls: one create, one acquire that did work.
    for (let i = 0; i < 3; i++) await increment('a');
    expect(countOf(await h.point(METRIC.createDuration, { ...gw, [ATTR.outcome]: 'ok' }))).toBe(1);
    expect(countOf(await h.point(METRIC.acquireDuration, gw))).toBe(1);
    expect((await h.point(METRIC.sessions, { ...gw, [ATTR.state]: 'ready' }))?.value).toBe(1);

    // Idle past idleValidationMs: the next acquire probes (ping) first.
    await clock.advance(IDLE);
    await increment('a');
    expect(countOf(await h.point(METRIC.probeDuration, { ...gw, [ATTR.outcome]: 'healthy', [ATTR.probeStep]: 'ping' }))).toBe(1);
    const probe = h.span('probe counter');
    const acquires = h.spans().filter((s) => s.name === 'acquire counter');
    expect(acquires.map((s) => s.spanContext().spanId)).toContain(probe.parentSpanContext?.spanId);

    // The upstream dies: the failed call retires the session (evidence of loss), the next builds anew.
    await server.kill();
    await expect(increment('a')).rejects.toThrow();
    await server.restart();
    await increment('a');
    const retired = (reason: string) => h.point(METRIC.retirements, { ...gw, [ATTR.retireReason]: reason });
    const lossReasons = ['lost', 'transport-error'];
    const losses = await Promise.all(lossReasons.map(async (r) => ((await retired(r))?.value as number | undefined) ?? 0));
    expect(losses.reduce((a, b) => a + b, 0)).toBe(1);
    expect(countOf(await h.point(METRIC.createDuration, { ...gw, [ATTR.outcome]: 'ok' }))).toBe(2);

    // Evict a second downstream session.
    await increment('b');
    await registry.evictSession('b');
    expect((await retired('downstream-evicted'))?.value).toBe(1);
    expect(countOf(await h.point(METRIC.closeDuration, { ...gw, [ATTR.outcome]: 'closed' }))).toBeGreaterThanOrEqual(1);

    // closeAll: the last session closes, the gauges drop to 0, one closeAll span.
    await registry.closeAll();
    expect((await retired('registry-closed'))?.value).toBe(1);
    expect(countOf(await h.point(METRIC.closeAllDuration, {}))).toBe(1);
    expect((await h.point(METRIC.sessions, { ...gw, [ATTR.state]: 'ready' }))?.value).toBe(0);
    // One session duration per retired session, by reason: lost/transport-error, downstream-evicted, registry-closed.
    const lifetimes = (await h.points(METRIC.sessionDuration)).filter((p) => p.attributes[ATTR.gatewayId] === 'counter');
    expect(lifetimes.reduce((n, p) => n + countOf(p), 0)).toBe(3);

    // Every create is a child of the acquire that caused it; no metric names a downstream session.
    for (const create of h.spans().filter((s) => s.name === 'create counter')) {
      expect(acquires.concat(h.spans().filter((s) => s.name === 'acquire counter')).map((s) => s.spanContext().spanId)).toContain(
        create.parentSpanContext?.spanId,
      );
    }
    const everyAttribute = JSON.stringify((await h.metrics()).flatMap((m) => m.dataPoints.map((p) => p.attributes)));
    expect(everyAttribute).not.toMatch(/"a"|"b"/);
    expect(h.span('closeAll').name).toBe('closeAll');
  });
});
