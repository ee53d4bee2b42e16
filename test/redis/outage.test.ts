/**
 * A Redis outage longer than the ownership TTL, seen by a downstream client of
 * the example Express worker (fail-closed): its requests get one error shape,
 * HTTP 503 with Retry-After (never a JSON-RPC error inside an HTTP 200), and
 * once Redis answers again the session carries on with its upstream state.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExpressProxy, startProxy } from '../../examples/express/proxy.js';
import { startCounterUpstream } from '../../examples/shared/counter-upstream.js';
import type { McpHost } from '../../examples/shared/mcp-host.js';
import { hashId } from '../../src/redis/keys.js';
import { type RedisServer, skipRedisSuites, startRedisServer } from '../fixtures/redis-server.js';
import { postToWorker, silentLogger } from './worker-requests.js';

const TIMINGS = { heartbeatIntervalMs: 100, ownershipTtlMs: 600, commandTimeoutMs: 200, keyPrefix: 'outage:' } as const;

describe.skipIf(skipRedisSuites())('a Redis outage past the ownership TTL (example worker, fail-closed)', () => {
  let redis: RedisServer;
  let upstream: McpHost;
  let worker: ExpressProxy;
  let other: ExpressProxy;
  let client: Client;
  let sessionId: string;

  beforeAll(async () => {
    redis = await startRedisServer();
    upstream = await startCounterUpstream();
    worker = await startProxy({
      gateways: [{ id: 'counter', url: upstream.url }],
      logger: silentLogger,
      cluster: { redisUrl: redis.url, workerId: 'w1', ...TIMINGS },
    });
    other = await startProxy({
      gateways: [{ id: 'counter', url: upstream.url }],
      logger: silentLogger,
      cluster: { redisUrl: redis.url, workerId: 'w2', ...TIMINGS },
    });
    client = new Client({ name: 'outage-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(worker.url));
    await client.connect(transport);
    sessionId = transport.sessionId as string;
  }, 30_000);

  afterAll(async () => {
    redis?.resume();
    await client?.close();
    await other?.close();
    await worker?.close();
    await upstream?.close();
    await redis?.stop();
  });

  let nextId = 1_000;
  async function post(method: string, params: object, to = worker): Promise<{ status: number; retryAfter: string | null; text: string }> {
    const res = await postToWorker(to.url, sessionId, { jsonrpc: '2.0', id: nextId++, method, params });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), text: await res.text() };
  }

  it('answers 503 + Retry-After while Redis is away, then serves the same upstream session again', async () => {
    const increment = async () => Number(((await client.callTool({ name: 'increment' })).content as { text: string }[])[0]?.text);
    expect(await increment()).toBe(1);
    expect(await increment()).toBe(2);

    const lost = new Promise<void>((resolve) => {
      worker.registry.on('session:retired', (event) => {
        if (event.reason === 'ownership-lost' && event.downstreamSessionId === sessionId) resolve();
      });
    });
    const stoppedAt = Date.now();
    redis.pause(); // frozen: every command times out
    // The warm path of an owned session needs no Redis: served while its ownership may still be valid.
    expect(await increment()).toBe(3);
    const warmServedAfter = Date.now() - stoppedAt;
    await lost;
    const lostAfter = Date.now() - stoppedAt;

    let slowest503 = 0;
    for (let i = 0; i < 3; i++) {
      const startedAt = Date.now();
      const answer = await post('tools/call', { name: 'increment', arguments: {} });
      expect(answer.status, answer.text).toBe(503);
      expect(answer.retryAfter).toMatch(/^\d+$/);
      slowest503 = Math.max(slowest503, Date.now() - startedAt);
      expect(Date.now() - startedAt).toBeLessThan(5_000); // bounded by the command timeout, not a hang
    }

    const resumedAt = Date.now();
    redis.resume();
    // Back: the worker claims the session again and re-attaches to the same upstream session.
    expect(await increment()).toBe(4);
    const recoveredAfter = Date.now() - resumedAt;
    expect(upstream.events.filter((e) => e.type === 'opened')).toHaveLength(1);
    console.log(
      `Redis outage timeline (heartbeat ${TIMINGS.heartbeatIntervalMs} ms, TTL ${TIMINGS.ownershipTtlMs} ms, command timeout ${TIMINGS.commandTimeoutMs} ms): ` +
        `Redis frozen → warm call served +${warmServedAfter} ms → ownership lost +${lostAfter} ms → ` +
        `requests answered 503 + Retry-After (slowest ${slowest503} ms) → Redis back → served again on the same upstream session after ${recoveredAfter} ms`,
    );
  });

  it('when another worker took the session over meanwhile, the old owner forwards to it instead of answering an error', async () => {
    const lost = new Promise<void>((resolve) => {
      worker.registry.on('session:retired', (event) => {
        if (event.reason === 'ownership-lost' && event.downstreamSessionId === sessionId) resolve();
      });
    });
    redis.pause();
    await lost;
    redis.resume();
    // Its ownership key expires in Redis about now (a frozen Redis may still hold it for a few ms): make it so.
    const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    await admin.del(`${TIMINGS.keyPrefix}owner:{${hashId(sessionId)}}`);
    admin.disconnect();
    // The load balancer sends the next request to w2: it takes the session over and re-attaches.
    const taken = await post('tools/call', { name: 'increment', arguments: {} }, other);
    expect(taken.status, taken.text).toBe(200);
    expect(taken.text).toMatch(/"text":"5"/);
    // The old owner learns it is not the owner any more and forwards (the example worker does).
    const forwarded = await post('tools/call', { name: 'get', arguments: {} });
    expect(forwarded.status, forwarded.text).toBe(200);
    expect(forwarded.text).toMatch(/"text":"5"/);
    expect(worker.sessions.get(sessionId)).toBeUndefined();
    expect(other.sessions.get(sessionId)).toBeDefined();
    expect(upstream.events.filter((e) => e.type === 'opened')).toHaveLength(1);
  });

  it('Redis restarted empty: the owner that lost the session answers 404, never a new upstream session under the old id', async () => {
    // After the previous test `other` (w2) owns the session, its counter at 5.
    const owner = other;
    const opened = upstream.events.filter((e) => e.type === 'opened').length;
    const lost = new Promise<void>((resolve) => {
      owner.registry.on('session:retired', (event) => {
        if (event.reason === 'ownership-lost' && event.downstreamSessionId === sessionId) resolve();
      });
    });
    const restartedAt = Date.now();
    await redis.restartEmpty(); // ownership keys and upstream records are gone
    // Another worker claims the empty key before the owner's renewal (as a request landing there does) ...
    const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    const ownerKey = `${TIMINGS.keyPrefix}owner:{${hashId(sessionId)}}`;
    await admin.set(ownerKey, 'w1', 'PX', 60_000);
    // ... so the owner's renewal finds it owned by someone else: ownership lost.
    await owner.worker?.affinity.refresh();
    await lost;
    // That worker found no records and gave its claim back.
    await admin.del(ownerKey);
    admin.disconnect();

    const answer = await post('tools/call', { name: 'increment', arguments: {} }, owner);
    expect(answer.status, answer.text).toBe(404);
    expect(upstream.events.filter((e) => e.type === 'opened')).toHaveLength(opened); // nothing rebuilt silently
    expect(owner.sessions.get(sessionId)).toBeUndefined();
    console.log(`Redis restarted empty: ownership lost, then 404 (client re-initializes) ${Date.now() - restartedAt} ms after the restart`);
  });
});
