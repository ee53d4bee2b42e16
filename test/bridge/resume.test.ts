/**
 * Resuming a downstream session on a worker that did not answer its
 * `initialize` (`locateSession` → 'resume'), and `affinityLocator`. Two
 * "workers" in one process share an in-memory upstream session store; the
 * upstream is a real SDK server. The multi-process version is test/cluster.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { startCounterUpstream } from '../../examples/shared/counter-upstream.js';
import type { McpHost } from '../../examples/shared/mcp-host.js';
import type { Affinity, ClaimResult, WorkerInfo } from '../../src/affinity.js';
import { affinityLocator } from '../../src/bridge/affinity-locator.js';
import { type DispatchOutcome, DownstreamSessions, type SessionLocation } from '../../src/bridge/downstream-sessions.js';
import { BridgeHub } from '../../src/bridge/hub.js';
import { markTransportInitialized } from '../../src/bridge/resume-transport.js';
import { AffinityUnavailableError, InvalidOptionsError } from '../../src/errors.js';
import { mcpSessionFactory } from '../../src/mcp/factory.js';
import type { DownstreamClientRecord, DownstreamClientStore, UpstreamSessionRecord, UpstreamSessionStore } from '../../src/mcp/session-store.js';
import { UpstreamSessionRegistry } from '../../src/registry/index.js';

const ENDPOINT = 'http://127.0.0.1/mcp';
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' };
const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

function memoryStore(): UpstreamSessionStore & { records: Map<string, UpstreamSessionRecord> } {
  const records = new Map<string, UpstreamSessionRecord>();
  return {
    records,
    get: async (d, g) => records.get(`${d} ${g}`),
    set: async (d, g, r) => void records.set(`${d} ${g}`, r),
    delete: async (d, g) => void records.delete(`${d} ${g}`),
  };
}

function callTool(id: number, name: string) {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } };
}

async function resultText(outcome: DispatchOutcome<Response>): Promise<string> {
  expect(outcome.kind).toBe('handled');
  const body = (await (outcome as { value: Response }).value.json()) as { result?: { content: { text: string }[] }; error?: unknown };
  if (body.result === undefined) throw new Error(`not a result: ${JSON.stringify(body)}`);
  return body.result.content[0]?.text as string;
}

describe('resuming a downstream session on another worker', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function upstream(): Promise<McpHost> {
    const up = await startCounterUpstream();
    cleanups.push(() => up.close());
    return up;
  }

  function worker(
    up: McpHost,
    store: UpstreamSessionStore,
    locateSession?: (id: string) => SessionLocation | Promise<SessionLocation>,
    clientStore?: DownstreamClientStore,
  ) {
    const hub = new BridgeHub();
    const registry = new UpstreamSessionRegistry<Client>({
      onSessionLost: 'fail',
      factory: mcpSessionFactory({ configureClient: hub.configureClient, sessionStore: store }),
    });
    const sessions = new DownstreamSessions<WebStandardStreamableHTTPServerTransport>({
      hub,
      registry,
      gateways: [{ id: 'counter', url: up.url }],
      createTransport: (o) => new WebStandardStreamableHTTPServerTransport({ ...o, enableJsonResponse: true }),
      ...(locateSession && { locateSession }),
      ...(clientStore && { clientStore }),
    });
    cleanups.push(
      () => registry.closeAll(),
      () => sessions.closeAll(),
    );
    const post = (body: unknown, sessionId?: string): Promise<DispatchOutcome<Response>> => {
      const headers = sessionId === undefined ? HEADERS : { ...HEADERS, 'mcp-session-id': sessionId };
      return sessions.dispatch({ method: 'POST', headers: new Headers(headers), body }, (transport) =>
        transport.handleRequest(new Request(ENDPOINT, { method: 'POST', headers, body: JSON.stringify(body) }), { parsedBody: body }),
      );
    };
    return { hub, registry, sessions, post };
  }

  /** Worker 1 opens a session and increments twice; returns its id. */
  async function openOnFirstWorker(up: McpHost, store: UpstreamSessionStore): Promise<string> {
    const first = worker(up, store);
    const opened = await first.post(INITIALIZE);
    const id = (opened as { value: Response }).value.headers.get('mcp-session-id') as string;
    expect(await resultText(await first.post(callTool(2, 'increment'), id))).toBe('1');
    expect(await resultText(await first.post(callTool(3, 'increment'), id))).toBe('2');
    return id;
  }

  it("'resume' rebuilds the session as initialized; its upstream session re-attaches with its state", async () => {
    const up = await upstream();
    const store = memoryStore();
    const id = await openOnFirstWorker(up, store);
    const located: string[] = [];
    const second = worker(up, store, (sessionId) => {
      located.push(sessionId);
      return 'resume';
    });
    expect(await resultText(await second.post(callTool(4, 'get'), id))).toBe('2');
    expect(await resultText(await second.post(callTool(5, 'increment'), id))).toBe('3');
    expect(located).toEqual([id]); // asked once: the session is in the table now
    expect(second.sessions.ids()).toEqual([id]);
    expect(up.events.filter((e) => e.type === 'opened')).toHaveLength(1); // no new initialize upstream
    // The resumed transport is initialized: a second initialize on it is refused.
    // (Through dispatch, an initialize opens a new session whatever id it carries.)
    const headers = { ...HEADERS, 'mcp-session-id': id };
    const request = new Request(ENDPOINT, { method: 'POST', headers, body: JSON.stringify(INITIALIZE) });
    const again = await second.sessions.get(id)?.transport.handleRequest(request, { parsedBody: INITIALIZE });
    expect(again?.status).toBe(400);
  });

  it("a clientStore keeps the client's initialize: the resumed session declares its capabilities and clientInfo", async () => {
    const up = await upstream();
    const store = memoryStore();
    const clients = new Map<string, DownstreamClientRecord>();
    const clientStore: DownstreamClientStore = {
      getClient: async (id) => clients.get(id),
      setClient: async (id, record) => void clients.set(id, record),
    };
    const capabilities = { sampling: {}, elicitation: {}, roots: { listChanged: true } };
    const clientInfo = { name: 'inspector', version: '9.9.9' };
    const first = worker(up, store, undefined, clientStore);
    const opened = await first.post({ ...INITIALIZE, params: { ...INITIALIZE.params, capabilities, clientInfo } });
    const id = (opened as { value: Response }).value.headers.get('mcp-session-id') as string;
    expect(clients.get(id)).toEqual({ protocolVersion: '2025-06-18', capabilities, clientInfo });

    const second = worker(up, store, () => 'resume', clientStore);
    expect(await resultText(await second.post(callTool(2, 'increment'), id))).toBe('1');
    expect(second.sessions.get(id)?.bridge.clientCapabilities()).toEqual(capabilities);
    // Without the store, the resumed session knows nothing of its client.
    const third = worker(up, store, () => 'resume');
    await first.sessions.closeAll({ handover: true });
    await second.sessions.closeAll({ handover: true });
    expect(await resultText(await third.post(callTool(3, 'get'), id))).toBe('1');
    expect(third.sessions.get(id)?.bridge.clientCapabilities()).toEqual({});
  });

  it('concurrent requests of one session resume it once', async () => {
    const up = await upstream();
    const store = memoryStore();
    const id = await openOnFirstWorker(up, store);
    const second = worker(up, store, () => 'resume');
    const [x, y] = await Promise.all([second.post(callTool(4, 'get'), id), second.post(callTool(5, 'get'), id)]);
    expect([await resultText(x), await resultText(y)]).toEqual(['2', '2']);
    expect(second.hub.size).toBe(1);
    expect(second.registry.snapshot().totals.created).toBe(1);
  });

  it("answers 404 and keeps nothing when the upstream lost the session too (onSessionLost: 'fail')", async () => {
    const up = await upstream();
    const store = memoryStore();
    const id = await openOnFirstWorker(up, store);
    await up.dropSession(up.openSessions()[0] as string);
    const second = worker(up, store, () => 'resume');
    expect(await second.post(callTool(4, 'get'), id)).toMatchObject({ kind: 'respond', status: 404 });
    expect(second.sessions.size).toBe(0);
    expect(second.hub.size).toBe(0);
    expect(up.events.filter((e) => e.type === 'opened')).toHaveLength(1);
  });

  it('a registry error of locateSession becomes its HTTP answer; any other error rejects dispatch', async () => {
    const up = await upstream();
    const unavailable = worker(up, memoryStore(), () => {
      throw new AffinityUnavailableError('Redis did not answer');
    });
    expect(await unavailable.post(callTool(1, 'get'), 'some-id')).toMatchObject({ kind: 'respond', status: 503 });
    const broken = worker(up, memoryStore(), () => Promise.reject(new Error('bug')));
    await expect(broken.post(callTool(1, 'get'), 'some-id')).rejects.toThrow('bug');
  });
});

