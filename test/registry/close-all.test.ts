import { describe, expect, it } from 'vitest';
import { RegistryClosedError } from '../../src/errors.js';
import { req, record, settle, setup } from './helpers.js';
import type { Affinity } from '../../src/affinity.js';

describe('invariant 10: closed means closed', () => {
  it('closes every connection exactly once and rejects acquire at once afterwards', async () => {
    const { registry, fake } = setup();
    for (const ds of ['a', 'b', 'c']) (await registry.acquire(req(ds))).release();
    await registry.closeAll();
    expect(fake.connections.map((c) => c.closeCalls)).toEqual([1, 1, 1]);
    expect(registry.size).toBe(0);
    await expect(registry.acquire(req('a'))).rejects.toBeInstanceOf(RegistryClosedError);
    await expect(registry.use(req('a'), async () => 1)).rejects.toMatchObject({ code: 'ERR_REGISTRY_CLOSED' });
    expect(fake.calls).toBe(3);
  });

  it('is idempotent and works as asyncDispose', async () => {
    const { registry, fake } = setup();
    (await registry.acquire(req('a'))).release();
    const first = registry.closeAll();
    expect(registry.closeAll()).toBe(first);
    await registry[Symbol.asyncDispose]();
    expect(fake.connections[0]!.closeCalls).toBe(1);
    expect(registry.snapshot().closed).toBe(true);
  });

  it('rejects waiters of a create in progress and closes the late connection on arrival', async () => {
    const { registry, fake, clock } = setup({ closeTimeoutMs: 1000 }, { mode: 'manual' });
    const waiting = settle(registry.acquire(req('a')));
    await new Promise((r) => setImmediate(r));
    const pending = fake.pending[0]!;
    const closing = registry.closeAll();
    const result = await waiting;
    expect(result.ok).toBe(false);
    expect((result as { error: unknown }).error).toBeInstanceOf(RegistryClosedError);
    expect(pending.signal.aborted).toBe(true);
    await clock.advance(1000);
    await closing;
    // The factory ignored its signal and delivers late: the registry closes it on arrival.
    pending.resolve();
    await new Promise((r) => setImmediate(r));
    expect(fake.created === 0 || fake.connections.every((c) => c.closeCalls === 1)).toBe(true);
  });

  it('closes a create that resolves after closeAll started', async () => {
    const { registry, fake } = setup({ closeTimeoutMs: 1000 }, { mode: 'manual' });
    const waiting = settle(registry.acquire(req('a')));
    await new Promise((r) => setImmediate(r));
    const closing = registry.closeAll();
    fake.pending[0]?.resolve();
    await closing;
    await waiting;
    expect(fake.live).toBe(0);
  });

  it('acquire during closeAll rejects at once', async () => {
    const { registry } = setup({}, { close: { slowMs: 500 } });
    (await registry.acquire(req('a'))).release();
    const closing = registry.closeAll();
    await expect(registry.acquire(req('b'))).rejects.toBeInstanceOf(RegistryClosedError);
    await expect(registry.evictSession('a')).resolves.toBe(0);
    void closing;
  });

  it('closes all sessions in parallel: 200 hung closes take 2 x closeTimeoutMs in total', async () => {
    const { registry, fake, clock } = setup({ closeTimeoutMs: 1000 }, { close: 'hang' });
    const orphaned = record(registry, 'session:orphaned');
    for (let i = 0; i < 200; i++) (await registry.acquire(req(`ds-${i}`))).release();
    let done = false;
    const closing = registry.closeAll().then(() => {
      done = true;
    });
    await clock.advance(1999);
    expect(done).toBe(false);
    await clock.advance(1);
    await closing;
    expect(orphaned).toHaveLength(200);
    expect(fake.connections.every((c) => c.closeCalls === 1)).toBe(true);
  });

  it('stops every timer it started', async () => {
    const { registry, clock } = setup({ idleTtlMs: 60_000 });
    (await registry.acquire(req('a'))).release();
    expect(clock.pendingTimers).toBeGreaterThan(0);
    await registry.closeAll();
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('found by review', () => {
  it('closeAll stays within 3 x closeTimeoutMs when the affinity release and close hang too', async () => {
    const hang = () => new Promise<void>(() => {});
    const affinity: Affinity = { workerId: 'w', claim: async () => ({ owned: true }), release: hang, close: hang };
    const { registry, clock } = setup({ closeTimeoutMs: 1000, affinity }, { close: 'hang' });
    await registry.acquire(req('x')); // a lease stays in flight: the drain phase runs
    let doneAt = -1;
    const closing = registry.closeAll().then(() => {
      doneAt = clock.now();
    });
    for (let i = 0; i < 20 && doneAt < 0; i++) await clock.advance(250);
    await closing;
    expect(doneAt).toBeLessThanOrEqual(3000);
  });
});
