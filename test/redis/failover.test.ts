/**
 * Failover in one process: two registries ("workers") on one Redis and one real
 * SDK counter server. Worker A owns a downstream session; A stops renewing (as
 * if it died or froze); worker B takes the session over and re-attaches to the
 * same upstream session through RedisSessionStore, so the upstream state survives.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterEach, describe, expect, it } from 'vitest';
import { NotOwnerError, SessionLostError } from '../../src/errors.js';
import { mcpSessionFactory } from '../../src/mcp/factory.js';
import type { RedisAffinity } from '../../src/redis/affinity.js';
import type { RegistryOptions } from '../../src/options.js';
import { RedisSessionStore } from '../../src/redis/session-store.js';
import { UpstreamSessionRegistry } from '../../src/registry/index.js';
import type { SessionCreateRequestInit } from '../../src/request.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { type CounterServer, startCounterServer } from '../fixtures/counter-server.js';
import { skipRedisSuites } from '../fixtures/redis-server.js';
import { keysOf, useRedis } from './helpers.js';

// Long enough that no stall of a loaded machine expires a key on its own: the test
// decides when A is dead by expiring A's heartbeat key itself.
const TIMING = { heartbeatIntervalMs: 1_000, commandTimeoutMs: 5_000, ownershipTtlMs: 60_000 } as const;

async function call(registry: UpstreamSessionRegistry, init: SessionCreateRequestInit, tool: string): Promise<string> {
  return registry.use(init, async (client: Client) => {
    const result = await client.callTool({ name: tool, arguments: {} });
    const first = (result.content as { type: string; text?: string }[])[0];
    return first?.text ?? '';
  });
}

describe.skipIf(skipRedisSuites())('failover between workers on RedisAffinity + RedisSessionStore', () => {
  const h = useRedis();
  const registries: UpstreamSessionRegistry[] = [];
  let upstream: CounterServer | undefined;

  afterEach(async () => {
    // Newest first: the worker that took over closes before the one that stalled.
    for (const registry of registries.splice(0).reverse()) await registry.closeAll();
    await upstream?.close();
    upstream = undefined;
  });

  function worker(affinity: RedisAffinity, options: Partial<RegistryOptions<Client>> = {}): UpstreamSessionRegistry {
    const sessionStore = new RedisSessionStore({ affinity });
    const registry = new UpstreamSessionRegistry<Client>({ affinity, factory: mcpSessionFactory({ sessionStore }), ...options });
    registries.push(registry);
    return registry;
  }

  async function ownedByAThenTakenByB(bOptions: Partial<RegistryOptions<Client>> = {}) {
    upstream = await startCounterServer();
    const keyPrefix = h.prefix();
    // A renews only when the test says so (its clock never moves).
    const clockA = new ManualClock();
    const affinityA = h.affinity({ keyPrefix, workerId: 'A', address: 'http://a.internal', clock: clockA, ...TIMING });
    const a = worker(affinityA);
    const b = worker(h.affinity({ keyPrefix, workerId: 'B', address: 'http://b.internal', ...TIMING }), bOptions);
    const tab: SessionCreateRequestInit = { downstreamSessionId: 'tab-A', gatewayId: 'counter', url: upstream.url };

    for (let i = 0; i < 5; i++) await call(a, tab, 'increment');
    await affinityA.refresh(); // A's last sign of life
    await expect(call(b, tab, 'get')).rejects.toBeInstanceOf(NotOwnerError);
    expect(upstream.initializations).toBe(1);

    // A dies: its heartbeat key runs out (now, rather than after a TTL a slow machine could
    // also reach before the NotOwnerError check above).
    const heartbeatA = keysOf(keyPrefix).worker('A');
    await h.admin.pexpire(heartbeatA, 1);
    await h.expired(heartbeatA);
    return { a, affinityA, b, tab, upstream };
  }

  it('the new owner re-attaches to the same upstream session: state survives, no new initialize', async () => {
    const { b, tab, upstream } = await ownedByAThenTakenByB();
    expect(await call(b, tab, 'get')).toBe('5');
    expect(await call(b, tab, 'increment')).toBe('6');
    expect(upstream.initializations).toBe(1);
    expect(upstream.openSessions).toBe(1);
  });

  it('when the upstream lost the session too, the new owner starts a new one (onSessionLost: reconnect)', async () => {
    const { b, tab, upstream } = await ownedByAThenTakenByB();
    await upstream.forgetSessions();
    expect(await call(b, tab, 'get')).toBe('0');
    expect(upstream.initializations).toBe(2);
  });

  it("when the upstream lost the session too, onSessionLost: 'fail' rejects with SessionLostError", async () => {
    const { b, tab, upstream } = await ownedByAThenTakenByB({ onSessionLost: 'fail' });
    await upstream.forgetSessions();
    await expect(call(b, tab, 'get')).rejects.toBeInstanceOf(SessionLostError);
  });

  it('the stalled worker, once awake, drops the session without ending it for the new owner', async () => {
    const { a, affinityA, b, tab, upstream } = await ownedByAThenTakenByB();
    expect(await call(b, tab, 'get')).toBe('5');
    const retired = new Promise<string>((resolve) => a.on('session:retired', (e) => resolve(e.reason)));
    const closed = new Promise<void>((resolve) => a.on('session:closed', () => resolve()));
    await affinityA.refresh(); // A wakes up and learns B owns tab-A now
    expect(await retired).toBe('ownership-lost');
    await closed;
    await expect(call(a, tab, 'get')).rejects.toMatchObject({ owner: { workerId: 'B' } });
    // A must not have ended (HTTP DELETE) the upstream session B re-attached to.
    expect(upstream.deletes).toBe(0);
    expect(await call(b, tab, 'increment')).toBe('6');
  });
});
