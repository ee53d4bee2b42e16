import { afterEach, describe, expect, it } from 'vitest';
import type { Affinity } from '../../src/affinity.js';
import { InvalidOptionsError, NotOwnerError } from '../../src/errors.js';
import { recordingTelemetry } from '../fixtures/recording-telemetry.js';
import { req, settle, setup } from './helpers.js';

const IDLE = 60_000;
let rec: ReturnType<typeof recordingTelemetry>;

afterEach(() => {
  // Every span handle the registry started is ended exactly once, whatever the scenario.
  expect(rec.unended()).toEqual([]);
  expect(rec.endedTwice()).toEqual([]);
});

/** The calls after the first `from` (the constructor's `attach`). */
const since = (from: number) => rec.calls.slice(from);

describe('RegistryOptions.telemetry: hooks on slow paths only', () => {
  it('a cold acquire reports acquire > claim, create (children of the acquire); a warm one reports nothing', async () => {
    rec = recordingTelemetry();
    const { registry } = setup({ telemetry: rec.telemetry });
    expect(rec.names()).toEqual(['attach']);
    (await registry.acquire(req('a', 'weather'))).release();
    expect(rec.names()).toEqual([
      'attach',
      'acquireStart',
      'claimStart',
      'claimStart:end',
      'createStart',
      'createStart:end',
      'acquireStart:end',
    ]);
    const acquire = rec.calls[1]!;
    expect(acquire).toMatchObject({ gatewayId: 'weather' });
    expect(rec.calls.find((c) => c.name === 'claimStart')?.parent).toBe(acquire.span);
    expect(rec.calls.find((c) => c.name === 'createStart')).toMatchObject({ parent: acquire.span, gatewayId: 'weather' });
    expect(rec.calls.filter((c) => c.name.endsWith(':end')).map((c) => c.outcome)).toEqual(['owned', 'ok', 'ok']);

    const before = rec.calls.length;
    for (let i = 0; i < 5; i++) (await registry.acquire(req('a', 'weather'))).release();
    expect(since(before)).toEqual([]);
  });

  it('a second gateway of an owned downstream session creates without a claim', async () => {
    rec = recordingTelemetry();
    const { registry } = setup({ telemetry: rec.telemetry });
    (await registry.acquire(req('a', 'weather'))).release();
    const before = rec.calls.length;
    (await registry.acquire(req('a', 'search'))).release();
    expect(since(before).map((c) => c.name)).toEqual(['acquireStart', 'createStart', 'createStart:end', 'acquireStart:end']);
  });

  it('a probe after idle is a child of the acquire and ends with its deciding step', async () => {
    rec = recordingTelemetry();
    const { registry, clock } = setup({ telemetry: rec.telemetry, idleValidationMs: IDLE });
    (await registry.acquire(req('a'))).release();
    await clock.advance(IDLE);
    const before = rec.calls.length;
    (await registry.acquire(req('a'))).release();
    const calls = since(before);
    expect(calls.map((c) => c.name)).toEqual(['acquireStart', 'probeStart', 'probeStart:end', 'acquireStart:end']);
    expect(calls[1]?.parent).toBe(calls[0]?.span);
    expect(calls[2]).toMatchObject({ outcome: 'healthy', detail: 'ping' });
  });

  it('a broken upstream: retired and lost with the reason, then its close', async () => {
    rec = recordingTelemetry();
    const { registry, clock, fake } = setup({ telemetry: rec.telemetry });
    (await registry.acquire(req('a'))).release();
    await clock.advance(250);
    const before = rec.calls.length;
    fake.connections[0]!.break();
    await registry.evictSession('a');
    const calls = since(before);
    // The close starts in the retirement's own turn (nothing to drain), before `lost` is reported.
    expect(calls.map((c) => c.name)).toEqual(['retired', 'closeStart', 'lost', 'closeStart:end']);
    expect(calls[0]).toMatchObject({ outcome: 'lost', detail: 250 });
    expect(calls[2]).toMatchObject({ outcome: 'lost', detail: 'reconnect' });
    expect(calls[3]).toMatchObject({ outcome: 'closed' });
  });

  it('create failures end "error", open a backoff, and a refused create ends "backoff"', async () => {
    rec = recordingTelemetry();
    const { registry } = setup({ telemetry: rec.telemetry, createBackoff: { afterFailures: 2, initialMs: 1000 } }, { fail: () => new Error('down') });
    for (let i = 0; i < 3; i++) await settle(registry.acquire(req(`d${i}`, 'weather')));
    const creates = rec.calls.filter((c) => c.name === 'createStart:end').map((c) => c.outcome);
    expect(creates).toEqual(['error', 'error', 'backoff']);
    expect(rec.calls.find((c) => c.name === 'backoff')).toMatchObject({ gatewayId: 'weather', outcome: 2, detail: 1000 });
    expect(rec.calls.filter((c) => c.name === 'acquireStart:end').map((c) => c.outcome)).toEqual(['error', 'error', 'error']);
  });

  it('a create past its deadline ends "timeout"', async () => {
    rec = recordingTelemetry();
    const { registry, clock } = setup({ telemetry: rec.telemetry, createTimeoutMs: 100 }, { createLatencyMs: 1000 });
    const acquiring = settle(registry.acquire(req('a')));
    await clock.advance(100);
    expect((await acquiring).ok).toBe(false);
    expect(rec.calls.find((c) => c.name === 'createStart:end')?.outcome).toBe('timeout');
  });

  it('a claim another worker wins ends "not-owner"', async () => {
    rec = recordingTelemetry();
    const affinity: Affinity = {
      workerId: 'w1',
      claim: async () => ({ owned: false, owner: { workerId: 'w2' } }),
      release: async () => undefined,
      close: async () => undefined,
    };
    const { registry } = setup({ telemetry: rec.telemetry, affinity });
    const result = await settle(registry.acquire(req('a')));
    expect(!result.ok && result.error).toBeInstanceOf(NotOwnerError);
    expect(rec.calls.find((c) => c.name === 'claimStart:end')?.outcome).toBe('not-owner');
  });

  it('closeAll: one span with the orphan count, closes of every session, then detach', async () => {
    rec = recordingTelemetry();
    const { registry } = setup({ telemetry: rec.telemetry });
    (await registry.acquire(req('a'))).release();
    (await registry.acquire(req('b'))).release();
    const before = rec.calls.length;
    await registry.closeAll();
    await registry.closeAll();
    const names = since(before).map((c) => c.name);
    expect(names[0]).toBe('closeAllStart');
    expect(names.filter((n) => n === 'retired')).toHaveLength(2);
    expect(names.filter((n) => n === 'closeStart:end')).toHaveLength(2);
    expect(names.slice(-2)).toEqual(['closeAllStart:end', 'detach']);
    expect(rec.calls.find((c) => c.name === 'closeAllStart:end')?.outcome).toBe(0);
    expect(rec.sources.size).toBe(0);
  });

  it('the attached source reads per-gateway counts', async () => {
    rec = recordingTelemetry();
    const { registry, fake } = setup({ telemetry: rec.telemetry }, { mode: 'manual' });
    const first = registry.acquire(req('a', 'weather'));
    const [source] = rec.sources;
    for (let i = 0; i < 20 && fake.pending.length === 0; i++) await Promise.resolve();
    expect(Object.fromEntries(source!.gatewayCounts())).toMatchObject({ weather: { live: 0, creating: 1 } });
    fake.pending[0]!.resolve();
    (await first).release();
    expect(Object.fromEntries(source!.gatewayCounts())).toMatchObject({ weather: { live: 1, creating: 0 } });
  });

  it('rejects a telemetry option without its hooks, naming it', () => {
    rec = recordingTelemetry();
    expect(() => setup({ telemetry: {} as never })).toThrow(InvalidOptionsError);
    expect(() => setup({ telemetry: 'otel' as never })).toThrow(/telemetry/);
    expect(() => setup({ telemetry: { ...rec.telemetry, attach: 1 } as never })).toThrow(/attach.*1/);
    expect(() => setup({ telmetry: rec.telemetry } as never)).toThrow(/telmetry/);
  });
});
