/**
 * The owner cache on the forwarding path, with two in-process example
 * workers (Express) on one real Redis: once a worker learned who owns a
 * session, forwarding its requests costs no Redis call (measured with Redis'
 * own command counter), and a forward the owner can no longer answer makes
 * the worker ask Redis again.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExpressProxy, startProxy } from '../../examples/express/proxy.js';
import { startCounterUpstream } from '../../examples/shared/counter-upstream.js';
import type { McpHost } from '../../examples/shared/mcp-host.js';
import { type RedisServer, skipRedisSuites, startRedisServer } from '../fixtures/redis-server.js';
import { postToWorker, silentLogger } from './worker-requests.js';

// No timer fires during the test, so every Redis command counted is one a request caused.
const QUIET = { heartbeatIntervalMs: 60_000, ownershipTtlMs: 180_000, commandTimeoutMs: 1_000, keyPrefix: 'fwd:' } as const;

describe.skipIf(skipRedisSuites())('forwarding with an owner cache (two workers, real Redis)', () => {
  let redis: RedisServer;
  let admin: Redis;
  let upstream: McpHost;
  let owner: ExpressProxy;
  let forwarder: ExpressProxy;
  let client: Client;
  let sessionId: string;

  beforeAll(async () => {
    redis = await startRedisServer();
    admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    upstream = await startCounterUpstream();
    const gateways = [{ id: 'counter', url: upstream.url }];
    owner = await startProxy({ gateways, logger: silentLogger, cluster: { redisUrl: redis.url, workerId: 'owner', ...QUIET } });
    forwarder = await startProxy({ gateways, logger: silentLogger, cluster: { redisUrl: redis.url, workerId: 'fwd', ...QUIET } });
    client = new Client({ name: 'fwd-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(owner.url));
    await client.connect(transport);
    sessionId = transport.sessionId as string;
  }, 30_000);

  afterAll(async () => {
    await client?.close();
    await forwarder?.close();
    await owner?.close();
    await upstream?.close();
    admin?.disconnect();
    await redis?.stop();
  });

  let nextId = 100;
  /** One `tools/call` sent to `worker` with the session's id, as a load balancer would route it. */
  async function callVia(worker: ExpressProxy, tool: 'increment' | 'get'): Promise<{ status: number; value?: number }> {
    const res = await postToWorker(worker.url, sessionId, { jsonrpc: '2.0', id: nextId++, method: 'tools/call', params: { name: tool, arguments: {} } });
    const text = await res.text();
    const data = /^data: (.*)$/m.exec(text)?.[1] ?? text;
    const parsed = JSON.parse(data) as { result?: { content: { text: string }[] } };
    const value = parsed.result === undefined ? undefined : Number(parsed.result.content[0]?.text);
    return { status: res.status, ...(value !== undefined && { value }) };
  }

  async function commandsProcessed(): Promise<number> {
    return Number(/total_commands_processed:(\d+)/.exec(await admin.info('stats'))?.[1]);
  }

  it('makes no Redis call per forwarded request once the owner is cached', async () => {
    expect(await callVia(forwarder, 'increment')).toEqual({ status: 200, value: 1 }); // cold: one claim names the owner
    const first = await commandsProcessed();
    const second = await commandsProcessed();
    const reading = second - first; // what one INFO adds by itself
    const calls = 20;
    for (let i = 0; i < calls; i++) expect((await callVia(forwarder, 'increment')).value).toBe(i + 2);
    const third = await commandsProcessed();
    const perForward = (third - second - reading) / calls;
    console.log(`Redis commands per warm forwarded request: ${perForward} (${calls} forwards)`);
    expect(perForward).toBe(0);
  });

  it('forgets the cached owner when a forward fails, and asks Redis again', async () => {
    const member = forwarderCache();
    expect(member.get(sessionId)).toMatchObject({ workerId: 'owner' });
    // The owner no longer knows the session (as after it lost it): 404, and the cache entry goes.
    await owner.sessions.close(sessionId);
    const answer = await callVia(forwarder, 'get');
    expect(answer.status).toBe(404);
    expect(member.get(sessionId)).toBeUndefined();
  });

  function forwarderCache() {
    const cache = forwarder.worker?.ownerCache;
    if (cache === undefined) throw new Error('the forwarder runs without a cluster member');
    return cache;
  }
});
