import { describe, expect, it } from 'vitest';
import { CreateFailedError } from '../../src/errors.js';
import { req, record, settle, setup } from './helpers.js';

describe('invariant 3: single flight', () => {
  it('runs the factory once for concurrent acquires and gives every waiter that connection', async () => {
    const { registry, fake } = setup({}, { mode: 'manual' });
    const waiters = Array.from({ length: 20 }, () => registry.acquire(req('tab-a')));
    await Promise.resolve();
    await new Promise((r) => setImmediate(r));
    expect(fake.pending).toHaveLength(1);
    fake.pending[0]?.resolve();
    const leases = await Promise.all(waiters);
    expect(new Set(leases.map((l) => l.client.id)).size).toBe(1);
    expect(fake.calls).toBe(1);
    for (const lease of leases) lease.release();
  });

  it('gives every waiter the same create error and never caches it', async () => {
    const { registry, fake } = setup({ createBackoff: false }, { mode: 'manual' });
    const failed = record(registry, 'session:create-failed');
    const waiters = Array.from({ length: 5 }, () => settle(registry.acquire(req('tab-a'))));
    await new Promise((r) => setImmediate(r));
    const boom = new Error('upstream refused');
    fake.pending[0]?.reject(boom);
    const results = await Promise.all(waiters);
    const errors = results.map((r) => (r.ok ? undefined : r.error));
    expect(new Set(errors).size).toBe(1);
    expect(errors[0]).toBeInstanceOf(CreateFailedError);
    // The cause is a redacted copy (issue #10 §2): same class and message, never the raw error.
    expect((errors[0] as CreateFailedError).cause).toBeInstanceOf(Error);
    expect(((errors[0] as CreateFailedError).cause as Error).message).toBe(boom.message);
    expect((errors[0] as CreateFailedError).code).toBe('ERR_CREATE_FAILED');
    expect(failed).toHaveLength(1);
    expect(registry.snapshot().sessions).toHaveLength(0);

    const retry = registry.acquire(req('tab-a'));
    await new Promise((r) => setImmediate(r));
    expect(fake.calls).toBe(2);
    fake.pending[0]?.resolve();
    (await retry).release();
    expect(registry.size).toBe(1);
  });

  it('times out a create that never answers, at the request connectTimeoutMs', async () => {
    const { registry, fake, clock } = setup({ createBackoff: false }, { mode: 'manual' });
    const acquiring = settle(registry.acquire(req('tab-a', 'g1', { connectTimeoutMs: 1000 })));
    await clock.advance(999);
    expect(fake.pending).toHaveLength(1);
    await clock.advance(1);
    const result = await acquiring;
    expect(result.ok).toBe(false);
    expect((result as { error: CreateFailedError }).error.message).toMatch(/timed out/);
    expect(fake.pending).toHaveLength(0);
  });
});

describe('invariant 4: abort detaches one caller', () => {
  it('rejects a pre-aborted acquire with its reason and creates nothing', async () => {
    const { registry, fake } = setup();
    const reason = new Error('client went away');
    await expect(registry.acquire(req('tab-a'), { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(fake.calls).toBe(0);
  });

  it('rejects only the aborted caller during a create; the others get the connection', async () => {
    const { registry, fake } = setup({}, { mode: 'manual' });
    const controller = new AbortController();
    const aborted = settle(registry.acquire(req('tab-a'), { signal: controller.signal }));
    const other = registry.acquire(req('tab-a'));
    await new Promise((r) => setImmediate(r));
    const reason = new Error('cancelled');
    controller.abort(reason);
    expect(await aborted).toEqual({ ok: false, error: reason });
    expect(fake.pending[0]?.signal.aborted).toBe(false);
    fake.pending[0]?.resolve();
    const lease = await other;
    expect(fake.calls).toBe(1);
    lease.release();
  });

  it('keeps the connection when every waiter aborted; the next acquire reuses it', async () => {
    const { registry, fake } = setup({}, { mode: 'manual' });
    const controller = new AbortController();
    const aborted = settle(registry.acquire(req('tab-a'), { signal: controller.signal }));
    await new Promise((r) => setImmediate(r));
    controller.abort();
    await aborted;
    fake.pending[0]?.resolve();
    await new Promise((r) => setImmediate(r));
    const lease = await registry.acquire(req('tab-a'));
    expect(fake.calls).toBe(1);
    lease.release();
  });
});

describe('create deadline covers the queue (issue 9, §2.7)', () => {
  it('regression 2.7: a create queued behind createConcurrencyPerGateway fails at its deadline, not after the queue', async () => {
    const { registry, clock } = setup({ createConcurrencyPerGateway: 1, createTimeoutMs: 1000 }, { mode: 'manual' });
    const first = settle(registry.acquire(req('a')));
    await clock.advance(500);
    const queued = settle(registry.acquire(req('b')));
    await clock.advance(1000); // t = 1500: b's deadline, though it never reached the factory
    const result = await Promise.race([queued, Promise.resolve('still waiting')]);
    expect(result).toMatchObject({ ok: false, error: expect.any(CreateFailedError) });
    expect(((result as { error: Error }).error).message).toMatch(/timed out/);
    expect(registry.snapshot().creating).toBe(0);
    await first;
  });
});
