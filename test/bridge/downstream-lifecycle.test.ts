/**
 * The downstream session table's own lifecycle: idle timeout, its cap, the
 * keep-alive of streaming sessions, stray session ids on initialize and a lost
 * upstream session. A stub registry and a ManualClock: no network, no real time.
 */
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { BridgeRegistry } from '../../src/bridge/bridge-options.js';
import { type DispatchOutcome, DownstreamSessions, type DownstreamSessionsOptions } from '../../src/bridge/downstream-sessions.js';
import { BridgeHub } from '../../src/bridge/hub.js';
import { AffinityUnavailableError, CapacityError, InvalidOptionsError, SessionLostError } from '../../src/errors.js';
import type { RegistryEvents } from '../../src/events.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { INITIALIZE } from '../fixtures/raw-mcp.js';

const ENDPOINT = 'http://127.0.0.1/mcp';
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' };
const LIST = { jsonrpc: '2.0', id: 2, method: 'tools/list' };

type Use = (fn: (client: never) => Promise<unknown>) => Promise<unknown>;

/** A registry that records evictions and touches; `use` does what the test says. */
function stubRegistry() {
  const evicted: string[] = [];
  const touched: string[] = [];
  const listeners = new Set<(event: RegistryEvents['session:lost']) => void>();
  const state: { use: Use } = { use: async () => undefined };
  const registry: BridgeRegistry & { touch(id: string): number } = {
    use: ((_init: unknown, fn: (client: never) => Promise<unknown>) => state.use(fn)) as unknown as BridgeRegistry['use'],
    evictSession: async (id) => {
      evicted.push(id);
      return 1;
    },
    touch: (id) => {
      touched.push(id);
      return 1;
    },
    on: (type, handler) => {
      if (type === 'session:lost') listeners.add(handler as never);
    },
    off: (type, handler) => {
      if (type === 'session:lost') listeners.delete(handler as never);
    },
  };
  const lose = (downstreamSessionId: string): void => {
    for (const listener of listeners) {
      listener({ downstreamSessionId, gatewayId: 'g', transport: 'streamable-http', reason: 'idle-expired', policy: 'fail' } as never);
    }
  };
  return { registry, evicted, touched, state, lose };
}

