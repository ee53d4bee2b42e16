/**
 * A Redis outage longer than the ownership TTL, seen by a downstream client of
 * the example Express worker (fail-closed): its requests get one error shape,
 * HTTP 503 with Retry-After (never a JSON-RPC error inside an HTTP 200), and
 * once Redis answers again the session carries on with its upstream state.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExpressProxy, startProxy } from '../../examples/express/proxy.js';
import { startCounterUpstream } from '../../examples/shared/counter-upstream.js';
import type { McpHost } from '../../examples/shared/mcp-host.js';
import { type RedisServer, skipRedisSuites, startRedisServer } from '../fixtures/redis-server.js';

const TIMINGS = { heartbeatIntervalMs: 100, ownershipTtlMs: 600, commandTimeoutMs: 200, keyPrefix: 'outage:' } as const;
const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

describe.skipIf(skipRedisSuites())('a Redis outage past the ownership TTL (example worker, fail-closed)', () => {
  let redis: RedisServer;
  let upstream: McpHost;
  let worker: ExpressProxy;
  let client: Client;
  let sessionId: string;

  beforeAll(async () => {
    redis = await startRedisServer();
    upstream = await startCounterUpstream();
    worker = await startProxy({
      gateways: [{ id: 'counter', url: upstream.url }],
      logger: silent,
      cluster: { redisUrl: redis.url, workerId: 'w1', ...TIMINGS },
    });
    client = new Client({ name: 'outage-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(worker.url));
    await client.connect(transport);
    sessionId = transport.sessionId as string;
  }, 30_000);

  afterAll(async () => {
    redis?.resume();
    await client?.close();
    await worker?.close();
    await upstream?.close();
    await redis?.stop();
  });

  let nextId = 1_000;
  async function post(method: string, params: object): Promise<{ status: number; retryAfter: string | null; text: string }> {
    const res = await fetch(worker.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': sessionId,
        'mcp-protocol-version': '2025-06-18',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }),
    });
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
    await lost;
    const lostAfter = Date.now() - stoppedAt;

    for (let i = 0; i < 3; i++) {
      const startedAt = Date.now();
      const answer = await post('tools/call', { name: 'increment', arguments: {} });
      expect(answer.status, answer.text).toBe(503);
      expect(answer.retryAfter).toMatch(/^\d+$/);
      expect(Date.now() - startedAt).toBeLessThan(5_000); // bounded by the command timeout, not a hang
    }

    redis.resume();
    // Back: the worker claims the session again and re-attaches to the same upstream session.
    expect(await increment()).toBe(3);
    expect(upstream.events.filter((e) => e.type === 'opened')).toHaveLength(1);
    console.log(`Redis outage: ownership lost ${lostAfter} ms after Redis froze (TTL ${TIMINGS.ownershipTtlMs} ms); requests then got 503 + Retry-After; served again at once after Redis returned`);
  });
});
