import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { AffinityUnavailableError, InvalidOptionsError, InvalidRequestError } from '../../src/errors.js';
import { RedisAffinity } from '../../src/redis/affinity.js';
import { endClient } from '../../src/redis/client.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { skipRedisSuites } from '../fixtures/redis-server.js';
import { keysOf, raceToClaim, recordingLogger, useRedis } from './helpers.js';

// Short TTLs keep expiry tests fast; they satisfy ttl > heartbeat + command timeout.
const FAST = { heartbeatIntervalMs: 50, commandTimeoutMs: 200, ownershipTtlMs: 400 } as const;

describe('RedisAffinity options', () => {
  it('rejects unknown keys, bad durations, bad ids and secret-carrying addresses', () => {
    const redis = 'redis://127.0.0.1:1';
    expect(() => new RedisAffinity({ redis, extra: 1 } as never)).toThrow(InvalidOptionsError);
    expect(() => new RedisAffinity({ redis, heartbeatIntervalMs: 0 })).toThrow(/heartbeatIntervalMs/);
    expect(() => new RedisAffinity({ redis, heartbeatIntervalMs: 1.5 })).toThrow(/heartbeatIntervalMs/);
    expect(
      () => new RedisAffinity({ redis, heartbeatIntervalMs: 1000, commandTimeoutMs: 1000, ownershipTtlMs: 2000 }),
    ).toThrow(/ownershipTtlMs/);
    expect(() => new RedisAffinity({ redis, ownershipTtlMs: 10_000, recordTtlMs: 5000 })).toThrow(/recordTtlMs/);
    expect(() => new RedisAffinity({ redis, workerId: 'has space' })).toThrow(/workerId/);
    expect(() => new RedisAffinity({ redis, workerId: '' })).toThrow(/workerId/);
    expect(() => new RedisAffinity({ redis, onRedisError: 'ignore' as never })).toThrow(/onRedisError/);
    expect(() => new RedisAffinity({ redis, address: 'ftp://x' })).toThrow(/address/);
    expect(() => new RedisAffinity({ redis: undefined as never })).toThrow(/redis/);
    expect(() => new RedisAffinity({ redis, logger: {} as never })).toThrow(/logger/);
    let message = '';
    try {
      new RedisAffinity({ redis, address: 'http://user:s3cret@10.0.0.1:3000/?token=abc' });
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidOptionsError);
      message = (error as Error).message;
    }
    expect(message).toMatch(/address/);
    expect(message).not.toMatch(/s3cret|abc|user/);
  });

  it('defaults to a random worker id and exposes its worker info', () => {
    const a = new RedisAffinity({ redis: 'redis://127.0.0.1:1', address: 'http://10.0.0.7:3001' });
    const b = new RedisAffinity({ redis: 'redis://127.0.0.1:1' });
    expect(a.workerId).not.toBe(b.workerId);
    expect(a.info).toEqual({ workerId: a.workerId, address: 'http://10.0.0.7:3001' });
    expect(b.info).toEqual({ workerId: b.workerId });
  });

  it('rejects invalid downstream session ids without touching Redis', async () => {
    const a = new RedisAffinity({ redis: 'redis://127.0.0.1:1' });
    await expect(a.claim('')).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(a.claim('has space')).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(a.release('x'.repeat(257))).rejects.toBeInstanceOf(InvalidRequestError);
    await a.close();
  });
});