describe('DownstreamSessions lifecycle', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function setup(options: Partial<DownstreamSessionsOptions<WebStandardStreamableHTTPServerTransport>> = {}) {
    const clock = new ManualClock();
    const stub = stubRegistry();
    const hub = new BridgeHub();
    const sessions = new DownstreamSessions<WebStandardStreamableHTTPServerTransport>({
      hub,
      registry: stub.registry,
      gateways: [{ id: 'g', url: 'http://127.0.0.1:1/mcp' }],
      createTransport: (o) => new WebStandardStreamableHTTPServerTransport({ ...o, enableJsonResponse: true }),
      clock,
      ...options,
    });
    cleanups.push(() => sessions.closeAll());
    const post = (body: unknown, extra: Record<string, string> = {}): Promise<DispatchOutcome<Response>> => {
      const headers = { ...HEADERS, ...extra };
      return sessions.dispatch({ method: 'POST', headers: new Headers(headers), body }, (transport) =>
        transport.handleRequest(new Request(ENDPOINT, { method: 'POST', headers, body: JSON.stringify(body) }), { parsedBody: body }),
      );
    };
    const open = async (extra: Record<string, string> = {}): Promise<string> => {
      const outcome = await post(INITIALIZE, extra);
      expect(outcome.kind).toBe('handled');
      return (outcome as { value: Response }).value.headers.get('mcp-session-id') as string;
    };
    /** Opens the session's GET stream; abort the returned controller to end it. */
    const stream = async (id: string): Promise<AbortController> => {
      const abort = new AbortController();
      const headers = { ...HEADERS, accept: 'text/event-stream', 'mcp-session-id': id };
      const outcome = await sessions.dispatch({ method: 'GET', headers, signal: abort.signal }, (transport) =>
        transport.handleRequest(new Request(ENDPOINT, { method: 'GET', headers, signal: abort.signal })),
      );
      const response = (outcome as { value: Response }).value;
      expect(response.headers.get('content-type')).toContain('text/event-stream');
      abort.signal.addEventListener('abort', () => void response.body?.cancel().catch(() => undefined), { once: true });
      cleanups.push(async () => abort.abort());
      return abort;
    };
    return { clock, hub, sessions, post, open, stream, ...stub };
  }

  it('ends a session idle for idleTimeoutMs: its upstream sessions are evicted, later requests get 404, the timer stops', async () => {
    const { clock, sessions, post, open, evicted } = setup({ idleTimeoutMs: 1_000 });
    const id = await open();
    expect(clock.timers()).toEqual([expect.objectContaining({ unref: true })]);
    await clock.advance(999);
    expect(sessions.ids()).toEqual([id]);
    await clock.advance(600);
    expect(sessions.size).toBe(0);
    expect(evicted).toEqual([id]);
    expect(await post(LIST, { 'mcp-session-id': id })).toMatchObject({ kind: 'respond', status: 404 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('a request keeps a session alive for another idleTimeoutMs; one timer serves the whole table', async () => {
    const { clock, sessions, post, open } = setup({ idleTimeoutMs: 1_000 });
    const a = await open();
    const b = await open();
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(800);
    expect((await post(LIST, { 'mcp-session-id': a })).kind).toBe('handled');
    await clock.advance(800);
    expect(sessions.ids()).toEqual([a]); // b idled out, a was used 800 ms ago
    await clock.advance(1_000);
    expect(sessions.size).toBe(0);
    expect(b).not.toBe(a);
  });

  it('an open GET stream keeps the session and touches its upstream sessions below the registry TTL; closed, it idles out', async () => {
    const { clock, sessions, open, stream, touched, evicted } = setup({ idleTimeoutMs: 1_000, keepAliveIntervalMs: 200 });
    const id = await open();
    const abort = await stream(id);
    await clock.advance(5_000);
    expect(sessions.ids()).toEqual([id]);
    expect(touched.length).toBeGreaterThanOrEqual(24);
    expect(new Set(touched)).toEqual(new Set([id]));
    abort.abort();
    const touches = touched.length;
    await clock.advance(1_400);
    expect(sessions.size).toBe(0);
    expect(evicted).toEqual([id]);
    expect(touched.length).toBe(touches);
  });

  it('a call still running on an SSE response after the HTTP handler returned keeps the session alive', async () => {
    const { clock, sessions, post, open, state } = setup({
      idleTimeoutMs: 1_000,
      createTransport: (o) => new WebStandardStreamableHTTPServerTransport(o),
    });
    const id = await open();
    let release: () => void = () => undefined;
    state.use = () => new Promise((resolve) => (release = () => resolve({ tools: [] })));
    const call = await post(LIST, { 'mcp-session-id': id });
    const response = (call as { value: Response }).value;
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    await clock.advance(5_000);
    expect(sessions.ids()).toEqual([id]);
    release();
    expect(await response.text()).toContain('"tools":[]');
    await clock.advance(1_600);
    expect(sessions.size).toBe(0);
  });

  it('keepAliveWhileStreaming: false never touches, and a registry without touch() is fine', async () => {
    const off = setup({ idleTimeoutMs: 1_000, keepAliveWhileStreaming: false });
    await off.stream(await off.open());
    await off.clock.advance(5_000);
    expect(off.touched).toEqual([]);
    expect(off.sessions.size).toBe(1); // the open stream still keeps the downstream session

    const bare = setup({ idleTimeoutMs: 1_000, keepAliveIntervalMs: 100 });
    (bare.registry as { touch?: unknown }).touch = undefined;
    await bare.stream(await bare.open());
    await bare.clock.advance(1_000);
    expect(bare.sessions.size).toBe(1);
  });

  it('caps downstream sessions with 503 + Retry-After, counting initializes still connecting', async () => {
    const { sessions, post, open, state, hub } = setup({ maxSessions: 2, bridge: { retryAfterSeconds: 3 } });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    state.use = async () => gate;
    const first = post(INITIALIZE);
    const second = post(INITIALIZE);
    const refused = await post(INITIALIZE);
    expect(refused).toMatchObject({ kind: 'respond', status: 503, headers: { 'retry-after': '3' } });
    expect((refused as { body: { error: { data: unknown } } }).body.error.data).toEqual({ code: 'ERR_CAPACITY' });
    release();
    expect((await first).kind).toBe('handled');
    expect((await second).kind).toBe('handled');
    expect(sessions.size).toBe(2);
    expect(await post(INITIALIZE)).toMatchObject({ kind: 'respond', status: 503 });
    expect(hub.size).toBe(2);
    await sessions.close(sessions.ids()[0] as string);
    state.use = async () => undefined;
    await open();
    expect(sessions.size).toBe(2);
  });

  it('an initialize refused by the upstream cap leaves no downstream session (nor a slot) behind', async () => {
    const { sessions, post, open, state, hub } = setup({ maxSessions: 1 });
    state.use = async () => {
      throw new CapacityError('registry', 1);
    };
    for (let i = 0; i < 3; i++) expect(await post(INITIALIZE)).toMatchObject({ kind: 'respond', status: 503 });
    expect(sessions.size).toBe(0);
    expect(hub.size).toBe(0);
    state.use = async () => undefined;
    await open();
    expect(sessions.size).toBe(1);
  });

  it('an infrastructure failure answers a short fixed message; the details go to the log only', async () => {
    const logged: string[] = [];
    const logger = { debug: () => undefined, info: () => undefined, error: () => undefined, warn: (fields: object) => void logged.push(JSON.stringify(fields)) };
    const { post, state, sessions } = setup({ logger });
    state.use = async () => {
      throw new AffinityUnavailableError('Redis the ownership claim failed: MaxRetriesPerRequestError at 10.0.0.9:6379');
    };
    const refused = await post(INITIALIZE);
    expect(refused).toMatchObject({ kind: 'respond', status: 503 });
    const body = JSON.stringify((refused as { body: unknown }).body);
    expect(body).toContain('Session ownership unavailable, retry later');
    expect(body).toContain('ERR_AFFINITY_UNAVAILABLE');
    expect(body).not.toMatch(/Redis|MaxRetries|10\.0\.0\.9/);
    expect(logged.join('\n')).toContain('MaxRetriesPerRequestError');
    expect(sessions.size).toBe(0);
  });

  it.each(['mcp-session-id', 'x-mcp-session-id'])('an initialize carrying a stray %s opens a new session', async (header) => {
    const { sessions, open } = setup();
    const live = await open();
    const fromStale = await open({ [header]: 'stale-session-id' });
    const fromLive = await open({ [header]: live });
    expect(new Set([live, fromStale, fromLive]).size).toBe(3);
    expect(sessions.ids().sort()).toEqual([live, fromStale, fromLive].sort());
  });

  it('a SessionLostError from the registry: that call gets -32001, the next request HTTP 404, the upstream is evicted', async () => {
    const { sessions, post, open, state, evicted } = setup();
    const id = await open();
    state.use = async () => {
      throw new SessionLostError(id);
    };
    const failed = await post(LIST, { 'mcp-session-id': id });
    const body = (await (failed as { value: Response }).value.json()) as { error: unknown };
    expect(body.error).toMatchObject({ code: -32001, data: { code: 'ERR_SESSION_LOST' } });
    const next = await post(LIST, { 'mcp-session-id': id });
    expect(next).toMatchObject({ kind: 'respond', status: 404, body: { error: { code: -32001 } } });
    await sessions.closeAll();
    expect(evicted).toEqual([id]);
    expect(await post(LIST, { 'mcp-session-id': id })).toMatchObject({ kind: 'respond', status: 404 });
  });

  it("a session:lost event under 'fail' answers the next request 404 before any transport sees it", async () => {
    const { sessions, open, lose } = setup();
    const id = await open();
    lose(id);
    let reached = false;
    const outcome = await sessions.dispatch({ method: 'POST', headers: { ...HEADERS, 'mcp-session-id': id }, body: LIST }, async () => {
      reached = true;
    });
    expect(outcome).toMatchObject({ kind: 'respond', status: 404 });
    expect(reached).toBe(false);
  });

  it('closeAll() stops the timer', async () => {
    const { clock, sessions, open } = setup({ idleTimeoutMs: 1_000 });
    await open();
    expect(clock.pendingTimers).toBe(1);
    await sessions.closeAll();
    expect(clock.pendingTimers).toBe(0);
  });

  it('validates the lifecycle options', () => {
    const stub = stubRegistry();
    const base = { hub: new BridgeHub(), registry: stub.registry, gateways: [], createTransport: () => new WebStandardStreamableHTTPServerTransport() };
    expect(() => new DownstreamSessions({ ...base, maxSessions: 0 })).toThrow(InvalidOptionsError);
    expect(() => new DownstreamSessions({ ...base, idleTimeoutMs: -1 })).toThrow(/idleTimeoutMs/);
    expect(() => new DownstreamSessions({ ...base, idleTimeoutMs: 1.5 })).toThrow(/idleTimeoutMs.*got 1\.5/);
    expect(() => new DownstreamSessions({ ...base, keepAliveIntervalMs: 0 })).toThrow(/keepAliveIntervalMs/);
    expect(() => new DownstreamSessions({ ...base, keepAliveWhileStreaming: 'yes' } as never)).toThrow(/keepAliveWhileStreaming/);
    expect(() => new DownstreamSessions({ ...base, clock: {} } as never)).toThrow(/clock/);
    expect(new DownstreamSessions({ ...base, idleTimeoutMs: 0 }).size).toBe(0);
  });
});
