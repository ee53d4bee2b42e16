/**
 * RedisAffinity and RedisSessionStore on a real Redis Cluster of three
 * masters, started by this file: every script must touch one slot, sessions
 * must spread over the masters, and the claim keeps its guarantees (one
 * winner of a race, takeover of a dead owner) when the heartbeat lives on
 * another node than the ownership key.
 */

import { Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisAffinity } from '../../src/redis/affinity.js';
import { RedisEventStore } from '../../src/redis/event-store.js';
import { RedisSessionStore } from '../../src/redis/session-store.js';
import type { RedisAffinityOptions } from '../../src/redis/options.js';
import { type RedisClusterFixture, startRedisCluster } from '../fixtures/redis-cluster.js';
import { skipRedisSuites } from '../fixtures/redis-server.js';
import { keysOf, raceToClaim } from './helpers.js';

const RECORD = { sessionId: 'up-1', protocolVersion: '2025-06-18', fingerprint: 'fp-1' } as const;
// Long heartbeats: no timer fires during a test unless the test renews on purpose.
const SLOW = { heartbeatIntervalMs: 10_000, commandTimeoutMs: 2_000, ownershipTtlMs: 30_000 } as const;

describe.skipIf(skipRedisSuites())('Redis Cluster (three masters)', () => {
  let cluster: RedisClusterFixture | undefined;
  let admin: Cluster | undefined;
  let counter = 0;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    cluster = await startRedisCluster();
    admin = client();
    await admin.call('PING');
  }, 60_000);

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  afterAll(async () => {
    await admin?.quit();
    await cluster?.stop();
  });

  function client(): Cluster {
    return new Cluster([...cluster!.nodes], { redisOptions: { maxRetriesPerRequest: 1 } });
  }

  function affinity(options: Partial<RedisAffinityOptions>): RedisAffinity {
    const redis = client();
    const made = new RedisAffinity({ redis, ...SLOW, ...options });
    cleanups.push(async () => {
      await made.close();
      await redis.quit();
    });
    return made;
  }

  async function masterKeyCounts(): Promise<number[]> {
    return Promise.all(admin!.nodes('master').map(async (node) => Number(await node.dbsize())));
  }

  it('claims, names the owner, stores records, renews and releases, with sessions spread over the masters', async () => {
    const keyPrefix = `c${++counter}:`;
    const keys = keysOf(keyPrefix);
    const a = affinity({ keyPrefix, workerId: 'A', address: 'http://10.0.0.1:3000' });
    const b = affinity({ keyPrefix, workerId: 'B', address: 'http://10.0.0.2:3000' });
    const store = new RedisSessionStore({ affinity: a });
    const ids = Array.from({ length: 30 }, (_, i) => `s${i}`);
    for (const id of ids) expect(await a.claim(id)).toEqual({ owned: true });
    expect(await b.claim('s1')).toEqual({ owned: false, owner: { workerId: 'A', address: 'http://10.0.0.1:3000' } });
    for (const id of ids) await store.set(id, 'g1', RECORD);
    expect(await store.get('s7', 'g1')).toEqual(RECORD);
    // A session's two keys share a slot; sessions use every master.
    expect(await admin!.call('CLUSTER', 'KEYSLOT', keys.owner('s7'))).toBe(await admin!.call('CLUSTER', 'KEYSLOT', keys.records('s7')));
    expect((await masterKeyCounts()).every((n) => n > 0)).toBe(true);

    await admin!.pexpire(keys.owner('s3'), 5_000);
    await a.refresh();
    expect(await admin!.pttl(keys.owner('s3'))).toBeGreaterThan(5_000);

    await store.delete('s7', 'g1');
    expect(await store.get('s7', 'g1')).toBeUndefined();
    await a.release('s2');
    expect(await admin!.exists(keys.owner('s2'))).toBe(0);
    expect(await admin!.exists(keys.records('s2'))).toBe(0);

    // close() gives every session up at once but keeps the records for a new owner.
    await a.close();
    expect(await admin!.exists(keys.owner('s1'))).toBe(0);
    expect(await new RedisSessionStore({ affinity: b }).get('s1', 'g1')).toEqual(RECORD);
    expect(await b.claim('s1')).toEqual({ owned: true });
  });

  it('of N workers racing to claim one session, exactly one wins and the rest name it', async () => {
    const keyPrefix = `c${++counter}:`;
    const workers = Array.from({ length: 6 }, (_, i) => affinity({ keyPrefix, workerId: `w${i}`, address: `http://10.0.0.${i}:3000` }));
    await Promise.all(workers.map((w) => w.start()));
    for (let round = 0; round < 10; round++) {
      const id = `race-${round}`;
      const winner = await raceToClaim(workers, id);
      expect(await admin!.get(keysOf(keyPrefix).owner(id))).toBe(winner.workerId);
    }
  });

  it('takes over a session whose owner heartbeat is gone, with one winner among racing claimers', async () => {
    const keyPrefix = `c${++counter}:`;
    const keys = keysOf(keyPrefix);
    const dead = affinity({ keyPrefix, workerId: 'dead' });
    const deadStore = new RedisSessionStore({ affinity: dead });
    await dead.claim('s1');
    await deadStore.set('s1', 'g1', RECORD);
    // The owner "crashes": its heartbeat is gone, its ownership key not yet.
    await admin!.del(keys.worker('dead'));
    const claimers = Array.from({ length: 5 }, (_, i) => affinity({ keyPrefix, workerId: `n${i}`, address: `http://10.0.1.${i}:3000` }));
    await Promise.all(claimers.map((w) => w.start()));
    const winner = await raceToClaim(claimers, 's1');
    expect(await admin!.get(keys.owner('s1'))).toBe(winner.workerId);
    // The new owner re-attaches through the dead owner's record and may write it.
    const store = new RedisSessionStore({ affinity: winner });
    expect(await store.get('s1', 'g1')).toEqual(RECORD);
    await store.set('s1', 'g1', { ...RECORD, sessionId: 'up-2' });
    await deadStore.set('s1', 'g1', RECORD);
    expect(await store.get('s1', 'g1')).toEqual({ ...RECORD, sessionId: 'up-2' });
    // The stalled old owner learns at its next renewal that it lost the session.
    const lost: string[] = [];
    dead.onOwnershipLost((id) => lost.push(id));
    await dead.refresh();
    expect(lost).toEqual(['s1']);
  });

  it('keeps and replays SSE events (RedisEventStore), one slot per stream', async () => {
    const store = new RedisEventStore({ affinity: affinity({ keyPrefix: `c${++counter}:`, workerId: 'A' }) });
    const message = (n: number) => ({ jsonrpc: '2.0' as const, method: 'notifications/message', params: { level: 'info' as const, data: n } });
    const ids: string[] = [];
    for (let stream = 0; stream < 5; stream++) {
      for (let n = 1; n <= 3; n++) ids.push(await store.storeEvent(`stream-${stream}`, message(n)));
    }
    const sent: unknown[] = [];
    expect(await store.replayEventsAfter(ids[9]!, { send: async (_id, m) => void sent.push(m) })).toBe('stream-3');
    expect(sent).toEqual([message(2), message(3)]);
  });
});
