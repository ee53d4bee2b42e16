/**
 * Issue 3's fault matrix for the HTTP factory, registry level, against the
 * real SDK counter server: each row states the fault and the expected outcome,
 * and leaves no handle open (test/setup.ts checks).
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterEach, describe, expect, it } from 'vitest';
import { classifyError } from '../../src/classify.js';
import { CreateFailedError, SessionLostError } from '../../src/errors.js';
import { mcpSessionFactory } from '../../src/mcp/factory.js';
import type { RegistryOptions } from '../../src/options.js';
import { UpstreamSessionRegistry } from '../../src/registry/index.js';
import type { UpstreamSessionRecord, UpstreamSessionStore } from '../../src/mcp/session-store.js';
import { SessionCreateRequest, type SessionCreateRequestInit } from '../../src/request.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { type CounterServer, type CounterServerOptions, startCounterServer } from '../fixtures/counter-server.js';
import { callText, collect, nextEvent, recordingContext } from '../fixtures/factory-harness.js';

const TRANSPORTS = ['streamable-http', 'sse'] as const;
type HttpTransport = (typeof TRANSPORTS)[number];

const servers: CounterServer[] = [];
const registries: UpstreamSessionRegistry[] = [];

afterEach(async () => {
  await Promise.all(registries.splice(0).map((registry) => registry.closeAll()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function counterServer(options?: CounterServerOptions): Promise<CounterServer> {
  const server = await startCounterServer(options);
  servers.push(server);
  return server;
}

function registry(options: Omit<RegistryOptions<Client>, 'factory'> = {}): UpstreamSessionRegistry {
  const created = new UpstreamSessionRegistry({ factory: mcpSessionFactory(), ...options });
  registries.push(created);
  return created;
}

function tab(
  server: CounterServer,
  transport: HttpTransport = 'streamable-http',
  extra: Partial<SessionCreateRequestInit> = {},
): SessionCreateRequestInit {
  return {
    downstreamSessionId: 'tab-A',
    gatewayId: 'counter',
    url: transport === 'sse' ? server.sseUrl : server.url,
    transport,
    ...extra,
  };
}

describe.each(TRANSPORTS)('fault matrix over %s', (transport) => {
  it('killed while idle: noticed, retired as lost; calls while down fail; the next call once back rebuilds', async () => {
    const server = await counterServer();
    const reg = registry({ createBackoff: false });
    const lost = collect(reg, 'session:lost');
    for (let i = 0; i < 2; i++) await reg.use(tab(server, transport), (client) => callText(client, 'increment'));

    const retired = nextEvent(reg, 'session:retired');
    await server.kill();
    // The event stream broke with the server: the death watch noticed while idle.
    expect((await retired).reason).toBe('lost');
    expect(lost).toEqual([expect.objectContaining({ policy: 'reconnect', reason: 'lost' })]);
    expect(reg.size).toBe(0);

    const whileDown = await reg.use(tab(server, transport), (client) => callText(client, 'get')).catch((e) => e);
    expect(whileDown).toBeInstanceOf(CreateFailedError);
    expect(classifyError((whileDown as CreateFailedError).cause)).toBe('transport');

    await server.restart();
    expect(await reg.use(tab(server, transport), (client) => callText(client, 'get'))).toBe('0');
    // One rebuild: the original session and exactly one new one.
    expect(server.initializations).toBe(2);
  });

  it('killed with a call in flight: the call rejects well under a second, not at its 60 s timeout', async () => {
    const server = await counterServer();
    const reg = registry();
    await reg.use(tab(server, transport), (client) => callText(client, 'increment'));
    const sleeping = server.waitForToolCall('sleep');
    let failedAt = 0;
    const call = reg
      .use(tab(server, transport), (client) => callText(client, 'sleep', { ms: 60_000 }))
      .catch((error: unknown) => {
        failedAt = performance.now();
        return error;
      });
    await sleeping;
    const killedAt = performance.now();
    await server.kill();
    const error = await call;
    const failAfterMs = failedAt - killedAt;
    expect(classifyError(error)).toBe('transport');
    expect(failAfterMs).toBeLessThan(1_000);
    expect(reg.size).toBe(0);
    console.info(`[measure] registry/${transport}: in-flight call failed ${failAfterMs.toFixed(1)} ms after kill`);
  });
});

describe('fault matrix: upstream restarted and forgot its sessions (HTTP 404)', () => {
  // No standalone stream: the restart goes unnoticed until the next request meets the 404.
  const serverOptions: CounterServerOptions = { standaloneStream: false };

  it("'reconnect': the call that meets it fails, session:lost is emitted, the next call rebuilds", async () => {
    const server = await counterServer(serverOptions);
    const reg = registry({ onSessionLost: 'reconnect' });
    const lost = nextEvent(reg, 'session:lost');
    for (let i = 0; i < 3; i++) await reg.use(tab(server), (client) => callText(client, 'increment'));
    await server.restart();

    const error = await reg.use(tab(server), (client) => callText(client, 'get')).catch((e: unknown) => e);
    expect(classifyError(error)).toBe('transport');
    expect(await lost).toMatchObject({ policy: 'reconnect', downstreamSessionId: 'tab-A' });
    expect(await reg.use(tab(server), (client) => callText(client, 'get'))).toBe('0');
  });

  it("'fail': acquires reject with SessionLostError until evictSession", async () => {
    const server = await counterServer(serverOptions);
    const reg = registry({ onSessionLost: 'fail' });
    const lost = nextEvent(reg, 'session:lost');
    await reg.use(tab(server), (client) => callText(client, 'increment'));
    await server.restart();

    await reg.use(tab(server), (client) => callText(client, 'get')).catch(() => undefined);
    expect(await lost).toMatchObject({ policy: 'fail' });
    for (let i = 0; i < 2; i++) {
      await expect(reg.use(tab(server), (client) => callText(client, 'get'))).rejects.toBeInstanceOf(SessionLostError);
    }
    // Other downstream sessions are not affected.
    expect(await reg.use(tab(server, 'streamable-http', { downstreamSessionId: 'tab-B' }), (c) => callText(c, 'get'))).toBe(
      '0',
    );

    await reg.evictSession('tab-A');
    expect(await reg.use(tab(server), (client) => callText(client, 'get'))).toBe('0');
  });
});

describe('fault matrix: a stored upstream session the restarted upstream forgot', () => {
  class MemoryStore implements UpstreamSessionStore {
    readonly records = new Map<string, UpstreamSessionRecord>();
    async get(ds: string, gw: string) {
      return this.records.get(`${ds}\n${gw}`);
    }
    async set(ds: string, gw: string, record: UpstreamSessionRecord) {
      this.records.set(`${ds}\n${gw}`, record);
    }
    async delete(ds: string, gw: string) {
      this.records.delete(`${ds}\n${gw}`);
    }
  }

  /** A store holding the session of a worker that died, on an upstream that restarted since. */
  async function staleRecord(server: CounterServer): Promise<MemoryStore> {
    const store = new MemoryStore();
    const worker = await mcpSessionFactory({ sessionStore: store })(
      SessionCreateRequest.from(tab(server)),
      recordingContext(),
    );
    await worker.client.close(); // dies: no DELETE, the record stays
    await server.restart();
    expect(store.records.size).toBe(1);
    return store;
  }

  function storeRegistry(store: MemoryStore, onSessionLost: 'reconnect' | 'fail'): UpstreamSessionRegistry {
    const created = new UpstreamSessionRegistry({ factory: mcpSessionFactory({ sessionStore: store }), onSessionLost });
    registries.push(created);
    return created;
  }

  it("'reconnect': the re-attach meets 404, session:lost is emitted, and a fresh session serves the call", async () => {
    const server = await counterServer();
    const store = await staleRecord(server);
    const reg = storeRegistry(store, 'reconnect');
    const lost = nextEvent(reg, 'session:lost');
    expect(await reg.use(tab(server), (client) => callText(client, 'get'))).toBe('0');
    expect(await lost).toMatchObject({ policy: 'reconnect' });
    expect(server.initializations).toBe(2);
    expect(store.records.size).toBe(1); // the fresh session's record
  });

  it("'fail': the re-attach meets 404 and the downstream session is lost until evictSession", async () => {
    const server = await counterServer();
    const store = await staleRecord(server);
    const reg = storeRegistry(store, 'fail');
    await expect(reg.use(tab(server), (client) => callText(client, 'get'))).rejects.toBeInstanceOf(SessionLostError);
    await expect(reg.use(tab(server), (client) => callText(client, 'get'))).rejects.toBeInstanceOf(SessionLostError);
    expect(store.records.size).toBe(0);
    await reg.evictSession('tab-A');
    expect(await reg.use(tab(server), (client) => callText(client, 'get'))).toBe('0');
  });
});

