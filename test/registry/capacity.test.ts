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