describe('markTransportInitialized', () => {
  it('sets the session id on both SDK transports and refuses anything else', () => {
    const web = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: () => 'unused' });
    markTransportInitialized(web, 'resumed-1');
    expect(web.sessionId).toBe('resumed-1');
    const node = new StreamableHTTPServerTransport({ sessionIdGenerator: () => 'unused' });
    markTransportInitialized(node, 'resumed-2');
    expect(node.sessionId).toBe('resumed-2');
    expect(() => markTransportInitialized({ sessionId: undefined }, 'x')).toThrow(InvalidOptionsError);
  });
});

describe('affinityLocator', () => {
  const owner: WorkerInfo = { workerId: 'w2', address: 'http://10.0.0.2:3000' };

  function fakeAffinity(answer: ClaimResult): Affinity & { released: string[] } {
    const released: string[] = [];
    return {
      workerId: 'w1',
      released,
      claim: async () => answer,
      release: async (id) => void released.push(id),
      close: async () => undefined,
    };
  }

  const record: UpstreamSessionRecord = { sessionId: 'up-1', fingerprint: 'f' };

  it('names the live owner, resumes a recorded session it now owns, and gives back a claim on an unknown id', async () => {
    const store = memoryStore();
    store.records.set('known g2', record);
    const remote = fakeAffinity({ owned: false, owner });
    expect(await affinityLocator({ affinity: remote, sessionStore: store, gatewayIds: ['g1', 'g2'] })('known')).toEqual(owner);
    const mine = fakeAffinity({ owned: true });
    const locate = affinityLocator({ affinity: mine, sessionStore: store, gatewayIds: ['g1', 'g2'] });
    expect(await locate('known')).toBe('resume');
    expect(mine.released).toEqual([]);
    expect(await locate('never-created')).toBeUndefined();
    expect(mine.released).toEqual(['never-created']);
  });

  it('without a store nothing can be resumed; a failing store gives the claim back and rejects', async () => {
    const mine = fakeAffinity({ owned: true });
    expect(await affinityLocator({ affinity: mine, gatewayIds: ['g'] })('s')).toBeUndefined();
    const failing: UpstreamSessionStore = { ...memoryStore(), get: () => Promise.reject(new AffinityUnavailableError('down')) };
    const other = fakeAffinity({ owned: true });
    await expect(affinityLocator({ affinity: other, sessionStore: failing, gatewayIds: ['g'] })('s')).rejects.toBeInstanceOf(
      AffinityUnavailableError,
    );
    expect(other.released).toEqual(['s']);
    expect(() => affinityLocator({ affinity: mine, gatewayIds: [] })).toThrow(InvalidOptionsError);
    expect(() => affinityLocator({ affinity: mine, gatewayIds: ['g'], extra: 1 } as never)).toThrow(InvalidOptionsError);
  });
});