describe('fault matrix: connect and close', () => {
  it.each(TRANSPORTS)('hangs on connect (%s): ERR_CREATE_FAILED at connectTimeoutMs, nothing registered', async (transport) => {
    const server = await counterServer();
    server.faults.hangAll = true;
    const reg = registry();
    const started = performance.now();
    const error = await reg
      .use(tab(server, transport, { connectTimeoutMs: 300 }), (client) => callText(client, 'get'))
      .catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(CreateFailedError);
    expect((error as CreateFailedError).code).toBe('ERR_CREATE_FAILED');
    expect((error as CreateFailedError).cause).toMatchObject({ name: 'TimeoutError' });
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(5_000);
    expect(reg.size).toBe(0);
    expect(reg.snapshot().sessions).toEqual([]);
    await server.whenIdle();
  });

  it.each([
    ['non-json', 'streamable-http'],
    ['wrong-content-type', 'streamable-http'],
    ['status-500', 'streamable-http'],
    ['close-mid-response', 'streamable-http'],
    ['non-json', 'sse'],
    ['status-500', 'sse'],
  ] as const)('a %s answer over %s: ERR_CREATE_FAILED with the cause, nothing open', async (bad, transport) => {
    const server = await counterServer();
    server.faults.badInitialize = bad;
    const reg = registry();
    const error = await reg
      .use(tab(server, transport, { connectTimeoutMs: 10_000 }), (client) => callText(client, 'get'))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CreateFailedError);
    expect((error as CreateFailedError).cause).toBeInstanceOf(Error);
    expect((error as CreateFailedError).cause).not.toMatchObject({ name: 'TimeoutError' });
    expect(reg.size).toBe(0);
    await server.whenIdle();
    expect(server.openSessions).toBe(0);
  });

  it('never answers DELETE: closeAll stays bounded and forces the close', async () => {
    const server = await counterServer();
    server.faults.hangDelete = true;
    const closeTimeoutMs = 300;
    const clock = new ManualClock();
    const reg = registry({ closeTimeoutMs, clock });
    const closed = collect(reg, 'session:closed');
    const orphaned = collect(reg, 'session:orphaned');
    for (const id of ['tab-A', 'tab-B', 'tab-C']) {
      await reg.use(tab(server, 'streamable-http', { downstreamSessionId: id }), (client) => callText(client, 'get'));
    }
    let deletes = 0;
    const allDeletesArrived = server.waitForRequest((r) => r.httpMethod === 'DELETE' && ++deletes === 3);
    let done = false;
    const closing = reg.closeAll().then(() => {
      done = true;
    });
    await allDeletesArrived;
    // The deadlines run on the registry's clock: nothing ends the close before the graceful phase does.
    await clock.advance(closeTimeoutMs - 1);
    expect(done).toBe(false);
    // The graceful phase ends: the forced close tears the sockets down with no more clock
    // time (so a slow machine cannot push it into the orphan phase).
    await clock.advance(1);
    await closing;
    expect(clock.now()).toBe(closeTimeoutMs);
    expect(server.deletes).toBe(3);
    expect(closed).toHaveLength(3);
    expect(closed.every((event) => event.forced)).toBe(true);
    expect(orphaned).toEqual([]);
    await server.whenIdle();
  });
});

