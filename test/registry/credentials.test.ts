/**
 * DESIGN invariant 16 (issue #10 §3): credentials rotate in place. A request
 * whose only change is its credentials keeps the upstream session; the
 * connection gets them through `updateCredentials`.
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { req, record, settle, setup } from './helpers.js';

const token = (n: number) => ({ authorization: `Bearer secret-token-${n}` });

describe('invariant 16: credentials rotate in place', () => {
  it('keeps the session, its state and its connection when only the credentials change', async () => {
    const { registry, fake } = setup();
    const retired = record(registry, 'session:retired');
    for (let n = 0; n <= 10; n++) {
      await registry.use(req('tab-a', 'g1', { credentials: token(n) }), (client) => client.callTool({ name: 'increment' }));
      expect(fake.connections[0]!.credentials).toEqual(token(n));
    }
    expect(fake.calls).toBe(1);
    expect(fake.connections[0]!.client.counter).toBe(11);
    expect(fake.connections[0]!.credentialUpdates).toEqual(Array.from({ length: 10 }, (_, i) => token(i + 1)));
    expect(retired).toEqual([]);
  });

  it('does not update when the credentials are equal, and the warm path stays a compare', async () => {
    const { registry, fake } = setup();
    const same = req('tab-a', 'g1', { credentials: token(1) });
    for (let i = 0; i < 5; i++) (await registry.acquire(same)).release();
    for (let i = 0; i < 5; i++) (await registry.acquire(req('tab-a', 'g1', { credentials: token(1) }))).release();
    expect(fake.connections[0]!.credentialUpdates).toEqual([]);
    expect(fake.calls).toBe(1);
  });

  it('still rebuilds when a plain header changes (config-changed)', async () => {
    const { registry, fake } = setup();
    const retired = record(registry, 'session:retired');
    (await registry.acquire(req('tab-a', 'g1', { headers: { 'x-tenant': 'a' }, credentials: token(1) }))).release();
    (await registry.acquire(req('tab-a', 'g1', { headers: { 'x-tenant': 'b' }, credentials: token(1) }))).release();
    expect(fake.calls).toBe(2);
    expect(retired.map((e) => e.reason)).toEqual(['config-changed']);
  });

  it('rebuilds as config-changed when the connection has no updateCredentials', async () => {
    const { registry, fake } = setup({}, { updateCredentials: false });
    const retired = record(registry, 'session:retired');
    const lost = record(registry, 'session:lost');
    (await registry.acquire(req('tab-a', 'g1', { credentials: token(1) }))).release();
    (await registry.acquire(req('tab-a', 'g1', { credentials: token(2) }))).release();
    (await registry.acquire(req('tab-a', 'g1', { credentials: token(2) }))).release();
    expect(fake.calls).toBe(2);
    expect(fake.connections[1]!.request.credentials).toEqual(token(2));
    expect(retired.map((e) => e.reason)).toEqual(['config-changed']);
    expect(lost).toEqual([]);
  });

  it('gives a waiter of a create the credentials it asked for once the session is ready', async () => {
    const { registry, fake } = setup({}, { mode: 'manual' });
    const first = settle(registry.acquire(req('tab-a', 'g1', { credentials: token(1) })));
    await new Promise((r) => setImmediate(r));
    const second = registry.acquire(req('tab-a', 'g1', { credentials: token(2) }));
    await new Promise((r) => setImmediate(r));
    expect(fake.pending).toHaveLength(1);
    fake.pending[0]!.resolve();
    const a = await first;
    const b = await second;
    expect(a.ok).toBe(true);
    if (a.ok) {
      expect(a.value.client).toBe(b.client);
      a.value.release();
    }
    b.release();
    expect(fake.calls).toBe(1);
    expect(fake.connections[0]!.credentials).toEqual(token(2));
  });

  it('rotates a session that needs a probe after idle before probing it (an expired token must not fail the probe)', async () => {
    const { registry, fake, clock } = setup({ idleValidationMs: 1000 });
    const probed = record(registry, 'session:probed');
    let credentialsAtProbe: unknown;
    registry.on('session:probed', () => {
      credentialsAtProbe = fake.connections[0]!.credentials;
    });
    (await registry.acquire(req('tab-a', 'g1', { credentials: token(1) }))).release();
    await clock.advance(2000);
    (await registry.acquire(req('tab-a', 'g1', { credentials: token(2) }))).release();
    expect(probed).toHaveLength(1);
    expect(credentialsAtProbe).toEqual(token(2));
    expect(fake.calls).toBe(1);
    expect(fake.connections[0]!.credentials).toEqual(token(2));
  });

  it('never shows a credential value in snapshots, events or the request', async () => {
    const { registry } = setup();
    const seen: unknown[] = [];
    for (const type of ['session:created', 'session:reused', 'session:retired', 'session:closed'] as const) {
      registry.on(type, (e) => seen.push(e));
    }
    for (let n = 0; n < 3; n++) (await registry.acquire(req('tab-a', 'g1', { credentials: token(n) }))).release();
    seen.push(registry.snapshot());
    await registry.evictSession('tab-a');
    seen.push(registry.snapshot(), req('tab-a', 'g1', { credentials: token(9) }));
    const text = seen.map((x) => `${inspect(x, { depth: 10 })}${JSON.stringify(x)}`).join('\n');
    expect(text).not.toMatch(/secret-token/);
  });
});
