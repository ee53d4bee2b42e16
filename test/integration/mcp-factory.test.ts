/**
 * mcpSessionFactory against real SDK servers on 127.0.0.1, driven directly
 * (no registry): connect, headers, timeouts, bad answers, close, death
 * detection, 404, re-attach through a session store.
 */
import { inspect } from 'node:util';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type {
  JsonSchemaValidatorResult,
  jsonSchemaValidator as jsonSchemaValidatorType,
} from '@modelcontextprotocol/sdk/validation/types.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { classifyError, isSessionGone } from '../../src/classify.js';
import { InvalidOptionsError, InvalidRequestError } from '../../src/errors.js';
import { defaultProbeChain, type ProbeChain, runProbeChain } from '../../src/probe.js';
import type { UpstreamConnection } from '../../src/factory.js';
import { mcpSessionFactory } from '../../src/mcp/factory.js';
import type { UpstreamSessionRecord, UpstreamSessionStore } from '../../src/mcp/session-store.js';
import { SessionCreateRequest, type SessionCreateRequestInit, type TransportType } from '../../src/request.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { type BadAnswer, type CounterServer, startCounterServer } from '../fixtures/counter-server.js';
import { type AnswerServer, type AnswerServerOptions, startAnswerServer } from '../fixtures/answer-server.js';
import { ConnectionTracker, callText, collect, nextEvent, recordingContext } from '../fixtures/factory-harness.js';
import type { RegistryEvents } from '../../src/events.js';
import { UpstreamSessionRegistry } from '../../src/index.js';

const servers: CounterServer[] = [];
const tracker = new ConnectionTracker<Client>();