describe('fault matrix: a probe that times out', () => {
  async function idleSession(clock: ManualClock) {
    const server = await counterServer();
    const reg = registry({ clock, idleValidationMs: 60_000, probeTimeoutMs: 200 });
    await reg.use(tab(server), (client) => callText(client, 'increment'));
    await clock.advance(60_000);
    return { server, reg };
  }

  it('advances to the next step; an answer there keeps the session', async () => {
    const clock = new ManualClock();
    const { server, reg } = await idleSession(clock);
    server.faults.hangMethods.add('ping');
    const probed = nextEvent(reg, 'session:probed');
    expect(await reg.use(tab(server), (client) => callText(client, 'get'))).toBe('1');
    expect(await probed).toMatchObject({ healthy: true, step: 'tools/list' });
    expect(server.initializations).toBe(1);
  });

  it('a chain where every step times out retires the session; the call gets a new one', async () => {
    const clock = new ManualClock();
    const { server, reg } = await idleSession(clock);
    for (const method of ['ping', 'tools/list', 'prompts/list', 'resources/list']) server.faults.hangMethods.add(method);
    const retired = nextEvent(reg, 'session:retired');
    expect(await reg.use(tab(server), (client) => callText(client, 'get'))).toBe('0');
    expect(await retired).toMatchObject({ reason: 'probe-failed' });
    expect(server.initializations).toBe(2);
  });
});

