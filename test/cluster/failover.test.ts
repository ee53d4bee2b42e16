/**
 * The example Express proxy as three real worker processes on one real Redis,
 * behind the round-robin front: one owner per downstream session, forwarding,
 * and `kill -9` of an owner with re-attach to the same upstream session.
 *
 * The tests run in order and share the cluster: each one starts where the
 * previous one left it (that is the story of a failover).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Front, startFront } from '../../examples/cluster/front.js';
import { type WorkerProcess, startWorker } from '../../examples/cluster/worker-process.js';
import { sessionTag } from '../../examples/shared/hardening.js';
import { startCounterUpstream } from '../../examples/shared/counter-upstream.js';
import type { McpHost } from '../../examples/shared/mcp-host.js';
import type { RegistrySnapshot } from '../../src/index.js';
import { hashId } from '../../src/redis/keys.js';
import { type RedisServer, skipRedisSuites, startRedisServer } from '../fixtures/redis-server.js';

const HEARTBEAT_MS = 200;
const OWNERSHIP_TTL_MS = 1_000;
const PREFIX = 'cluster-test:';
const ADMIN_TOKEN = 'failover-test-admin-token';
const TIMINGS = {
  MCP_ADMIN_TOKEN: ADMIN_TOKEN,
  HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS),
  OWNERSHIP_TTL_MS: String(OWNERSHIP_TTL_MS),
  REDIS_COMMAND_TIMEOUT_MS: '500',
  REDIS_KEY_PREFIX: PREFIX,
};

interface Tab {
  readonly client: Client;
  readonly sessionId: string;
  close(): Promise<void>;
}

async function connect(url: string): Promise<Tab> {
  const client = new Client({ name: 'cluster-test', version: '1.0.0' });
  // Broken standalone SSE streams of a killed worker are expected; the calls are what the test checks.
  client.onerror = () => {};
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  return { client, sessionId: transport.sessionId as string, close: () => client.close() };
}

async function call(tab: Tab, tool: 'increment' | 'get'): Promise<number> {
  const result = await tab.client.callTool({ name: tool });
  return Number((result.content as { text?: string }[])[0]?.text);
}

describe.skipIf(skipRedisSuites())('three worker processes on Redis behind a round-robin front', () => {
  let redis: RedisServer;
  let admin: Redis;
  let subscriber: Redis;
  let upstream: McpHost;
  let front: Front;
  let workers: WorkerProcess[] = [];
  const tabs: Tab[] = [];
  let a: Tab;
  let b: Tab;

  const initializations = (): number => upstream.events.filter((e) => e.type === 'opened').length;
  const live = (): WorkerProcess[] => workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);

  async function snapshots(): Promise<Map<string, RegistrySnapshot>> {
    const entries = await Promise.all(
      live().map(async (w) => [w.workerId, (await (await fetch(`${w.origin}/admin/registry`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as RegistrySnapshot] as const),
    );
    return new Map(entries);
  }

  /** The invariant: across the cluster, at most one live upstream session per (downstream session, gateway). */
  async function assertOneUpstreamPerSession(): Promise<Map<string, string>> {
    const holders = new Map<string, string[]>();
    for (const [workerId, snapshot] of await snapshots()) {
      for (const s of snapshot.sessions) {
        const key = `${s.downstreamSessionId} ${s.gatewayId}`;
        holders.set(key, [...(holders.get(key) ?? []), workerId]);
      }
    }
    for (const [key, at] of holders) expect(at, key).toHaveLength(1);
    return new Map([...holders].map(([key, at]) => [key.split(' ')[0] as string, at[0] as string]));
  }

  async function ownerOf(tab: Tab): Promise<WorkerProcess> {
    const id = await admin.get(`${PREFIX}owner:{${hashId(tab.sessionId)}}`);
    const owner = workers.find((w) => w.workerId === id);
    if (owner === undefined) throw new Error(`no owner for ${tab.sessionId}: ${id}`);
    return owner;
  }

  /** Subscribes, then gives the time `key` expires in Redis (keyspace notification, no polling). */
  async function watchExpiry(key: string): Promise<{ gone: Promise<number> }> {
    const channel = `__keyspace@0__:${key}`;
    const expired = new Promise<number>((resolve) => {
      const onMessage = (from: string, event: string): void => {
        if (from !== channel || (event !== 'expired' && event !== 'del')) return;
        subscriber.off('message', onMessage);
        resolve(Date.now());
      };
      subscriber.on('message', onMessage);
    });
    await subscriber.subscribe(channel);
    // Already gone before we subscribed: nothing more will come.
    if ((await admin.exists(key)) === 0) return { gone: Promise.resolve(Date.now()) };
    return { gone: expired };
  }

  async function kill9(worker: WorkerProcess): Promise<{ killedAt: number; heartbeatGone: Promise<number> }> {
    const heartbeat = `${PREFIX}worker:${worker.workerId}`;
    // The heartbeat only ever lives one ownership TTL past the last renewal.
    const ttl = await admin.pttl(heartbeat);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(OWNERSHIP_TTL_MS);
    const { gone: heartbeatGone } = await watchExpiry(heartbeat);
    const killedAt = Date.now();
    worker.child.kill('SIGKILL');
    await worker.exited;
    return { killedAt, heartbeatGone };
  }

  /** When `worker` logged that it resumes `tab`'s session (its owner key was gone or its owner dead). */
  function resumedAt(worker: WorkerProcess, tab: Tab): number | undefined {
    const line = worker.logs.find((l) => l.msg === 'resuming a downstream session whose owner is gone' && l.downstreamSessionId === tab.sessionId);
    return typeof line?.t === 'number' ? line.t : undefined;
  }

  beforeAll(async () => {
    redis = await startRedisServer();
    admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    await admin.config('SET', 'notify-keyspace-events', 'Kgx');
    subscriber = new Redis(redis.url);
    upstream = await startCounterUpstream();
    const gateways = [{ id: 'counter', url: upstream.url }];
    workers = await Promise.all(
      ['w1', 'w2', 'w3'].map((workerId) => startWorker({ workerId, redisUrl: redis.url, gateways, env: TIMINGS })),
    );
    front = await startFront({ workers: workers.map((w) => w.origin) });
  }, 30_000);

  afterAll(async () => {
    await Promise.all(tabs.map((t) => t.close().catch(() => undefined)));
    await front?.close();
    await Promise.all(workers.map((w) => w.stop()));
    await upstream?.close();
    subscriber?.disconnect();
    admin?.disconnect();
    await redis?.stop();
  }, 30_000);

  it('spreads two clients over three workers: A reads 5, B reads 3, the upstream saw 2 initializations', async () => {
    a = await connect(front.url);
    b = await connect(front.url);
    tabs.push(a, b);
    for (let i = 0; i < 5; i++) {
      await call(a, 'increment');
      if (i < 3) await call(b, 'increment');
      await assertOneUpstreamPerSession();
    }
    expect(await call(a, 'get')).toBe(5);
    expect(await call(b, 'get')).toBe(3);
    expect(initializations()).toBe(2);
    expect(upstream.openSessions()).toHaveLength(2);
    // Every worker answered requests, but each session's upstream session lives on its owner only.
    for (const w of workers) expect(front.served.get(w.origin), w.workerId).toBeGreaterThan(0);
    const holders = await assertOneUpstreamPerSession();
    // The admin snapshot shows session ids as tags only.
    expect(holders.get(sessionTag(a.sessionId))).toBe((await ownerOf(a)).workerId);
    expect(holders.get(sessionTag(b.sessionId))).toBe((await ownerOf(b)).workerId);
  });

  it('kill -9 of the owner of A: another worker takes A over and re-attaches; A reads 5, no new initialize', async () => {
    const victim = await ownerOf(a);
    const { killedAt, heartbeatGone } = await kill9(victim);
    const expiredAt = await heartbeatGone;
    expect(await call(a, 'get')).toBe(5);
    const servedAt = Date.now();
    const heir = await ownerOf(a);
    expect(heir.workerId).not.toBe(victim.workerId);
    expect(initializations()).toBe(2);
    expect(upstream.openSessions()).toHaveLength(2); // the same two upstream sessions, no DELETE, no new one
    expect(await call(a, 'increment')).toBe(6);
    expect(await call(b, 'get')).toBe(3);
    await assertOneUpstreamPerSession();
    const reclaimedAt = resumedAt(heir, a);
    expect(reclaimedAt).toBeDefined();
    console.log(
      `failover timeline (heartbeat ${HEARTBEAT_MS} ms, ownership TTL ${OWNERSHIP_TTL_MS} ms): ` +
        `kill -9 ${victim.workerId} → heartbeat expired +${expiredAt - killedAt} ms → ` +
        `${heir.workerId} reclaimed A +${(reclaimedAt as number) - killedAt} ms → A's next call served +${servedAt - killedAt} ms`,
    );
  });

  it("when the upstream lost A's session too, A gets 404 (onSessionLost: 'fail') and re-initializes", async () => {
    const record = JSON.parse((await admin.hget(`${PREFIX}upstream:{${hashId(a.sessionId)}}`, 'counter')) as string) as { sessionId: string };
    const victim = await ownerOf(a);
    const { heartbeatGone } = await kill9(victim);
    await upstream.dropSession(record.sessionId); // as if the upstream restarted
    await heartbeatGone;
    const error = await call(a, 'get').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamableHTTPError);
    expect(error).toMatchObject({ code: 404 });
    expect(initializations()).toBe(2); // 'fail' never starts a new upstream session behind the client's back
    // The session's ownership and records are gone with it. The worker answers
    // the 404 first and ends the session after, so give the release its turn.
    const keys = [`${PREFIX}owner:{${hashId(a.sessionId)}}`, `${PREFIX}upstream:{${hashId(a.sessionId)}}`];
    await vi.waitFor(async () => expect(await admin.exists(...keys)).toBe(0), { timeout: 10_000, interval: 20 });

    const again = await connect(front.url);
    tabs.push(again);
    expect(await call(again, 'get')).toBe(0);
    expect(initializations()).toBe(3);
    expect(await call(b, 'get')).toBe(3);
    await assertOneUpstreamPerSession();
  });
});