afterEach(async () => {
  await tracker.closeAll();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function counterServer(options?: Parameters<typeof startCounterServer>[0]): Promise<CounterServer> {
  const server = await startCounterServer(options);
  servers.push(server);
  return server;
}

function requestFor(
  server: CounterServer,
  transport: Exclude<TransportType, 'stdio'>,
  init: Partial<SessionCreateRequestInit> = {},
): SessionCreateRequest {
  return SessionCreateRequest.from({
    downstreamSessionId: 'downstream-1',
    gatewayId: 'counter',
    url: transport === 'sse' ? server.sseUrl : server.url,
    transport,
    ...init,
  });
}

function upstreamSessionId(connection: UpstreamConnection<Client>): string | undefined {
  const transport = connection.client.transport;
  return transport instanceof StreamableHTTPClientTransport ? transport.sessionId : undefined;
}

class MemoryStore implements UpstreamSessionStore {
  readonly records = new Map<string, UpstreamSessionRecord>();
  async get(downstreamSessionId: string, gatewayId: string) {
    return this.records.get(`${downstreamSessionId}\n${gatewayId}`);
  }
  async set(downstreamSessionId: string, gatewayId: string, record: UpstreamSessionRecord) {
    this.records.set(`${downstreamSessionId}\n${gatewayId}`, record);
  }
  async delete(downstreamSessionId: string, gatewayId: string) {
    this.records.delete(`${downstreamSessionId}\n${gatewayId}`);
  }
}

const TRANSPORTS = ['streamable-http', 'sse'] as const;

describe('mcpSessionFactory options', () => {
  it('rejects unknown and malformed options with InvalidOptionsError', () => {
    expect(() => mcpSessionFactory({ requestTimeoutMS: 5 } as never)).toThrow(InvalidOptionsError);
    expect(() => mcpSessionFactory({ requestTimeoutMs: -1 })).toThrow(/requestTimeoutMs/);
    expect(() => mcpSessionFactory({ clientInfo: { name: '', version: '1' } })).toThrow(/clientInfo\.name/);
    expect(() => mcpSessionFactory({ sessionStore: { get: () => undefined } as never })).toThrow(/sessionStore: expected an object with a set\(\) method/);
    expect(() => mcpSessionFactory({ configureClient: 'no' as never })).toThrow(/configureClient/);
    expect(() => mcpSessionFactory({ deathPingTimeoutMs: Number.NaN })).toThrow(/deathPingTimeoutMs/);
  });

  it("rejects a 'stdio' request with InvalidRequestError", async () => {
    const request = SessionCreateRequest.from({
      downstreamSessionId: 'd',
      gatewayId: 'g',
      transport: 'stdio',
      stdio: { command: 'node' },
    });
    await expect(mcpSessionFactory()(request, recordingContext())).rejects.toBeInstanceOf(InvalidRequestError);
  });
});

describe.each(TRANSPORTS)('mcpSessionFactory over %s', (transport) => {
  it('connects, keeps per-session state, and closes', async () => {
    const server = await counterServer();
    const factory = mcpSessionFactory({ clientInfo: { name: 'test-proxy', version: '9.9.9' } });
    const connection = tracker.track(await factory(requestFor(server, transport), recordingContext()));
    expect(await callText(connection.client, 'increment')).toBe('1');
    expect(await callText(connection.client, 'increment')).toBe('2');
    expect(await callText(connection.client, 'get')).toBe('2');
    expect(server.initializations).toBe(1);
    expect(server.openSessions).toBe(1);
    await connection.close({ signal: new AbortController().signal });
    await server.whenIdle();
    expect(server.openSessions).toBe(0);
  });

  it("sends the request's headers on every upstream request, never the downstream session id", async () => {
    const server = await counterServer();
    const request = requestFor(server, transport, {
      headers: { 'X-Api-Key': 'key-1', 'Mcp-Session-Id': 'downstream-session-must-not-leak', Authorization: 'Bearer t' },
    });
    const connection = tracker.track(await mcpSessionFactory()(request, recordingContext()));
    await callText(connection.client, 'increment');
    await connection.close({ signal: new AbortController().signal });
    await server.whenIdle();

    expect(server.requests.length).toBeGreaterThanOrEqual(3);
    for (const received of server.requests) {
      expect(received.headers['x-api-key']).toBe('key-1');
      expect(received.headers.authorization).toBe('Bearer t');
      expect(received.headers['mcp-session-id']).not.toBe('downstream-session-must-not-leak');
    }
    if (transport === 'streamable-http') {
      const [initialize, ...rest] = server.requests;
      expect(initialize?.rpcMethod).toBe('initialize');
      expect(initialize?.headers['mcp-session-id']).toBeUndefined();
      const upstreamId = rest[0]?.headers['mcp-session-id'];
      expect(typeof upstreamId).toBe('string');
      for (const received of rest) expect(received.headers['mcp-session-id']).toBe(upstreamId);
      expect(rest.map((r) => r.httpMethod)).toEqual(expect.arrayContaining(['POST', 'GET', 'DELETE']));
    }
  });

  it('bounds connect + initialize by connectTimeoutMs and leaves nothing open', async () => {
    const server = await counterServer();
    server.faults.hangAll = true;
    const started = performance.now();
    const error = await mcpSessionFactory()(
      requestFor(server, transport, { connectTimeoutMs: 300 }),
      recordingContext(),
    ).catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(error).toMatchObject({ name: 'TimeoutError' });
    expect(String((error as Error).message)).toContain('300 ms');
    expect(elapsed).toBeGreaterThanOrEqual(290);
    // Far below the SDK's 60 s: the deadline, not a request timeout, ended it.
    expect(elapsed).toBeLessThan(5_000);
    await server.whenIdle();
    expect(server.openSessions).toBe(0);
  });

  it('stops connecting when ctx.signal aborts, rejecting with its reason', async () => {
    const server = await counterServer();
    server.faults.hangAll = true;
    const ctx = recordingContext();
    const { controller } = ctx;
    const connecting = mcpSessionFactory()(requestFor(server, transport), ctx);
    await server.waitForRequest(() => true);
    const reason = new Error('create no longer wanted');
    controller.abort(reason);
    await expect(connecting).rejects.toBe(reason);
    await server.whenIdle();
  });

  const badAnswers: Array<[BadAnswer, (error: unknown) => void]> = [
    ['non-json', (error) => expect(error).toBeInstanceOf(SyntaxError)],
    [
      'wrong-content-type',
      (error) => expect(String((error as Error).message)).toMatch(/content type|content-type|text\/html/i),
    ],
    ['status-500', (error) => expect((error as { code?: unknown }).code).toBe(500)],
    ['close-mid-response', (error) => expect(classifyError(error)).not.toBe('timeout')],
    // Not masked by the ConnectionClosed of the SDK's own close after a failed initialize.
    ['rpc-error', (error) => expect(error).toMatchObject({ code: -32602 })],
  ];

  it.each(badAnswers)('rejects a %s answer with the cause, at once, leaving nothing open', async (bad, check) => {
    const server = await counterServer();
    server.faults.badInitialize = bad;
    const error = await mcpSessionFactory()(
      requestFor(server, transport, { connectTimeoutMs: 10_000 }),
      recordingContext(),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).not.toBe('TimeoutError');
    check(error);
    await server.whenIdle();
    expect(server.openSessions).toBe(0);
  });

  it('sees each new Client in configureClient before it connects', async () => {
    const server = await counterServer();
    const seen: Array<{ connected: boolean; gatewayId: string }> = [];
    const factory = mcpSessionFactory({
      configureClient: (client, request) => {
        seen.push({ connected: client.transport !== undefined, gatewayId: request.gatewayId });
      },
    });
    tracker.track(await factory(requestFor(server, transport), recordingContext()));
    expect(seen).toEqual([{ connected: false, gatewayId: 'counter' }]);
  });

  it('fails the create, closing everything, when configureClient throws', async () => {
    const server = await counterServer();
    const boom = new Error('hook failed');
    const factory = mcpSessionFactory({
      configureClient: () => {
        throw boom;
      },
    });
    await expect(factory(requestFor(server, transport), recordingContext())).rejects.toBe(boom);
    expect(server.requests).toHaveLength(0);
  });

  it('applies requestTimeoutMs as the default per-call timeout', async () => {
    const server = await counterServer();
    const connection = tracker.track(
      await mcpSessionFactory({ requestTimeoutMs: 200 })(requestFor(server, transport), recordingContext()),
    );
    const error = await connection.client.callTool({ name: 'sleep', arguments: { ms: 10_000 } }).catch((e) => e);
    expect(error).toBeInstanceOf(McpError);
    expect((error as McpError).code).toBe(ErrorCode.RequestTimeout);
    // An explicit per-call timeout still wins: a call longer than the 200 ms default answers.
    const slept = await connection.client.callTool({ name: 'sleep', arguments: { ms: 400 } }, undefined, {
      timeout: 60_000,
    });
    expect(slept.content).toEqual([{ type: 'text', text: 'slept' }]);
  });

  it('kills: a call in flight when the upstream dies rejects at once and onBroken fires', async () => {
    const server = await counterServer();
    const ctx = recordingContext();
    const { broken, firstBroken } = ctx;
    const connection = tracker.track(await mcpSessionFactory()(requestFor(server, transport), ctx));
    const sleeping = server.waitForToolCall('sleep');
    const call = connection.client.callTool({ name: 'sleep', arguments: { ms: 60_000 } });
    const outcome = call.then(
      () => ({ ok: true, at: performance.now() }),
      (error: unknown) => ({ ok: false, error, at: performance.now() }),
    );
    await sleeping;
    const killedAt = performance.now();
    await server.kill();
    const settled = await outcome;
    const failAfterMs = settled.at - killedAt;
    expect(settled.ok).toBe(false);
    expect(classifyError((settled as { error: unknown }).error)).toBe('transport');
    expect(failAfterMs).toBeLessThan(1_000);
    await firstBroken;
    expect(broken).toHaveLength(1);
    console.info(`[measure] ${transport}: in-flight call failed ${failAfterMs.toFixed(1)} ms after the upstream died`);
  });
});

describe('mcpSessionFactory death detection (streamable-http)', () => {
  it('rejects an in-flight call at once with JSON responses too', async () => {
    const server = await counterServer({ jsonResponse: true });
    const ctx = recordingContext();
    const { firstBroken } = ctx;
    const connection = tracker.track(await mcpSessionFactory()(requestFor(server, 'streamable-http'), ctx));
    const sleeping = server.waitForToolCall('sleep');
    const call = connection.client.callTool({ name: 'sleep', arguments: { ms: 60_000 } }).catch((e: unknown) => e);
    await sleeping;
    const killedAt = performance.now();
    await server.kill();
    const error = await call;
    expect(performance.now() - killedAt).toBeLessThan(1_000);
    expect(classifyError(error)).toBe('transport');
    await firstBroken;
  });

  it('keeps a healthy session when its GET stream drops and the SDK reconnects it', async () => {
    const server = await counterServer();
    const ctx = recordingContext();
    const { broken } = ctx;
    const connection = tracker.track(await mcpSessionFactory()(requestFor(server, 'streamable-http'), ctx));
    await callText(connection.client, 'increment');
    // The SDK opens the GET stream right after initialize; wait until it is there.
    if (!server.requests.some((r) => r.httpMethod === 'GET')) {
      await server.waitForRequest((r) => r.httpMethod === 'GET');
    }
    const pinged = server.waitForRequest((r) => r.rpcMethod === 'ping');
    const reconnected = server.waitForRequest((r) => r.httpMethod === 'GET');
    expect(server.dropStreams()).toBe(1);
    await pinged; // the watch checked the upstream...
    await reconnected; // ...and the SDK's own reconnect went through
    expect(broken).toEqual([]);
    expect(await callText(connection.client, 'get')).toBe('1');
  });

  it('reports HTTP 404 from an upstream that expired the session as a lost session', async () => {
    const server = await counterServer();
    const ctx = recordingContext();
    const { firstBroken } = ctx;
    const connection = tracker.track(await mcpSessionFactory()(requestFor(server, 'streamable-http'), ctx));
    expect(await callText(connection.client, 'increment')).toBe('1');
    await server.forgetSessions();
    const error = await connection.client.callTool({ name: 'get' }).catch((e: unknown) => e);
    // The call that met the 404 fails with it, not with a generic ConnectionClosed.
    expect(isSessionGone(error)).toBe(true);
    expect(isSessionGone(await firstBroken)).toBe(true);
  });

  it('reports HTTP 404 after an upstream restart as a lost session', async () => {
    // No standalone stream: nothing notices the restart until the next request.
    const server = await counterServer({ standaloneStream: false });
    const ctx = recordingContext();
    const { firstBroken, broken } = ctx;
    const connection = tracker.track(await mcpSessionFactory()(requestFor(server, 'streamable-http'), ctx));
    expect(await callText(connection.client, 'increment')).toBe('1');
    await server.restart();
    const error = await connection.client.callTool({ name: 'get' }).catch((e: unknown) => e);
    // Either the 404 itself, or a pooled socket the restart closed; both retire the connection.
    expect(isSessionGone(error) || classifyError(error) === 'transport').toBe(true);
    expect(isSessionGone(await firstBroken)).toBe(true);
    expect(broken).toHaveLength(1);
  });

  it('reports a lost legacy SSE session when its event stream breaks', async () => {
    const server = await counterServer();
    const ctx = recordingContext();
    const { firstBroken } = ctx;
    const connection = tracker.track(await mcpSessionFactory()(requestFor(server, 'sse'), ctx));
    expect(await callText(connection.client, 'increment')).toBe('1');
    expect(server.dropStreams()).toBe(1);
    expect(classifyError(await firstBroken)).toBe('transport');
    // The client is closed: it does not drift into a fresh, stateless session.
    await expect(connection.client.callTool({ name: 'get' })).rejects.toThrow();
  });
});

describe('mcpSessionFactory close', () => {
  it('sends DELETE on graceful close and frees the upstream session', async () => {
    const server = await counterServer();
    const connection = tracker.track(
      await mcpSessionFactory()(requestFor(server, 'streamable-http'), recordingContext()),
    );
    expect(server.openSessions).toBe(1);
    await connection.close({ signal: new AbortController().signal });
    expect(server.deletes).toBe(1);
    expect(server.openSessions).toBe(0);
    // Idempotent, and never throws on a closed client.
    await connection.close({ signal: new AbortController().signal });
    expect(server.deletes).toBe(1);
  });

  it('cuts a DELETE that never answers when the close signal aborts', async () => {
    const server = await counterServer();
    server.faults.hangDelete = true;
    const connection = tracker.track(
      await mcpSessionFactory()(requestFor(server, 'streamable-http'), recordingContext()),
    );
    const controller = new AbortController();
    const deleting = server.waitForRequest((r) => r.httpMethod === 'DELETE');
    const closing = connection.close({ signal: controller.signal });
    await deleting;
    controller.abort();
    await closing;
    await server.whenIdle();
    expect(server.deletes).toBe(1);
  });

  it('closes at once, without DELETE, when the signal is already aborted', async () => {
    const server = await counterServer();
    const connection = tracker.track(
      await mcpSessionFactory()(requestFor(server, 'streamable-http'), recordingContext()),
    );
    await connection.close({ signal: AbortSignal.abort() });
    expect(server.deletes).toBe(0);
    await server.whenIdle();
  });
});

describe('mcpSessionFactory with a session store', () => {
  it('re-attaches to the stored upstream session: state kept, no new initialize', async () => {
    const server = await counterServer();
    const store = new MemoryStore();
    const factory = mcpSessionFactory({ sessionStore: store, enforceStrictCapabilities: true });
    const request = requestFor(server, 'streamable-http');

    const first = await factory(request, recordingContext());
    for (let i = 0; i < 3; i++) await callText(first.client, 'increment');
    const record = await store.get('downstream-1', 'counter');
    expect(record).toMatchObject({ sessionId: upstreamSessionId(first), fingerprint: request.fingerprint });
    expect(record?.protocolVersion).toEqual(expect.any(String));
    // The owning worker dies: its client goes away without DELETE or close().
    await first.client.close();

    const reopened = server.waitForRequest((r) => r.httpMethod === 'GET');
    const second = tracker.track(await factory(request, recordingContext()));
    expect(upstreamSessionId(second)).toBe(record?.sessionId);
    expect(await callText(second.client, 'get')).toBe('3');
    // The standalone GET stream (server-to-client messages) is reopened too.
    expect((await reopened).headers['mcp-session-id']).toBe(record?.sessionId);
    expect(server.initializations).toBe(1);
    // Strict capabilities are not enforced on a re-attached client (capabilities unknown).
    await expect(second.client.listTools()).resolves.toBeDefined();

    await second.close({ signal: new AbortController().signal });
    expect(server.deletes).toBe(1);
    expect(store.records.size).toBe(0);
  });

  it('drops the record and rejects with the 404 when the upstream forgot the session', async () => {
    const server = await counterServer();
    const store = new MemoryStore();
    const factory = mcpSessionFactory({ sessionStore: store });
    const request = requestFor(server, 'streamable-http');
    const first = await factory(request, recordingContext());
    await first.client.close();
    await server.restart();

    const error = await factory(request, recordingContext()).catch((e: unknown) => e);
    expect(isSessionGone(error)).toBe(true);
    expect(store.records.size).toBe(0);
    // With the record gone, the next create initializes afresh.
    tracker.track(await factory(request, recordingContext()));
    expect(server.initializations).toBe(2);
  });

  it('fails the create and ends the new upstream session when the store cannot save it', async () => {
    const server = await counterServer();
    const store = new MemoryStore();
    const unavailable = new Error('store unavailable');
    store.set = async () => {
      throw unavailable;
    };
    const error = await mcpSessionFactory({ sessionStore: store })(
      requestFor(server, 'streamable-http'),
      recordingContext(),
    ).catch((e: unknown) => e);
    expect(error).toBe(unavailable);
    expect(server.deletes).toBe(1);
    await server.whenIdle();
    expect(server.openSessions).toBe(0);
  });

  it('keeps a warm spare out of the store until a session adopts it, then records it under that session', async () => {
    const server = await counterServer();
    const store = new MemoryStore();
    const factory = mcpSessionFactory({ sessionStore: store });
    const spareRequest = requestFor(server, 'streamable-http', { downstreamSessionId: 'mcp-upstream-registry.spare.1' });
    // Every worker numbers its spares from 1: a record under a spare id is another worker's spare, serving a session there.
    const elsewhere = tracker.track(await factory(spareRequest, recordingContext()));
    const theirs = { sessionId: upstreamSessionId(elsewhere) as string, fingerprint: spareRequest.fingerprint };
    await store.set(spareRequest.downstreamSessionId, 'counter', theirs);
    const spare = tracker.track(await factory(spareRequest, recordingContext()));
    expect(upstreamSessionId(spare)).not.toBe(theirs.sessionId);
    expect(server.initializations).toBe(2);
    expect(store.records.get(`${spareRequest.downstreamSessionId}\ncounter`)).toEqual(theirs);
    // Taken by downstream-1: its upstream session is recorded for it, and forgotten with it.
    spare.adopt?.(requestFor(server, 'streamable-http'));
    expect((await store.get('downstream-1', 'counter'))?.sessionId).toBe(upstreamSessionId(spare));
    await spare.close({ signal: new AbortController().signal });
    expect(await store.get('downstream-1', 'counter')).toBeUndefined();
  });

  it('never re-attaches across a configuration change', async () => {
    const server = await counterServer();
    const store = new MemoryStore();
    const factory = mcpSessionFactory({ sessionStore: store });
    const first = await factory(requestFor(server, 'streamable-http'), recordingContext());
    await first.client.close();
    const changed = requestFor(server, 'streamable-http', { configVersion: 'v2' });
    const second = tracker.track(await factory(changed, recordingContext()));
    expect(upstreamSessionId(second)).not.toBe(upstreamSessionId(first));
    expect(server.initializations).toBe(2);
    expect((await store.get('downstream-1', 'counter'))?.fingerprint).toBe(changed.fingerprint);
  });
});

describe('health probes against a real server without prompts or resources', () => {
  const [, toolsList, promptsList, resourcesList] = defaultProbeChain;
  // Steps the counter server cannot answer first, so the chain has to advance past them.
  const listsFirst: ProbeChain = [promptsList!, resourcesList!, toolsList!];

  async function connect(options: { enforceStrictCapabilities?: boolean } = {}) {
    const server = await counterServer();
    const connection = tracker.track(
      await mcpSessionFactory(options)(requestFor(server, 'streamable-http'), recordingContext()),
    );
    return { server, client: connection.client };
  }

  it('advances past method-not-found to the step the server answers', async () => {
    const { server, client } = await connect();
    const result = await runProbeChain(client, listsFirst, { timeoutMs: 2_000 });
    expect(result).toEqual({ healthy: true, step: 'tools/list' });
    // The server was asked and said method-not-found.
    expect(server.requests.map((r) => r.rpcMethod)).toEqual(
      expect.arrayContaining(['prompts/list', 'resources/list', 'tools/list']),
    );
  });

  it('advances past a probe that times out', async () => {
    const { server, client } = await connect();
    server.faults.hangMethods.add('ping');
    // The step deadline runs on a ManualClock: ping times out when the test says so, and
    // tools/list has a generous real timeout, so load cannot fail the step that answers.
    const clock = new ManualClock();
    const pinged = server.waitForRequest((r) => r.rpcMethod === 'ping');
    const probing = runProbeChain(client, defaultProbeChain, { timeoutMs: 60_000, clock });
    await pinged;
    await clock.advance(60_000);
    expect(await probing).toEqual({ healthy: true, step: 'tools/list' });
  });

  it('advances past the client-side "does not support" refusal with enforceStrictCapabilities', async () => {
    const { server, client } = await connect({ enforceStrictCapabilities: true });
    await expect(client.listPrompts()).rejects.toThrow(/does not support prompts/);
    const result = await runProbeChain(client, listsFirst, { timeoutMs: 2_000 });
    expect(result).toEqual({ healthy: true, step: 'tools/list' });
    // Refused locally: nothing was sent.
    expect(server.requests.some((r) => r.rpcMethod === 'prompts/list' || r.rpcMethod === 'resources/list')).toBe(
      false,
    );
  });

  it('does not pass a hung upstream', async () => {
    const { server, client } = await connect();
    const methods = ['ping', 'tools/list', 'prompts/list', 'resources/list'];
    for (const method of methods) server.faults.hangMethods.add(method);
    const clock = new ManualClock();
    let asked = server.waitForRequest((r) => r.rpcMethod === methods[0]);
    const probing = runProbeChain(client, defaultProbeChain, { timeoutMs: 60_000, clock });
    // Each step times out on the clock only once its request reached the (hung) server.
    for (const next of [...methods.slice(1), undefined]) {
      await asked;
      if (next !== undefined) asked = server.waitForRequest((r) => r.rpcMethod === next);
      await clock.advance(60_000);
    }
    const result = await probing;
    expect(result.healthy).toBe(false);
    expect(classifyError(result.error)).toBe('timeout');
  });
});

// ---------------------------------------------------------------------------
// Issue #10 §1 / #11 item 4: an answer is evidence the upstream is alive.
// Each row of the table in docs/probes.md, through a registry on the default
// factory against a real SDK server.

const answerServers: AnswerServer[] = [];
const registries: UpstreamSessionRegistry[] = [];

afterEach(async () => {
  await Promise.all(registries.splice(0).map((registry) => registry.closeAll()));
  await Promise.all(answerServers.splice(0).map((server) => server.close()));
});

async function answerServer(options?: AnswerServerOptions): Promise<AnswerServer> {
  const server = await startAnswerServer(options);
  answerServers.push(server);
  return server;
}

function evidenceRegistry(): { registry: UpstreamSessionRegistry; retired: RegistryEvents['session:retired'][] } {
  const registry = new UpstreamSessionRegistry({ factory: mcpSessionFactory() });
  registries.push(registry);
  return { registry, retired: collect(registry, 'session:retired') };
}

const answerInit = (server: AnswerServer): SessionCreateRequestInit => ({
  downstreamSessionId: 'downstream-1',
  gatewayId: 'answers',
  url: server.url,
});

describe('an answer is evidence the upstream is alive (answer → class → effect)', () => {
  it.each([
    [-32000, 'Rate limit exceeded'],
    [-32099, 'Server busy'],
    [-32603, 'Internal error'],
  ])('JSON-RPC error %i answered → application → that call fails only (no retire, no DELETE, counter continues)', async (code, message) => {
    const server = await answerServer();
    const { registry, retired } = evidenceRegistry();
    const init = answerInit(server);
    for (let i = 0; i < 3; i++) await registry.use(init, (client) => callText(client, 'increment'));
    const error = await registry
      .use(init, (client) => client.callTool({ name: 'fail', arguments: { code, message } }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpError);
    expect((error as McpError).code).toBe(code);
    expect(classifyError(error)).toBe('application');
    expect(await registry.use(init, (client) => callText(client, 'increment'))).toBe('4');
    expect(retired).toEqual([]);
    expect(server.deletes).toBe(0);
    expect(server.initializations).toBe(1);
  });

  it.each([400, 429, 500, 502, 503, 504])(
    'HTTP %i from a live server → application → that call fails only (no retire, no DELETE, counter continues)',
    async (status) => {
      const server = await answerServer();
      const { registry, retired } = evidenceRegistry();
      const init = answerInit(server);
      for (let i = 0; i < 3; i++) await registry.use(init, (client) => callText(client, 'increment'));
      server.postStatuses.push(status);
      const error = await registry.use(init, (client) => callText(client, 'increment')).catch((e: unknown) => e);
      expect((error as { code?: unknown }).code).toBe(status);
      expect(classifyError(error)).toBe('application');
      expect(isSessionGone(error)).toBe(false);
      // An HTTP answer proves the upstream alive: no ping, nothing retired.
      expect(server.requests.filter((r) => r.rpcMethod === 'ping')).toEqual([]);
      expect(await registry.use(init, (client) => callText(client, 'increment'))).toBe('4');
      expect(retired).toEqual([]);
      expect(server.deletes).toBe(0);
      expect(server.initializations).toBe(1);
    },
  );

  it('HTTP 404 to a request that carried the upstream session id → transport, session gone → retired as lost', async () => {
    const server = await answerServer();
    const { registry, retired } = evidenceRegistry();
    const init = answerInit(server);
    expect(await registry.use(init, (client) => callText(client, 'increment'))).toBe('1');
    server.forgetSessions();
    const error = await registry.use(init, (client) => callText(client, 'increment')).catch((e: unknown) => e);
    expect(classifyError(error)).toBe('transport');
    expect(isSessionGone(error)).toBe(true);
    expect(retired.map((event) => event.reason)).toEqual(['lost']);
    // A fresh upstream session: the state is gone, and the registry says so.
    expect(await registry.use(init, (client) => callText(client, 'increment'))).toBe('1');
    expect(server.initializations).toBe(2);
  });

  it('a dead connection (upstream gone) → transport → retired', async () => {
    const server = await answerServer();
    const { registry, retired } = evidenceRegistry();
    const init = answerInit(server);
    await registry.use(init, (client) => callText(client, 'increment'));
    await server.close();
    const error = await registry.use(init, (client) => callText(client, 'increment')).catch((e: unknown) => e);
    expect(classifyError(error)).toBe('transport');
    await nextEventOrNow(registry, retired);
    expect(retired).toHaveLength(1);
  });

  it('a failed death-watch ping (stream dropped, ping unanswered) → transport → retired', async () => {
    const server = await counterServer();
    const registry = new UpstreamSessionRegistry({ factory: mcpSessionFactory({ deathPingTimeoutMs: 200 }) });
    registries.push(registry);
    const retired = collect(registry, 'session:retired');
    const init = requestFor(server, 'streamable-http');
    await registry.use(init, (client) => callText(client, 'increment'));
    server.faults.hangMethods.add('ping');
    const retiring = nextEvent(registry, 'session:retired');
    expect(server.dropStreams()).toBe(1);
    await retiring;
    // The registry reports every onBroken as a lost session.
    expect(retired.map((event) => event.reason)).toEqual(['lost']);
  });

  it.each([404, 405])('HTTP %i on the optional GET stream → no stream; the session stays', async (getStatus) => {
    const server = await answerServer({ getStatus });
    const ctx = recordingContext();
    const connection = tracker.track(await mcpSessionFactory()(SessionCreateRequest.from(answerInit(server)), ctx));
    expect(await callText(connection.client, 'increment')).toBe('1');
    expect(server.requests.some((r) => r.httpMethod === 'GET' && r.forcedStatus === getStatus)).toBe(true);
    expect(await callText(connection.client, 'increment')).toBe('2');
    expect(ctx.broken).toEqual([]);
    // "No stream" is an answer: no ping to decide anything.
    expect(server.requests.filter((r) => r.rpcMethod === 'ping')).toEqual([]);
  });

  it('a stateless upstream (no session id, GET 404) works with the default factory', async () => {
    const server = await answerServer({ stateless: true, getStatus: 404 });
    const { registry, retired } = evidenceRegistry();
    const init = answerInit(server);
    const tools = await registry.use(init, (client) => client.listTools());
    expect(tools.tools.map((tool) => tool.name)).toEqual(['increment', 'get', 'fail', 'structured']);
    expect(await registry.use(init, (client) => callText(client, 'increment'))).toBe('1');
    expect(await registry.use(init, (client) => callText(client, 'increment'))).toBe('2');
    // A 404 to a request without a session id proves no loss either.
    server.postStatuses.push(404);
    await registry.use(init, (client) => callText(client, 'get')).catch(() => undefined);
    expect(await registry.use(init, (client) => callText(client, 'get'))).toBe('2');
    expect(server.requests.every((r) => r.sessionId === undefined)).toBe(true);
    expect(retired).toEqual([]);
    expect(server.initializations).toBe(1);
  });
});

/** Resolves once `seen` has an entry (the retire may land a task after the call failed). */
async function nextEventOrNow(
  registry: UpstreamSessionRegistry,
  seen: readonly RegistryEvents['session:retired'][],
): Promise<void> {
  if (seen.length > 0) return;
  await nextEvent(registry, 'session:retired');
}

describe('credentials rotate without losing state (issue #10 §3, factory half)', () => {
  it('rotated 10 times: the upstream sees the new token on the next request, same session, counter continues', async () => {
    const server = await answerServer();
    const request = SessionCreateRequest.from({ ...answerInit(server), credentials: { Authorization: 'Bearer token-0' } });
    const ctx = recordingContext();
    const connection = tracker.track(await mcpSessionFactory()(request, ctx));
    expect(await callText(connection.client, 'increment')).toBe('1');
    const sessionId = upstreamSessionId(connection);
    expect(server.requests.every((r) => r.authorization === 'Bearer token-0')).toBe(true);
    for (let i = 1; i <= 10; i++) {
      const rotated = SessionCreateRequest.from({ ...answerInit(server), credentials: { authorization: `Bearer token-${i}` } });
      expect(rotated.fingerprint).toBe(request.fingerprint);
      connection.updateCredentials?.(rotated.credentials);
      const before = server.requests.length;
      expect(await callText(connection.client, 'increment')).toBe(String(i + 1));
      const call = server.requests.slice(before).find((r) => r.rpcMethod === 'tools/call');
      expect(call?.authorization).toBe(`Bearer token-${i}`);
      expect(call?.sessionId).toBe(sessionId);
    }
    expect(upstreamSessionId(connection)).toBe(sessionId);
    expect(server.counterOf(sessionId!)).toBe(11);
    expect(server.initializations).toBe(1);
    expect(ctx.broken).toEqual([]);
    await connection.close({ signal: new AbortController().signal });
    // The DELETE that ends the session carries the current token too.
    expect(server.requests.at(-1)).toMatchObject({ httpMethod: 'DELETE', authorization: 'Bearer token-10' });
  });

  it('sends credentials on the initialize and on every request, alongside the plain headers', async () => {
    const server = await answerServer();
    const request = SessionCreateRequest.from({
      ...answerInit(server),
      headers: { 'x-tenant': 'acme' },
      credentials: { authorization: 'Bearer only-token' },
    });
    const connection = tracker.track(await mcpSessionFactory()(request, recordingContext()));
    await callText(connection.client, 'get');
    expect(server.requests[0]?.rpcMethod).toBe('initialize');
    expect(server.requests.every((r) => r.authorization === 'Bearer only-token')).toBe(true);
  });
});

describe('clientOptions pass through to the SDK Client (issue #13)', () => {
  it('rejects malformed clientOptions with InvalidOptionsError', () => {
    expect(() => mcpSessionFactory({ clientOptions: 'x' as never })).toThrow(/clientOptions/);
    expect(() => mcpSessionFactory({ clientOptions: { capabilities: {} } as never })).toThrow(/clientOptions\.capabilities/);
    expect(() => mcpSessionFactory({ clientOptions: { enforceStrictCapabilities: true } as never })).toThrow(
      /clientOptions\.enforceStrictCapabilities/,
    );
    expect(() => mcpSessionFactory({ clientOptions: { jsonSchemaValidator: {} as never } })).toThrow(
      /clientOptions\.jsonSchemaValidator/,
    );
  });

  it('uses the given jsonSchemaValidator for tool output schemas (the Workers recipe)', async () => {
    const server = await answerServer();
    const schemas: unknown[] = [];
    const jsonSchemaValidator: jsonSchemaValidatorType = {
      getValidator: <T>(schema: unknown) => {
        schemas.push(schema);
        return (input: unknown): JsonSchemaValidatorResult<T> => ({ valid: true, data: input as T, errorMessage: undefined });
      },
    };
    const factory = mcpSessionFactory({ clientOptions: { jsonSchemaValidator } });
    const connection = tracker.track(await factory(SessionCreateRequest.from(answerInit(server)), recordingContext()));
    await connection.client.listTools();
    const result = await connection.client.callTool({ name: 'structured' });
    expect(result.structuredContent).toEqual({ value: 0 });
    expect(schemas).toContainEqual(expect.objectContaining({ required: ['value'] }));
  });
});

describe('OAuth upstreams through authProvider (issue #11 item 5)', () => {
  /** The smallest OAuthClientProvider that already holds tokens (no redirect flow). */
  function tokenProvider(initial: string) {
    const state = { token: initial, tokenReads: 0 };
    const provider: OAuthClientProvider = {
      redirectUrl: 'http://127.0.0.1/callback',
      clientMetadata: { redirect_uris: ['http://127.0.0.1/callback'], client_name: 'test' },
      clientInformation: () => ({ client_id: 'test-client' }),
      tokens: () => {
        state.tokenReads += 1;
        return { access_token: state.token, token_type: 'Bearer' };
      },
      saveTokens: () => {},
      redirectToAuthorization: () => {
        throw new Error('no redirect in this test');
      },
      saveCodeVerifier: () => {},
      codeVerifier: () => 'verifier',
    };
    return { provider, state };
  }

  it('rejects a non-function authProvider', () => {
    expect(() => mcpSessionFactory({ authProvider: {} as never })).toThrow(/authProvider/);
  });

  it("sends the provider's token; a refreshed token is used on the next request without a rebuild", async () => {
    const valid = new Set(['Bearer at-1']);
    const server = await answerServer({ acceptAuthorization: (value) => value !== undefined && valid.has(value) });
    const { provider, state } = tokenProvider('at-1');
    const seen: string[] = [];
    const factory = mcpSessionFactory({
      authProvider: (request) => {
        seen.push(request.gatewayId);
        return provider;
      },
    });
    const ctx = recordingContext();
    const connection = tracker.track(await factory(SessionCreateRequest.from(answerInit(server)), ctx));
    expect(seen).toEqual(['answers']);
    expect(await callText(connection.client, 'increment')).toBe('1');
    const sessionId = upstreamSessionId(connection);
    // The provider refreshed its token (as the SDK does through saveTokens); the old one is revoked.
    valid.add('Bearer at-2');
    valid.delete('Bearer at-1');
    state.token = 'at-2';
    expect(await callText(connection.client, 'increment')).toBe('2');
    expect(server.requests.at(-1)?.authorization).toBe('Bearer at-2');
    expect(upstreamSessionId(connection)).toBe(sessionId);
    expect(server.initializations).toBe(1);
    expect(ctx.broken).toEqual([]);
  });

  it('without a provider a 401 upstream fails the create with the 401 (an answer, not a loss)', async () => {
    const server = await answerServer({ acceptAuthorization: () => false });
    const error = await mcpSessionFactory()(SessionCreateRequest.from(answerInit(server)), recordingContext()).catch(
      (e: unknown) => e,
    );
    expect((error as { code?: unknown }).code).toBe(401);
    expect(classifyError(error)).toBe('application');
  });
});

describe('factory errors never carry URL secrets (issue #10 §2)', () => {
  const SECRET = 'sk-query-secret-0123';

  it.each(TRANSPORTS)('no create failure over %s shows the query or fragment, in message or cause', async (transport) => {
    const server = await counterServer();
    const faults: Array<BadAnswer | 'hang' | 'closed-port' | 'wrong-path'> = [
      ...(['non-json', 'wrong-content-type', 'status-500', 'close-mid-response', 'rpc-error'] as const),
      'hang',
      'closed-port',
      'wrong-path',
    ];
    for (const fault of faults) {
      server.faults.badInitialize = fault === 'hang' || fault === 'closed-port' || fault === 'wrong-path' ? undefined : fault;
      server.faults.hangAll = fault === 'hang';
      const base = fault === 'closed-port' ? 'http://127.0.0.1:1/mcp' : transport === 'sse' ? server.sseUrl : server.url;
      const url = `${base}${fault === 'wrong-path' ? '-nope' : ''}?token=${SECRET}#${SECRET}`;
      const request = SessionCreateRequest.from({ downstreamSessionId: 'd', gatewayId: 'g', url, transport, connectTimeoutMs: 300 });
      const error = await mcpSessionFactory()(request, recordingContext()).then(
        (connection) => tracker.track(connection) && new Error('connected'),
        (caught: unknown) => caught,
      );
      expect(error, fault).toBeDefined();
      expect(inspect(error, { depth: 10 }), fault).not.toContain(SECRET);
    }
    server.faults.hangAll = false;
  });
});
