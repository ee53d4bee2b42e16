/**
 * Issue #10 §1 bullet 3: the create backoff is a circuit breaker with a
 * half-open state. When the window ends exactly one trial create goes
 * through; its success closes the breaker at once, its failure opens the next
 * window. Refusals carry the time left (`retryAfterMs`).
 */
import { describe, expect, it } from 'vitest';
import { CreateFailedError } from '../../src/errors.js';
import { record, req, settle, setup } from './helpers.js';

const BACKOFF = { createBackoff: { afterFailures: 2, initialMs: 1000, maxMs: 16_000 } };

type Setup = ReturnType<typeof setup>;

/** Two failed creates (manual mode): the 1000 ms window opens. */
async function openWindow(registry: Setup['registry'], fake: Setup['fake']): Promise<void> {
  for (const id of ['a', 'b']) {
    const p = settle(registry.acquire(req(id)));
    await new Promise((r) => setImmediate(r));
    fake.pending[0]!.reject(new Error('down'));
    await p;
  }
}

describe('create backoff: half-open', () => {
  it('upstream down -> window opens -> upstream back: the first acquire after the window creates, later ones reuse or create at once', async () => {
    let down = true;
    const { registry, fake, clock } = setup(BACKOFF, { fail: () => (down ? new Error('ECONNREFUSED') : undefined) });
    const created = record(registry, 'session:created');
    await settle(registry.acquire(req('a')));
    await settle(registry.acquire(req('b')));
    const refused = await registry.acquire(req('c')).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CreateFailedError);
    expect((refused as CreateFailedError).retryAfterMs).toBe(1000);
    await clock.advance(400);
    expect(((await registry.acquire(req('c')).catch((e: unknown) => e)) as CreateFailedError).retryAfterMs).toBe(600);
    expect(fake.calls).toBe(2);

    down = false;
    await clock.advance(600);
    const trial = await registry.acquire(req('c'));
    expect(fake.calls).toBe(3);
    trial.release();
    // The breaker closed at once: other downstream sessions create without waiting, 'c' reuses.
    (await registry.acquire(req('d'))).release();
    (await registry.acquire(req('c'))).release();
    expect(fake.calls).toBe(4);
    expect(created).toHaveLength(2);
    expect(registry.snapshot().gateways.g1).toMatchObject({ consecutiveFailures: 0, backoffRemainingMs: 0 });
  });

  it('lets exactly one trial through when the window ends; the others fail fast until it ends', async () => {
    const { registry, fake, clock } = setup(BACKOFF, { mode: 'manual' });
    await openWindow(registry, fake);
    await clock.advance(1000);
    const trial = registry.acquire(req('t'));
    await new Promise((r) => setImmediate(r));
    const others = await Promise.all(['x', 'y', 'z'].map((id) => registry.acquire(req(id)).catch((e: unknown) => e)));
    for (const e of others) {
      expect(e).toBeInstanceOf(CreateFailedError);
      expect((e as CreateFailedError).retryAfterMs).toBe(1000);
    }
    expect(fake.calls).toBe(3);
    expect(fake.pending).toHaveLength(1);
    fake.pending[0]!.resolve();
    (await trial).release();
    // Closed at once: the next create is not refused.
    const next = registry.acquire(req('x'));
    await new Promise((r) => setImmediate(r));
    expect(fake.pending).toHaveLength(1);
    fake.pending[0]!.resolve();
    (await next).release();
    expect(fake.calls).toBe(4);
  });

  it('a failed trial opens the next, wider window', async () => {
    const { registry, fake, clock } = setup(BACKOFF, { fail: () => new Error('still down') });
    const backoffs = record(registry, 'gateway:backoff');
    await settle(registry.acquire(req('a')));
    await settle(registry.acquire(req('b')));
    await clock.advance(1000);
    await expect(registry.acquire(req('c'))).rejects.toBeInstanceOf(CreateFailedError);
    expect(fake.calls).toBe(3);
    expect(backoffs.map((e) => e.backoffMs)).toEqual([1000, 2000]);
    const refused = (await registry.acquire(req('c')).catch((e: unknown) => e)) as CreateFailedError;
    expect(refused.retryAfterMs).toBe(2000);
    expect(fake.calls).toBe(3);
  });

  it('a burst of acquires at the end of a window during the outage widens it once, not once per caller', async () => {
    const { registry, fake, clock } = setup(BACKOFF, { fail: () => new Error('still down') });
    const backoffs = record(registry, 'gateway:backoff');
    await settle(registry.acquire(req('a')));
    await settle(registry.acquire(req('b')));
    await clock.advance(1000);
    await Promise.all(['c', 'd', 'e', 'f', 'g'].map((id) => settle(registry.acquire(req(id)))));
    expect(fake.calls).toBe(3);
    // Before: all five creates ran, failed, and the window jumped to 16 s (its cap).
    expect(backoffs.map((e) => e.backoffMs)).toEqual([1000, 2000]);
  });

  it('a trial retired while creating frees the half-open slot', async () => {
    const { registry, fake, clock } = setup(BACKOFF, { mode: 'manual' });
    await openWindow(registry, fake);
    await clock.advance(1000);
    const trial = settle(registry.acquire(req('t')));
    await new Promise((r) => setImmediate(r));
    await registry.evictSession('t');
    expect((await trial).ok).toBe(false);
    const next = registry.acquire(req('u'));
    await new Promise((r) => setImmediate(r));
    expect(fake.pending).toHaveLength(1);
    fake.pending[0]!.resolve();
    (await next).release();
  });
});
