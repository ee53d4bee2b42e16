import { describe, expect, it } from 'vitest';
import { SessionRetiredError } from '../../src/errors.js';
import { req, record, settle, setup } from './helpers.js';

describe('invariant 5: stale configuration rebuilds', () => {
  it('retires the held connection and creates a new one when the fingerprint changes', async () => {
    const { registry, fake } = setup();
    const retired = record(registry, 'session:retired');
    const old = await registry.acquire(req('tab-a', 'g1', { headers: { authorization: 'Bearer one' } }));
    old.release();
    const fresh = await registry.acquire(req('tab-a', 'g1', { headers: { authorization: 'Bearer two' } }));
    expect(fresh.client.id).not.toBe(old.client.id);
    expect(fake.calls).toBe(2);
    expect(retired.map((e) => e.reason)).toEqual(['config-changed']);
    fresh.release();
    expect(registry.size).toBe(1);
  });

  it('rebuilds on configVersion and url changes, not on an equal request', async () => {
    const { registry, fake } = setup();
    for (const extra of [{}, {}, { configVersion: 'v2' }, { configVersion: 'v2' }, { url: 'http://other.test/mcp' }]) {
      (await registry.acquire(req('tab-a', 'g1', extra))).release();
    }
    expect(fake.calls).toBe(3);
  });

  it('lets the old connection finish its in-flight lease before closing it', async () => {
    const { registry, fake } = setup();
    const old = await registry.acquire(req('tab-a', 'g1', { configVersion: 'v1' }));
    const fresh = await registry.acquire(req('tab-a', 'g1', { configVersion: 'v2' }));
    await new Promise((r) => setImmediate(r));
    expect(fake.connections[0]?.closeCalls).toBe(0);
    old.release();
    await registry.evictSession('nobody');
    await new Promise((r) => setImmediate(r));
    expect(fake.connections[0]?.closed).toBe(true);
    fresh.release();
  });

  it('rejects waiters of a create that a configuration change replaced', async () => {
    const { registry, fake } = setup({}, { mode: 'manual' });
    const oldWaiter = settle(registry.acquire(req('tab-a', 'g1', { configVersion: 'v1' })));
    await new Promise((r) => setImmediate(r));
    const first = fake.pending[0]!;
    const newWaiter = registry.acquire(req('tab-a', 'g1', { configVersion: 'v2' }));
    const result = await oldWaiter;
    expect(result.ok).toBe(false);
    expect((result as { error: unknown }).error).toBeInstanceOf(SessionRetiredError);
    expect(first.signal.aborted).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(fake.pending).toHaveLength(1);
    fake.pending[0]!.resolve();
    (await newWaiter).release();
    expect(registry.size).toBe(1);
  });
});
