import { describe, expect, it } from 'vitest';
import { AffinityUnavailableError, InvalidOptionsError, InvalidRequestError } from '../../src/errors.js';
import { RedisAffinity } from '../../src/redis/affinity.js';
import { RedisSessionStore } from '../../src/redis/session-store.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { skipRedisSuites } from '../fixtures/redis-server.js';
import { keysOf, useRedis } from './helpers.js';

const RECORD = { sessionId: 'up-1', protocolVersion: '2025-06-18', fingerprint: 'fp-1' } as const;

describe('RedisSessionStore options', () => {
  it('needs a RedisAffinity and nothing else', () => {
    expect(() => new RedisSessionStore({} as never)).toThrow(InvalidOptionsError);
    expect(() => new RedisSessionStore({ affinity: { workerId: 'x' } } as never)).toThrow(/affinity/);
    const affinity = new RedisAffinity({ redis: 'redis://127.0.0.1:1' });
    expect(() => new RedisSessionStore({ affinity, ttl: 1 } as never)).toThrow(/ttl/);
  });
});

describe.skipIf(skipRedisSuites())('RedisSessionStore on a real redis-server', () => {
  const h = useRedis();

  function pair(workerId: string, keyPrefix: string, extra: Partial<ConstructorParameters<typeof RedisAffinity>[0]> = {}) {
    const affinity = h.affinity({ keyPrefix, workerId, clock: new ManualClock(), ...extra });
    return { affinity, store: new RedisSessionStore({ affinity }) };
  }

  it('stores, reads and deletes a record per (downstream session, gateway) while owned', async () => {
    const keyPrefix = h.prefix();
    const { affinity, store } = pair('A', keyPrefix);
    await affinity.claim('s1');
    expect(await store.get('s1', 'g1')).toBeUndefined();
    await store.set('s1', 'g1', RECORD);
    await store.set('s1', 'g2', { sessionId: 'up-2', fingerprint: 'fp-2' });
    expect(await store.get('s1', 'g1')).toEqual(RECORD);
    expect(await store.get('s1', 'g2')).toEqual({ sessionId: 'up-2', fingerprint: 'fp-2' });
    expect(await store.get('s2', 'g1')).toBeUndefined();
    await store.delete('s1', 'g1');
    expect(await store.get('s1', 'g1')).toBeUndefined();
    expect(await store.get('s1', 'g2')).toBeDefined();
  });

  it("keeps the downstream client's initialize next to the records: owner-only writes, survives a handover, deleted on release", async () => {
    const keyPrefix = h.prefix();
    const a = pair('A', keyPrefix);
    const b = pair('B', keyPrefix);
    const client = { protocolVersion: '2025-06-18', capabilities: { sampling: {}, roots: { listChanged: true } }, clientInfo: { name: 'c', version: '1' } };
    await a.affinity.claim('s1');
    expect(await a.store.getClient('s1')).toBeUndefined();
    await b.store.setClient('s1', { capabilities: { elicitation: {} } }); // not the owner: ignored
    await a.store.setClient('s1', client);
    await a.store.set('s1', 'g1', RECORD);
    expect(await b.store.getClient('s1')).toEqual(client);
    // Not a gateway record: the locator's per-gateway reads never see it.
    expect(await b.store.get('s1', '' as string).catch((e: unknown) => e)).toBeInstanceOf(InvalidRequestError);
    await expect(a.store.setClient('s1', { capabilities: 'all' } as never)).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(a.store.setClient('s1', { capabilities: { x: 'y'.repeat(20_000) } })).rejects.toThrow(/at most/);
    // A handover (affinity close) keeps it for the next owner; a release deletes it with the records.
    await a.affinity.close();
    await b.affinity.claim('s1');
    expect(await b.store.getClient('s1')).toEqual(client);
    await b.affinity.release('s1');
    expect(await b.store.getClient('s1')).toBeUndefined();
  });

  it('a worker that does not own the session can read but neither write nor delete', async () => {
    const keyPrefix = h.prefix();
    const a = pair('A', keyPrefix);
    const b = pair('B', keyPrefix);
    await a.affinity.claim('s1');
    await a.store.set('s1', 'g1', RECORD);
    await b.store.set('s1', 'g1', { sessionId: 'stale', fingerprint: 'fp-x' });
    await b.store.delete('s1', 'g1');
    expect(await b.store.get('s1', 'g1')).toEqual(RECORD);
  });

  it('the new owner reads the dead owner records and they live on for recordTtlMs', async () => {
    const keyPrefix = h.prefix();
    const keys = keysOf(keyPrefix);
    const a = pair('A', keyPrefix, { recordTtlMs: 60_000 });
    const b = pair('B', keyPrefix);
    await a.affinity.claim('s1');
    await a.store.set('s1', 'g1', RECORD);
    const ttl = await h.admin.pttl(keys.records('s1'));
    expect(ttl).toBeGreaterThan(5_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await h.admin.del(keys.worker('A')); // A died
    expect(await b.affinity.claim('s1')).toEqual({ owned: true });
    expect(await b.store.get('s1', 'g1')).toEqual(RECORD);
  });

  it('renewal of ownership also renews the record TTL; release deletes the records', async () => {
    const keyPrefix = h.prefix();
    const keys = keysOf(keyPrefix);
    const { affinity, store } = pair('A', keyPrefix, { recordTtlMs: 60_000 });
    await affinity.claim('s1');
    await store.set('s1', 'g1', RECORD);
    await h.admin.pexpire(keys.records('s1'), 2_000);
    await affinity.refresh();
    expect(await h.admin.pttl(keys.records('s1'))).toBeGreaterThan(2_000);
    await affinity.release('s1');
    expect(await store.get('s1', 'g1')).toBeUndefined();
  });

  it('a malformed record reads as absent', async () => {
    const keyPrefix = h.prefix();
    const keys = keysOf(keyPrefix);
    const { affinity, store } = pair('A', keyPrefix);
    await affinity.claim('s1');
    await h.admin.hset(keys.records('s1'), 'g1', 'not json', 'g2', '{"sessionId":7,"fingerprint":"f"}', 'g3', 'null');
    expect(await store.get('s1', 'g1')).toBeUndefined();
    expect(await store.get('s1', 'g2')).toBeUndefined();
    expect(await store.get('s1', 'g3')).toBeUndefined();
  });

  it('stores only the known fields and rejects bad input', async () => {
    const keyPrefix = h.prefix();
    const keys = keysOf(keyPrefix);
    const { affinity, store } = pair('A', keyPrefix);
    await affinity.claim('s1');
    await store.set('s1', 'g1', { ...RECORD, secret: 'token' } as never);
    expect(await h.admin.hget(keys.records('s1'), 'g1')).not.toContain('token');
    await expect(store.set('s1', 'g1', { sessionId: '', fingerprint: 'f' })).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(store.get('bad id', 'g1')).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(store.get('s1', '')).rejects.toBeInstanceOf(InvalidRequestError);
  });

  it('with Redis frozen, calls reject with AffinityUnavailableError within the command timeout', async () => {
    const keyPrefix = h.prefix();
    const { affinity, store } = pair('A', keyPrefix, { commandTimeoutMs: 150 });
    await affinity.claim('s1');
    h.server.pause();
    try {
      await expect(store.get('s1', 'g1')).rejects.toBeInstanceOf(AffinityUnavailableError);
      await expect(store.set('s1', 'g1', RECORD)).rejects.toBeInstanceOf(AffinityUnavailableError);
    } finally {
      h.server.resume();
    }
  });
});