describe.skipIf(skipRedisSuites())('RedisAffinity on a real redis-server', () => {
  const h = useRedis();

  it('claims a free session, answers the owner to others, and keeps answering owned to the owner', async () => {
    const keyPrefix = h.prefix();
    const a = h.affinity({ keyPrefix, workerId: 'A', address: 'http://10.0.0.1:3000' });
    const b = h.affinity({ keyPrefix, workerId: 'B', address: 'http://10.0.0.2:3000' });
    expect(await a.claim('s1')).toEqual({ owned: true });
    expect(await b.claim('s1')).toEqual({ owned: false, owner: { workerId: 'A', address: 'http://10.0.0.1:3000' } });
    expect(await a.claim('s1')).toEqual({ owned: true });
    expect(await b.claim('s2')).toEqual({ owned: true });
    expect(a.ownedCount).toBe(1);
    expect(b.ownedCount).toBe(1);
    const keys = keysOf(keyPrefix);
    expect(await h.admin.get(keys.owner('s1'))).toBe('A');
    expect(JSON.parse((await h.admin.get(keys.worker('A'))) ?? 'null')).toEqual({
      workerId: 'A',
      address: 'http://10.0.0.1:3000',
    });
    const ttl = await h.admin.pttl(keys.owner('s1'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5000);
  });

  it('hashes session ids in key names', async () => {
    const keyPrefix = h.prefix();
    const a = h.affinity({ keyPrefix, workerId: 'A' });
    const id = 'tenant:*?[x]{tag}';
    await a.claim(id);
    const names = await h.admin.keys(`${keyPrefix}*`);
    expect(names.sort()).toEqual([keysOf(keyPrefix).owner(id), keysOf(keyPrefix).worker('A')].sort());
    expect(names.some((n) => n.includes('tenant'))).toBe(false);
  });

  it('of N workers racing to claim one session, exactly one wins and the rest name it', async () => {
    const keyPrefix = h.prefix();
    const workers = Array.from({ length: 8 }, (_, i) => h.affinity({ keyPrefix, workerId: `w${i}` }));
    await Promise.all(workers.map((w) => w.start()));
    for (let round = 0; round < 10; round++) {
      const id = `race-${round}`;
      const winner = (await raceToClaim(workers, id)).workerId;
      expect(await h.admin.get(keysOf(keyPrefix).owner(id))).toBe(winner);
    }
  });

  it('a release by a non-owner changes nothing; a release by the owner frees the session and its records', async () => {
    const keyPrefix = h.prefix();
    const keys = keysOf(keyPrefix);
    const a = h.affinity({ keyPrefix, workerId: 'A' });
    const b = h.affinity({ keyPrefix, workerId: 'B' });
    await a.claim('s1');
    await b.start(); // connected, so its release really reaches Redis
    await h.admin.hset(keys.records('s1'), 'g1', '{}');
    const releases = await h.commandCalls('evalsha');
    await b.release('s1');
    expect(await h.commandCalls('evalsha')).toBeGreaterThan(releases);
    expect(await h.admin.get(keys.owner('s1'))).toBe('A');
    expect(await h.admin.exists(keys.records('s1'))).toBe(1);
    expect(await b.claim('s1')).toMatchObject({ owned: false, owner: { workerId: 'A' } });

    await a.release('s1');
    expect(a.ownedCount).toBe(0);
    expect(await h.admin.exists(keys.owner('s1'), keys.records('s1'))).toBe(0);
    expect(await b.claim('s1')).toEqual({ owned: true });
  });

  it('takes over a session whose owner heartbeat is gone, with one winner among racing claimers', async () => {
    const keyPrefix = h.prefix();
    const keys = keysOf(keyPrefix);
    const dead = h.affinity({ keyPrefix, workerId: 'dead', clock: new ManualClock() });
    await dead.claim('s1');
    // The owner's heartbeat vanished while its ownership key is still alive: only the Lua compare-and-set can take it.
    await h.admin.del(keys.worker('dead'));
    expect(await h.admin.get(keys.owner('s1'))).toBe('dead');
    const logger = recordingLogger();
    const claimers = Array.from({ length: 6 }, (_, i) => h.affinity({ keyPrefix, workerId: `c${i}`, logger }));
    await Promise.all(claimers.map((c) => c.start()));
    const answers = await Promise.all(claimers.map((c) => c.claim('s1')));
    const winners = claimers.filter((_, i) => answers[i]!.owned);
    expect(winners).toHaveLength(1);
    expect(await h.admin.get(keys.owner('s1'))).toBe(winners[0]!.workerId);
    expect(logger.infos.filter((m) => m.includes('took over'))).toHaveLength(1);
  });

  it('a successful claim renews its own heartbeat, so a fresh owner never looks dead', async () => {
    const keyPrefix = h.prefix();
    const keys = keysOf(keyPrefix);
    const a = h.affinity({ keyPrefix, workerId: 'A', clock: new ManualClock() });
    const b = h.affinity({ keyPrefix, workerId: 'B' });
    await a.start();
    await h.admin.del(keys.worker('A')); // e.g. an outage outlived the heartbeat, and the timer has not run yet
    await a.claim('s1');
    expect(await h.admin.exists(keys.worker('A'))).toBe(1);
    expect(await b.claim('s1')).toMatchObject({ owned: false, owner: { workerId: 'A' } });
  });

  it('after the heartbeat TTL runs out, another worker takes the session over', async () => {
    const keyPrefix = h.prefix();
    const keys = keysOf(keyPrefix);
    // A manual clock that never advances: A's heartbeat timer never fires, as if the process had died.
    const a = h.affinity({ keyPrefix, workerId: 'A', clock: new ManualClock(), ...FAST });
    const b = h.affinity({ keyPrefix, workerId: 'B', ...FAST });
    await a.claim('s1');
    expect(await b.claim('s1')).toMatchObject({ owned: false, owner: { workerId: 'A' } });
    await h.expired(keys.worker('A'));
    expect(await b.claim('s1')).toEqual({ owned: true });
    expect(await h.admin.get(keys.owner('s1'))).toBe('B');
  });

  it('reports ownership lost when another worker took the session over while this one stalled', async () => {
    const keyPrefix = h.prefix();
    const keys = keysOf(keyPrefix);
    const clock = new ManualClock();
    const a = h.affinity({ keyPrefix, workerId: 'A', clock, ...FAST });
    const b = h.affinity({ keyPrefix, workerId: 'B', ...FAST });
    const lost: string[] = [];
    const unsubscribe = a.onOwnershipLost((id) => lost.push(id));
    a.onOwnershipLost(() => {
      throw new Error('a failing listener does not stop the others');
    });
    await a.claim('s1');
    await a.claim('s2');
    // A stalls (its clock stands still) past the TTL; B takes s1.
    await h.expired(keys.owner('s1'));
    expect(await b.claim('s1')).toEqual({ owned: true });
    // A wakes up: its next renewal finds B owning s1, and takes s2 again since nobody claimed it.
    await clock.advance(FAST.heartbeatIntervalMs);
    await a.refresh();
    expect(lost).toEqual(['s1']);
    expect(a.ownedCount).toBe(1);
    expect(await h.admin.get(keys.owner('s1'))).toBe('B');
    expect(await h.admin.get(keys.owner('s2'))).toBe('A');
    // Stops refreshing what it lost: a later renewal reports nothing new.
    await a.refresh();
    expect(lost).toEqual(['s1']);
    unsubscribe();
  });

  it('renewal on the heartbeat timer keeps ownership alive past the TTL', async () => {
    const keyPrefix = h.prefix();
    const keys = keysOf(keyPrefix);
    const a = h.affinity({ keyPrefix, workerId: 'A', ...FAST });
    const b = h.affinity({ keyPrefix, workerId: 'B', ...FAST });
    const ids = Array.from({ length: 50 }, (_, i) => `s${i}`);
    const expiries = await h.watchExpiries(`${keyPrefix}*`);
    for (const id of ids) await a.claim(id);
    // A marker with twice the TTL: its expiry proves the owned keys outlived their own TTL.
    const marker = `${keyPrefix}marker`;
    await h.admin.set(marker, '1', 'PX', FAST.ownershipTtlMs * 2);
    await h.expired(marker);
    // Renewed in time: no ownership key (nor A's heartbeat) ever expired; only the marker did.
    expect(expiries).toEqual([marker]);
    for (const id of ids) expect(await h.admin.get(keys.owner(id))).toBe('A');
    expect(await b.claim('s7')).toMatchObject({ owned: false, owner: { workerId: 'A' } });

  });

  it('renews all owned sessions in one script call per batch, plus one heartbeat', async () => {
    const keyPrefix = h.prefix();
    // Manual clocks: no background renewals, so the counts below are this renewal's alone.
    const a = h.affinity({ keyPrefix, workerId: 'A', clock: new ManualClock() });
    for (let i = 0; i < 50; i++) await a.claim(`s${i}`);
    await a.refresh(); // loads the script into the server's cache
    const before = { evalsha: await h.commandCalls('evalsha'), set: await h.commandCalls('set') };
    await a.refresh();
    expect(await h.commandCalls('evalsha')).toBe(before.evalsha + 1);
    expect(await h.commandCalls('set')).toBe(before.set + 1);
  });

  it('after Redis lost every key and script (restart without persistence), the next renewal restores them', async () => {
    const keyPrefix = h.prefix();
    const keys = keysOf(keyPrefix);
    const a = h.affinity({ keyPrefix, workerId: 'A', clock: new ManualClock() });
    await a.claim('s1');
    await a.refresh();
    await h.admin.flushall();
    await h.admin.script('FLUSH');
    await a.refresh(); // EVALSHA answers NOSCRIPT; the fallback EVAL runs and caches it again
    expect(await h.admin.get(keys.owner('s1'))).toBe('A');
    expect(await h.admin.exists(keys.worker('A'))).toBe(1);
  });

  it('with Redis frozen, claim rejects with AffinityUnavailableError within the command timeout', async () => {
    const keyPrefix = h.prefix();
    const a = h.affinity({ keyPrefix, workerId: 'A', commandTimeoutMs: 150 });
    await a.start();
    h.server.pause();
    try {
      const started = Date.now();
      const error = await a.claim('s1').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AffinityUnavailableError);
      expect((error as AffinityUnavailableError).code).toBe('ERR_AFFINITY_UNAVAILABLE');
      // Bounded, not a hang: far below the test timeout whatever the machine load.
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      h.server.resume();
    }
  });

  it('with nothing listening, the first claim rejects with AffinityUnavailableError (own and borrowed clients)', async () => {
    const dead = 'redis://127.0.0.1:9'; // discard port: nothing speaks Redis there
    const own = h.affinity({ redis: dead, commandTimeoutMs: 150 });
    await expect(own.claim('s1')).rejects.toBeInstanceOf(AffinityUnavailableError);
    const borrowed = new Redis(dead, { maxRetriesPerRequest: 1, lazyConnect: true });
    borrowed.on('error', () => {});
    const b = h.affinity({ redis: borrowed, commandTimeoutMs: 150 });
    try {
      await expect(b.claim('s1')).rejects.toBeInstanceOf(AffinityUnavailableError);
    } finally {
      await b.close();
      // Not `disconnect()` alone: on a client waiting to reconnect it leaves ioredis' 2 s disconnect timer behind.
      await endClient(borrowed, 150);
    }
  });

  it("with 'serve-locally', claim answers owned during an outage and takes the key once Redis is back", async () => {
    const keyPrefix = h.prefix();
    const keys = keysOf(keyPrefix);
    const logger = recordingLogger();
    const clock = new ManualClock();
    // A generous command timeout: the renewal right after the resume (Redis waking up on a
    // loaded machine) must not time out. It only costs the paused claim that long.
    const a = h.affinity({
      keyPrefix,
      workerId: 'A',
      onRedisError: 'serve-locally',
      logger,
      clock,
      ...FAST,
      commandTimeoutMs: 2_000,
      ownershipTtlMs: 10_000,
    });
    await a.start();
    h.server.pause();
    try {
      expect(await a.claim('s1')).toEqual({ owned: true });
      expect(logger.warnings.some((m) => m.includes('serve-locally'))).toBe(true);
    } finally {
      h.server.resume();
    }
    // Whether or not the queued claim reached Redis after the pause, a renewal takes the free key.
    await h.admin.del(keys.owner('s1'));
    await a.refresh();
    expect(await h.admin.get(keys.owner('s1'))).toBe('A');
  });

  it("with 'fail-closed', sessions whose ownership ran out during an outage are reported lost", async () => {
    const keyPrefix = h.prefix();
    const clock = new ManualClock();
    const a = h.affinity({ keyPrefix, workerId: 'A', clock, ...FAST });
    const lost: string[] = [];
    a.onOwnershipLost((id) => lost.push(id));
    await a.claim('s1');
    h.server.pause();
    try {
      // Within the TTL a failed renewal keeps the session: Redis may still hold it for us.
      await a.refresh();
      expect(lost).toEqual([]);
      await clock.advance(FAST.ownershipTtlMs);
      await a.refresh();
      expect(lost).toEqual(['s1']);
      expect(a.ownedCount).toBe(0);
    } finally {
      h.server.resume();
    }
  });

  it('close gives up owned sessions and the heartbeat, keeps records, and quits only a client it created', async () => {
    const keyPrefix = h.prefix();
    const keys = keysOf(keyPrefix);
    const borrowed = h.client();
    const a = h.affinity({ keyPrefix, workerId: 'A', redis: borrowed });
    const b = h.affinity({ keyPrefix, workerId: 'B' });
    const c = h.affinity({ keyPrefix, workerId: 'C' });
    await a.claim('s1');
    await b.claim('s2');
    await h.admin.hset(keys.records('s1'), 'g1', '{}');
    await a.close();
    await a.close(); // idempotent
    expect(await h.admin.exists(keys.owner('s1'), keys.worker('A'))).toBe(0);
    expect(await h.admin.exists(keys.records('s1'))).toBe(1);
    expect(await h.admin.get(keys.owner('s2'))).toBe('B'); // not A's to give up
    expect(await borrowed.ping()).toBe('PONG');
    await expect(a.claim('s1')).rejects.toBeInstanceOf(AffinityUnavailableError);
    expect(await c.claim('s1')).toEqual({ owned: true });
    await b.close();
    await expect(b.claim('s3')).rejects.toBeInstanceOf(AffinityUnavailableError);
  });
});
