/**
 * The Hono example proxy in multi-worker mode: two worker processes on a real
 * Redis behind the round-robin front; requests that land on the non-owner are
 * forwarded (Web-standard `forwardToOwner`), so one upstream session serves the client.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Front, startFront } from '../../examples/cluster/front.js';
import { type WorkerProcess, startWorker } from '../../examples/cluster/worker-process.js';
import { startCounterUpstream } from '../../examples/shared/counter-upstream.js';
import type { McpHost } from '../../examples/shared/mcp-host.js';
import type { RegistrySnapshot } from '../../src/index.js';
import { type RedisServer, skipRedisSuites, startRedisServer } from '../fixtures/redis-server.js';

describe.skipIf(skipRedisSuites())('two Hono workers on Redis behind a round-robin front', () => {
  let redis: RedisServer;
  let upstream: McpHost;
  let front: Front;
  let workers: WorkerProcess[] = [];
  let client: Client | undefined;

  beforeAll(async () => {
    redis = await startRedisServer();
    upstream = await startCounterUpstream();
    const gateways = [{ id: 'counter', url: upstream.url }];
    workers = await Promise.all(
      ['h1', 'h2'].map((workerId) => startWorker({ workerId, redisUrl: redis.url, gateways, framework: 'hono', env: { REDIS_KEY_PREFIX: 'hono-test:', MCP_ADMIN_TOKEN: 'hono-test-admin-token' } })),
    );
    front = await startFront({ workers: workers.map((w) => w.origin) });
  }, 30_000);

  afterAll(async () => {
    await client?.close();
    await front?.close();
    await Promise.all(workers.map((w) => w.stop()));
    await upstream?.close();
    await redis?.stop();
  }, 30_000);

  it('forwards to the owner: 4 increments read 4, one upstream session, on one worker', async () => {
    client = new Client({ name: 'hono-cluster-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(front.url)));
    for (let i = 0; i < 4; i++) await client.callTool({ name: 'increment' });
    const read = await client.callTool({ name: 'get' });
    expect((read.content as { text?: string }[])[0]?.text).toBe('4');
    expect(upstream.events.filter((e) => e.type === 'opened')).toHaveLength(1);
    for (const w of workers) expect(front.served.get(w.origin), w.workerId).toBeGreaterThan(0);
    const held = await Promise.all(
      workers.map(async (w) => ((await (await fetch(`${w.origin}/admin/registry`, { headers: { authorization: 'Bearer hono-test-admin-token' } })).json()) as RegistrySnapshot).live),
    );
    expect(held.sort()).toEqual([0, 1]);
  });
});
