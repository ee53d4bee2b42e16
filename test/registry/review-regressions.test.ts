/**
 * Regressions found by a code review of the registry; each test failed before its fix.
 */
import { describe, expect, it } from 'vitest';
import type { Affinity, ClaimResult } from '../../src/affinity.js';
import type { SessionFactory } from '../../src/factory.js';
import { UpstreamSessionRegistry } from '../../src/registry/index.js';
import { type FakeClient, ManualClock } from '../../src/testing/index.js';
import { req, setup } from './helpers.js';

const turn = () => new Promise((resolve) => setImmediate(resolve));

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('registry review regressions', () => {
  it('forgets a downstream session whose last upstream session was evicted for capacity', async () => {
    const { registry } = setup({ maxSessions: 1, overflow: 'evict-idle' });
    for (let i = 0; i < 50; i++) (await registry.acquire(req(`ds-${i}`))).release();
    expect(registry.snapshot().downstreamSessions).toBe(1);
  });

  it('forgets a downstream session whose upstream session was retired for a transport error', async () => {
    const { registry } = setup();
    const lease = await registry.acquire(req('x'));
    lease.release(new TypeError('fetch failed'));
    expect(registry.snapshot().downstreamSessions).toBe(0);
  });

  it('keeps no per-gateway state for gateways without sessions', async () => {
    const { registry } = setup();
    for (let i = 0; i < 100; i++) {
      (await registry.acquire(req('x', `gw-${i}`))).release();
      await registry.evictSession('x');
    }
    expect(Object.keys(registry.snapshot().gateways)).toHaveLength(0);
  });

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

  it('a stale claim does not release the ownership a newer acquire holds', async () => {
    const owners = new Set<string>();
    const claims: ReturnType<typeof deferred<ClaimResult>>[] = [];
    const affinity: Affinity = {
      workerId: 'w',
      claim(id) {
        const d = deferred<ClaimResult>();
        claims.push(d);
        return d.promise.then((r) => {
          owners.add(id);
          return r;
        });
      },
      async release(id) {
        owners.delete(id);
      },
      async close() {},
    };
    const { registry } = setup({ affinity });
    const first = registry.acquire(req('x')).catch((e: unknown) => e);
    await turn();
    await registry.evictSession('x');
    const second = registry.acquire(req('x'));
    await turn();
    claims[1]!.resolve({ owned: true });
    const lease = await second;
    claims[0]!.resolve({ owned: true });
    expect(await first).toMatchObject({ code: 'ERR_SESSION_RETIRED' });
    await turn();
    expect(owners.has('x')).toBe(true);
    lease.release();
  });

  it('keeps a gateway id named __proto__ as data in the snapshot', async () => {
    const { registry } = setup();
    (await registry.acquire(req('x', '__proto__'))).release();
    expect(Object.keys(registry.snapshot().gateways)).toEqual(['__proto__']);
  });

  it('does not expose the binding (and its request headers) on a lease', async () => {
    const { registry } = setup();
    const lease = await registry.acquire(req('x', 'g1', { headers: { authorization: 'Bearer SECRET' } }));
    expect(Object.keys(lease)).not.toContain('binding');
    expect(JSON.stringify(Object.values(lease))).not.toContain('SECRET');
    lease.release();
  });

  it("onSessionLost 'fail': a waiter on another gateway gets SessionLostError, not a lease", async () => {
    const { registry, fake } = setup({ onSessionLost: 'fail' }, { mode: 'manual' });
    const g2 = registry.acquire(req('x', 'g2'));
    await turn();
    fake.pending[0]!.resolve();
    (await g2).release();
    const g1 = registry.acquire(req('x', 'g1')).then(
      (lease) => {
        lease.release();
        return 'lease';
      },
      (e: { code?: string }) => e.code,
    );
    await turn();
    fake.connections[0]!.break();
    fake.pending[0]!.resolve();
    expect(await g1).toBe('ERR_SESSION_LOST');
  });

  it('does not call the factory again for a session a session:lost listener evicted', async () => {
    const clock = new ManualClock();
    let calls = 0;
    let closed = 0;
    const gone = Object.assign(new Error('Session not found'), { code: 404, name: 'StreamableHTTPError' });
    const factory: SessionFactory<FakeClient> = async () => {
      calls++;
      if (calls === 1) throw gone;
      return {
        client: {} as FakeClient,
        close: async () => {
          closed++;
        },
      };
    };
    const registry = new UpstreamSessionRegistry<FakeClient>({ factory, clock });
    registry.on('session:lost', (event) => void registry.evictSession(event.downstreamSessionId));
    await registry.acquire(req('x')).catch(() => undefined);
    await registry.closeAll();
    expect(calls - 1).toBe(closed);
  });
});
