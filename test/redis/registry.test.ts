import { afterEach, describe, expect, it } from 'vitest';
import { NotOwnerError } from '../../src/errors.js';
import type { RetireReason } from '../../src/events.js';
import type { RedisAffinity } from '../../src/redis/affinity.js';
import { UpstreamSessionRegistry } from '../../src/registry/index.js';
import { SessionCreateRequest } from '../../src/request.js';
import { createFakeFactory, type FakeClient, ManualClock } from '../../src/testing/index.js';
import { skipRedisSuites } from '../fixtures/redis-server.js';
import { keysOf, useRedis } from './helpers.js';

function req(ds: string, gw = 'g1'): SessionCreateRequest {
  return SessionCreateRequest.from({ downstreamSessionId: ds, gatewayId: gw, url: 'http://upstream.test/mcp' });
}

describe.skipIf(skipRedisSuites())('UpstreamSessionRegistry with a RedisAffinity', () => {
  const h = useRedis();
  const registries: UpstreamSessionRegistry<FakeClient>[] = [];

  afterEach(async () => {
    await Promise.all(registries.splice(0).map((r) => r.closeAll()));
  });

  /** One worker: a registry on a fake factory, owning sessions through Redis. */
  function worker(affinity: RedisAffinity) {
    const fake = createFakeFactory();
    const registry = new UpstreamSessionRegistry<FakeClient>({ affinity, factory: fake.factory });
    registries.push(registry);
    return { fake, registry };
  }

  it('a session owned by another worker rejects with NotOwnerError naming that worker', async () => {
    const keyPrefix = h.prefix();
    const a = worker(h.affinity({ keyPrefix, workerId: 'A', address: 'http://10.0.0.1:3000' }));
    const b = worker(h.affinity({ keyPrefix, workerId: 'B', address: 'http://10.0.0.2:3000' }));
    (await a.registry.acquire(req('s1'))).release();
    const error = await b.registry.acquire(req('s1')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotOwnerError);
    expect(error).toMatchObject({
      code: 'ERR_NOT_OWNER',
      downstreamSessionId: 's1',
      owner: { workerId: 'A', address: 'http://10.0.0.1:3000' },
    });
    expect(b.fake.calls).toBe(0);
  });

  it('a warm acquire makes zero Redis calls', async () => {
    const keyPrefix = h.prefix();
    // A manual clock holds the heartbeat timer, so only the acquires could reach Redis.
    const a = worker(h.affinity({ keyPrefix, workerId: 'A', clock: new ManualClock() }));
    (await a.registry.acquire(req('s1'))).release();
    (await a.registry.acquire(req('s1', 'g2'))).release();
    const first = await h.commandCount();
    const second = await h.commandCount();
    const reading = second - first; // what one INFO adds by itself
    for (let i = 0; i < 50; i++) {
      (await a.registry.acquire(req('s1'))).release();
      await a.registry.use(req('s1', 'g2'), async () => undefined);
    }
    const third = await h.commandCount();
    expect(third - second).toBe(reading);
    expect(a.fake.calls).toBe(2);
  });

  it('evictSession releases ownership so another worker can take the session', async () => {
    const keyPrefix = h.prefix();
    const keys = keysOf(keyPrefix);
    const a = worker(h.affinity({ keyPrefix, workerId: 'A' }));
    const b = worker(h.affinity({ keyPrefix, workerId: 'B' }));
    (await a.registry.acquire(req('s1'))).release();
    expect(await a.registry.evictSession('s1')).toBe(1);
    expect(await h.admin.exists(keys.owner('s1'))).toBe(0);
    (await b.registry.acquire(req('s1'))).release();
    expect(await h.admin.get(keys.owner('s1'))).toBe('B');
    await expect(a.registry.acquire(req('s1'))).rejects.toMatchObject({ owner: { workerId: 'B' } });
  });

  it('when another worker took the session over, the stalled worker retires its upstream sessions at once', async () => {
    const keyPrefix = h.prefix();
    const keys = keysOf(keyPrefix);
    const clock = new ManualClock();
    const fast = { heartbeatIntervalMs: 50, commandTimeoutMs: 200, ownershipTtlMs: 400 };
    const affinityA = h.affinity({ keyPrefix, workerId: 'A', clock, ...fast });
    const a = worker(affinityA);
    const b = worker(h.affinity({ keyPrefix, workerId: 'B', ...fast }));
    const retired: RetireReason[] = [];
    a.registry.on('session:retired', (e) => retired.push(e.reason));
    (await a.registry.acquire(req('s1'))).release();
    (await a.registry.acquire(req('s1', 'g2'))).release();
    // A stalls past its TTL (its clock stands still); B takes s1 over.
    await h.expired(keys.owner('s1'));
    (await b.registry.acquire(req('s1'))).release();
    await affinityA.refresh();
    expect(retired).toEqual(['ownership-lost', 'ownership-lost']);
    expect(a.registry.size).toBe(0);
    await expect(a.registry.acquire(req('s1'))).rejects.toMatchObject({ owner: { workerId: 'B' } });
  });

  it('closeAll gives up ownership and the heartbeat', async () => {
    const keyPrefix = h.prefix();
    const keys = keysOf(keyPrefix);
    const a = worker(h.affinity({ keyPrefix, workerId: 'A' }));
    (await a.registry.acquire(req('s1'))).release();
    await a.registry.closeAll();
    expect(await h.admin.exists(keys.owner('s1'), keys.worker('A'))).toBe(0);
  });
});
