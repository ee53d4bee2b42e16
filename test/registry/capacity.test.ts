import { describe, expect, it } from 'vitest';
import { CapacityError } from '../../src/errors.js';
import { req, record, setup } from './helpers.js';

describe('invariant 11: bounded resources', () => {
  it('rejects a new key at maxSessions with CapacityError and changes nothing', async () => {
    const { registry, fake } = setup({ maxSessions: 2 });
    (await registry.acquire(req('a'))).release();
    (await registry.acquire(req('b'))).release();
    const error = await registry.acquire(req('c')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CapacityError);
    expect(error).toMatchObject({ code: 'ERR_CAPACITY', scope: 'registry', limit: 2 });
    expect(fake.calls).toBe(2);
    expect(registry.snapshot().downstreamSessions).toBe(2);
    (await registry.acquire(req('a'))).release();
  });

  it('retires the least-recently-used idle session with overflow evict-idle', async () => {
    const { registry, clock } = setup({ maxSessions: 2, overflow: 'evict-idle' });
    const retired = record(registry, 'session:retired');
    (await registry.acquire(req('a'))).release();
    await clock.advance(10);
    (await registry.acquire(req('b'))).release();
    await clock.advance(10);
    (await registry.acquire(req('a'))).release();
    (await registry.acquire(req('c'))).release();
    expect(retired).toEqual([expect.objectContaining({ downstreamSessionId: 'b', reason: 'capacity' })]);
    expect(registry.size).toBe(2);
  });

  it('never evicts a session with a lease in flight', async () => {
    const { registry } = setup({ maxSessions: 1, overflow: 'evict-idle' });
    const held = await registry.acquire(req('a'));
    await expect(registry.acquire(req('b'))).rejects.toBeInstanceOf(CapacityError);
    held.release();
  });

  it('caps sessions per gateway', async () => {
    const { registry } = setup({ maxSessionsPerGateway: 1 });
    (await registry.acquire(req('a', 'g1'))).release();
    (await registry.acquire(req('a', 'g2'))).release();
    await expect(registry.acquire(req('b', 'g1'))).rejects.toMatchObject({ scope: 'gateway', limit: 1 });
  });

  it('retires sessions idle past idleTtlMs with the sweeper, and the sweeper stops when empty', async () => {
    const { registry, clock, fake } = setup({ idleTtlMs: 10_000, idleValidationMs: Number.POSITIVE_INFINITY });
    const retired = record(registry, 'session:retired');
    (await registry.acquire(req('a'))).release();
    await clock.advance(5_000);
    (await registry.acquire(req('b'))).release();
    await clock.advance(5_000);
    expect(retired.map((e) => e.downstreamSessionId)).toEqual(['a']);
    await clock.advance(5_000);
    expect(retired.map((e) => e.downstreamSessionId)).toEqual(['a', 'b']);
    expect(retired.every((e) => e.reason === 'idle-expired')).toBe(true);
    expect(fake.closed).toBe(2);
    expect(registry.snapshot().downstreamSessions).toBe(0);
    await clock.advance(60_000);
    expect(clock.pendingTimers).toBe(0);
  });

  it('does not expire a session with a lease in flight', async () => {
    const { registry, clock } = setup({ idleTtlMs: 1_000 });
    const held = await registry.acquire(req('a'));
    await clock.advance(10_000);
    expect(registry.size).toBe(1);
    held.release();
  });

  it('bounds creates per gateway with createConcurrencyPerGateway', async () => {
    const { registry, fake, clock } = setup({ createConcurrencyPerGateway: 3 }, { createLatencyMs: 100 });
    const leases = Array.from({ length: 10 }, (_, i) => registry.acquire(req(`ds-${i}`)));
    await clock.advance(100);
    expect(registry.snapshot().gateways.g1?.queuedCreates).toBeGreaterThan(0);
    for (let i = 0; i < 4; i++) await clock.advance(100);
    for (const lease of await Promise.all(leases)) lease.release();
    expect(fake.maxConcurrentCreates).toBe(3);
  });
});

describe('capacity refusals and connections retiring (issue 9, §2.3, §2.7)', () => {
  it('regression 2.3: a CapacityError leaves no gateway state behind', async () => {
    const { registry } = setup({ maxSessions: 1 });
    (await registry.acquire(req('a', 'g0'))).release();
    for (let i = 1; i <= 200; i++) {
      await expect(registry.acquire(req(`d${i}`, `g${i}`))).rejects.toBeInstanceOf(CapacityError);
    }
    expect(Object.keys(registry.snapshot().gateways)).toEqual(['g0']);
    expect(registry.snapshot().downstreamSessions).toBe(1);
  });

  it('regression 2.7: a draining session (lease in flight) counts against maxSessions', async () => {
    const { registry } = setup({ maxSessions: 1 });
    const lease = await registry.acquire(req('a'));
    const evicting = registry.evictSession('a');
    expect(registry.snapshot().retiring).toBe(1);
    await expect(registry.acquire(req('b'))).rejects.toMatchObject({ code: 'ERR_CAPACITY', scope: 'registry' });
    lease.release();
    await evicting;
    (await registry.acquire(req('b'))).release();
  });

  it('regression 2.7: eviction churn with hung closes keeps at most maxSessions closing', async () => {
    const { registry, fake } = setup({ maxSessions: 2, overflow: 'evict-idle' }, { close: 'hang' });
    const outcomes: string[] = [];
    for (let i = 0; i < 10; i++) {
      outcomes.push(
        await registry.acquire(req(`d${i}`)).then(
          (lease) => {
            lease.release();
            return 'lease';
          },
          (e: { code?: string }) => String(e.code),
        ),
      );
    }
    const snapshot = registry.snapshot();
    expect(snapshot.retiring).toBeLessThanOrEqual(2);
    expect(snapshot.live + snapshot.creating).toBeLessThanOrEqual(2);
    // Connections not yet closed never exceed 2 x maxSessions.
    expect(fake.connections.filter((c) => !c.closed).length).toBeLessThanOrEqual(4);
    expect(outcomes).toContain('ERR_CAPACITY');
  });
});

describe('found by review', () => {
  it('forgets a downstream session whose last upstream session was evicted for capacity', async () => {
    const { registry } = setup({ maxSessions: 1, overflow: 'evict-idle' });
    for (let i = 0; i < 50; i++) (await registry.acquire(req(`ds-${i}`))).release();
    expect(registry.snapshot().downstreamSessions).toBe(1);
  });

  it('keeps no per-gateway state for gateways without sessions', async () => {
    const { registry } = setup();
    for (let i = 0; i < 100; i++) {
      (await registry.acquire(req('x', `gw-${i}`))).release();
      await registry.evictSession('x');
    }
    expect(Object.keys(registry.snapshot().gateways)).toHaveLength(0);
  });
});