describe('fault matrix: a gateway that is down while 200 downstream sessions call it', () => {
  it('sees at most createConcurrencyPerGateway concurrent connects; calls in the backoff window fail fast', async () => {
    const server = await counterServer();
    server.faults.hangAll = true;
    const concurrency = 4;
    const reg = registry({
      createConcurrencyPerGateway: concurrency,
      createBackoff: { afterFailures: 2, initialMs: 10_000, maxMs: 10_000 },
    });
    const backoff = nextEvent(reg, 'gateway:backoff');
    const calls = Array.from({ length: 200 }, (_, i) =>
      reg
        .use(tab(server, 'streamable-http', { downstreamSessionId: `tab-${i}`, connectTimeoutMs: 300 }), (client) =>
          callText(client, 'get'),
        )
        .then(
          () => undefined,
          (error: unknown) => error,
        ),
    );
    const errors = await Promise.all(calls);
    expect(errors.every((error) => error instanceof CreateFailedError)).toBe(true);
    expect(server.maxConcurrentConnects).toBeLessThanOrEqual(concurrency);
    // The first wave, and at most one more wave before the window opened.
    expect(server.connectAttempts).toBeLessThanOrEqual(2 * concurrency);
    expect(await backoff).toMatchObject({ gatewayId: 'counter' });
    expect(reg.snapshot().gateways.counter?.backoffRemainingMs).toBeGreaterThan(0);

    // In the window: rejected at once, without touching the upstream.
    const attempts = server.connectAttempts;
    const connectTimeoutMs = 300;
    const late = reg
      .use(tab(server, 'streamable-http', { downstreamSessionId: 'late', connectTimeoutMs }), (c) => callText(c, 'get'))
      .catch((e: unknown) => e);
    // Order, not a stopwatch: a create that went upstream (hung) takes connectTimeoutMs at
    // least; the refusal in the window comes first whatever the machine load.
    let timer: NodeJS.Timeout | undefined;
    const slow = new Promise<'slow'>((resolve) => {
      timer = setTimeout(() => resolve('slow'), connectTimeoutMs);
    });
    const fast = await Promise.race([late, slow]);
    clearTimeout(timer);
    expect(fast).toBeInstanceOf(CreateFailedError);
    expect((fast as CreateFailedError).message).toMatch(/backing off/);
    expect(server.connectAttempts).toBe(attempts);
    await server.whenIdle();
  });
});
