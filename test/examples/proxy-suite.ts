/**
 * The end-to-end suite both example proxies must pass: a real SDK client →
 * the proxy → real SDK upstreams, all on 127.0.0.1.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { BridgeBehaviour, BridgeGateway } from '../../src/bridge/index.js';
import type { RegistryOptions, UpstreamSessionRegistry } from '../../src/index.js';
import { type RichServer, startRichServer } from '../fixtures/rich-server.js';
import { nextEvent } from '../fixtures/factory-harness.js';
import { INITIALIZE, MCP_HEADERS, rawRequest } from '../fixtures/raw-mcp.js';
import { type TestClient, type TestClientOptions, connectClient, textOf } from './helpers.js';
import { IDENTITY, IDENTITY_INSTRUCTIONS, startFlakyUpstream, startIdentityUpstream } from './identity-upstream.js';
import { PARTIAL_LIST_META_KEY } from '../../src/bridge/index.js';
import { fixtureCommand } from '../stdio/helpers.js';

/** What the suite needs from an example's `startProxy`. */
export interface ProxyUnderTest {
  readonly url: string;
  readonly registry: UpstreamSessionRegistry;
  readonly sessions: { readonly size: number };
  close(): Promise<void>;
}

export type StartProxy = (options: {
  gateways: readonly BridgeGateway[];
  registry?: Omit<RegistryOptions<Client>, 'factory'>;
  bridge?: BridgeBehaviour;
  adminToken?: string;
}) => Promise<ProxyUnderTest>;


export function proxySuite(name: string, startProxy: StartProxy): void {
  describe(`${name} example proxy, end to end`, () => {
    const cleanups: (() => Promise<unknown>)[] = [];
    afterEach(async () => {
      // Clients first, then proxies, then upstreams: each needs the next alive to close gracefully.
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function upstream(serverName?: string): Promise<RichServer> {
      const server = await startRichServer(serverName);
      cleanups.push(() => server.close());
      return server;
    }
    async function proxy(options: Parameters<StartProxy>[0]): Promise<ProxyUnderTest> {
      const p = await startProxy(options);
      cleanups.push(() => p.close());
      return p;
    }
    async function client(url: string, options?: TestClientOptions): Promise<TestClient> {
      const c = await connectClient(url, options);
      cleanups.push(() => c.close());
      return c;
    }

    it('isolates downstream sessions: A increments 5 times, B 3 times, they read 5 and 3', async () => {
      const up = await upstream();
      const p = await proxy({ gateways: [{ id: 'counter', url: up.url }] });
      const [a, b] = [await client(p.url), await client(p.url)];
      for (let i = 0; i < 5; i++) await a.client.callTool({ name: 'increment' });
      for (let i = 0; i < 3; i++) await b.client.callTool({ name: 'increment' });
      expect(textOf(await a.client.callTool({ name: 'get' }))).toBe('5');
      expect(textOf(await b.client.callTool({ name: 'get' }))).toBe('3');
      const snapshot = p.registry.snapshot();
      expect(snapshot.sessions.map((s) => s.downstreamSessionId).sort()).toEqual([a.sessionId, b.sessionId].sort());
      expect(up.openSessions()).toHaveLength(2);
      expect(snapshot.totals.created).toBe(2);
    });

    it('forwards tools, prompts, resources and completion with one gateway (names unchanged)', async () => {
      const up = await upstream();
      const p = await proxy({ gateways: [{ id: 'rich', url: up.url }] });
      const { client: c } = await client(p.url);
      const tools = (await c.listTools()).tools.map((t) => t.name);
      expect(tools).toEqual(expect.arrayContaining(['increment', 'get', 'echo', 'ask']));
      expect(textOf(await c.callTool({ name: 'echo', arguments: { text: 'hi' } }))).toBe('hi');
      expect((await c.listPrompts()).prompts.map((x) => x.name)).toEqual(['greet']);
      const prompt = await c.getPrompt({ name: 'greet', arguments: { name: 'Ada' } });
      expect(prompt.messages[0]?.content).toEqual({ type: 'text', text: 'Hello Ada' });
      const completion = await c.complete({ ref: { type: 'ref/prompt', name: 'greet' }, argument: { name: 'name', value: 'al' } });
      expect(completion.completion.values).toEqual(['alice', 'albert']);
      expect((await c.listResources()).resources.map((r) => r.uri)).toEqual(['counter://value']);
      expect((await c.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate)).toEqual(['note://{name}']);
      expect((await c.readResource({ uri: 'note://a' })).contents).toEqual([{ uri: 'note://a', text: 'note a' }]);
      const link = await c.callTool({ name: 'link' });
      expect(link.content).toEqual([{ type: 'resource_link', uri: 'counter://value', name: 'counter' }]);
    });

    it('passes an upstream JSON-RPC error through unchanged (code, message, data)', async () => {
      const up = await upstream();
      const p = await proxy({ gateways: [{ id: 'rich', url: up.url }] });
      const viaProxy = await client(p.url);
      const direct = await client(up.url);
      const proxied = await viaProxy.client.readResource({ uri: 'note://broken' }).catch((e: unknown) => e);
      const original = await direct.client.readResource({ uri: 'note://broken' }).catch((e: unknown) => e);
      expect(proxied).toBeInstanceOf(McpError);
      expect(original).toMatchObject({ code: -32050, data: { name: 'broken' } });
      const { code, message, data } = original as McpError;
      expect(proxied).toMatchObject({ code, message, data });
    });

    it('namespaces names and URIs of two gateways and routes each call to its gateway', async () => {
      const [alpha, beta] = [await upstream('alpha'), await upstream('beta')];
      const p = await proxy({ gateways: [{ id: 'alpha', url: alpha.url }, { id: 'beta', url: beta.url }] });
      const { client: c } = await client(p.url);
      const tools = (await c.listTools()).tools.map((t) => t.name);
      expect(tools).toEqual(expect.arrayContaining(['alpha__increment', 'beta__increment', 'alpha__get', 'beta__get']));
      expect(tools.some((t) => !t.startsWith('alpha__') && !t.startsWith('beta__'))).toBe(false);
      await c.callTool({ name: 'alpha__increment' });
      await c.callTool({ name: 'alpha__increment' });
      await c.callTool({ name: 'beta__increment' });
      expect(textOf(await c.callTool({ name: 'alpha__get' }))).toBe('2');
      expect(textOf(await c.callTool({ name: 'beta__get' }))).toBe('1');
      expect((await c.listPrompts()).prompts.map((x) => x.name).sort()).toEqual(['alpha__greet', 'beta__greet']);
      expect((await c.getPrompt({ name: 'beta__greet', arguments: { name: 'Bo' } })).messages[0]?.content).toEqual({
        type: 'text',
        text: 'Hello Bo',
      });
      expect((await c.listResources()).resources.map((r) => r.uri).sort()).toEqual(['alpha__counter://value', 'beta__counter://value']);
      expect((await c.readResource({ uri: 'alpha__counter://value' })).contents).toEqual([
        { uri: 'alpha__counter://value', text: '2' },
      ]);
      expect((await c.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate).sort()).toEqual([
        'alpha__note://{name}',
        'beta__note://{name}',
      ]);
      const completion = await c.complete({
        ref: { type: 'ref/resource', uri: 'beta__note://{name}' },
        argument: { name: 'name', value: 'b' },
      });
      expect(completion.completion.values).toEqual(['bob']);
      expect((await c.callTool({ name: 'beta__link' })).content).toEqual([
        { type: 'resource_link', uri: 'beta__counter://value', name: 'counter' },
      ]);
      await expect(c.callTool({ name: 'gamma__increment' })).rejects.toMatchObject({ code: -32602 });
      // Each gateway saw only its own calls.
      const alphaCalls = [...alpha.received.values()].flat().filter((m) => m === 'tools/call').length;
      const betaCalls = [...beta.received.values()].flat().filter((m) => m === 'tools/call').length;
      expect([alphaCalls, betaCalls]).toEqual([3, 3]);
    });

    it('sends an upstream elicitation to the downstream client that caused it, never to another', async () => {
      const up = await upstream();
      const p = await proxy({ gateways: [{ id: 'rich', url: up.url }] });
      const a = await client(p.url, { answer: 'from A' });
      const b = await client(p.url, { answer: 'from B' });
      expect(textOf(await a.client.callTool({ name: 'ask', arguments: { question: 'Who are you?' } }))).toBe('accept:from A');
      expect(a.elicitations).toEqual(['Who are you?']);
      expect(b.elicitations).toEqual([]);
      expect(textOf(await b.client.callTool({ name: 'ask', arguments: { question: 'And you?' } }))).toBe('accept:from B');
      expect(a.elicitations).toEqual(['Who are you?']);
      expect(b.elicitations).toEqual(['And you?']);
    });

    it('forwards sampling and roots requests to the right downstream client', async () => {
      const up = await upstream();
      const p = await proxy({ gateways: [{ id: 'rich', url: up.url }] });
      const a = await client(p.url, { sample: 'A model says hi', roots: ['file:///a'] });
      const b = await client(p.url, { sample: 'B model says hi', roots: ['file:///b'] });
      expect(textOf(await a.client.callTool({ name: 'sample', arguments: { prompt: 'hi' } }))).toBe('A model says hi');
      expect(textOf(await b.client.callTool({ name: 'sample', arguments: { prompt: 'hi' } }))).toBe('B model says hi');
      expect(textOf(await a.client.callTool({ name: 'roots' }))).toBe('file:///a');
      expect(textOf(await b.client.callTool({ name: 'roots' }))).toBe('file:///b');
    });

    it('delivers upstream notifications to their own downstream session only', async () => {
      const up = await upstream();
      const p = await proxy({ gateways: [{ id: 'rich', url: up.url }] });
      const [a, b] = [await client(p.url), await client(p.url)];
      await a.client.subscribeResource({ uri: 'counter://value' });
      await a.client.callTool({ name: 'notify', arguments: { message: 'hello A' } });
      await b.client.callTool({ name: 'notify', arguments: { message: 'hello B' } });
      const isLog = (text: string) => (n: { method: string; params?: unknown }) =>
        n.method === 'notifications/message' && (n.params as { data?: unknown }).data === text;
      await a.waitForNotification(isLog('hello A'));
      await a.waitForNotification((n) => n.method === 'notifications/tools/list_changed');
      const updated = await a.waitForNotification((n) => n.method === 'notifications/resources/updated');
      expect(updated.params).toEqual({ uri: 'counter://value' });
      await b.waitForNotification(isLog('hello B'));
      await b.waitForNotification((n) => n.method === 'notifications/tools/list_changed');
      // B's own messages arrived, A's never did (and B never subscribed).
      expect(b.notifications.some(isLog('hello A'))).toBe(false);
      expect(a.notifications.some(isLog('hello B'))).toBe(false);
      expect(b.notifications.some((n) => n.method === 'notifications/resources/updated')).toBe(false);
      expect(a.notifications.filter((n) => n.method === 'notifications/tools/list_changed')).toHaveLength(1);
    });

    it('relays progress and forwards cancellation upstream', async () => {
      const up = await upstream();
      const p = await proxy({ gateways: [{ id: 'rich', url: up.url }] });
      const { client: c } = await client(p.url);
      const progress: number[] = [];
      const result = await c.callTool({ name: 'progress', arguments: { steps: 3 } }, undefined, {
        onprogress: (x) => progress.push(x.progress),
      });
      expect(textOf(result)).toBe('done');
      expect(progress).toEqual([1, 2, 3]);

      const abort = new AbortController();
      const started = up.waitForBlock();
      const cancelled = up.waitForCancel();
      const call = c.callTool({ name: 'block' }, undefined, { signal: abort.signal });
      const upstreamSession = await started;
      abort.abort('user gave up');
      await expect(call).rejects.toThrow();
      expect(await cancelled).toBe(upstreamSession);
    });

    it('forwards logging/setLevel to the upstream session of this downstream session', async () => {
      const up = await upstream();
      const p = await proxy({ gateways: [{ id: 'rich', url: up.url }] });
      const { client: c } = await client(p.url);
      await c.setLoggingLevel('error');
      const [upstreamSession] = up.openSessions();
      expect(up.received.get(upstreamSession as string)).toContain('logging/setLevel');
    });

    it('ends the upstream session when the downstream client DELETEs its session', async () => {
      const up = await upstream();
      const p = await proxy({ gateways: [{ id: 'counter', url: up.url }] });
      const a = await client(p.url);
      const b = await client(p.url);
      await a.client.callTool({ name: 'increment' });
      const [upstreamOfA] = up.openSessions();
      const closed = nextEvent(p.registry, 'session:closed', (e) => e.downstreamSessionId === a.sessionId);
      await a.transport.terminateSession();
      await closed;
      await up.waitFor((e) => e.type === 'deleted' && e.sessionId === upstreamOfA);
      expect(p.registry.snapshot().sessions.map((s) => s.downstreamSessionId)).toEqual([b.sessionId]);
      expect(p.sessions.size).toBe(1);
      // The ended session is unknown now: HTTP 404, so a client would re-initialize.
      const list = { jsonrpc: '2.0', id: 9, method: 'tools/list' };
      const stale = await rawRequest(p.url, { method: 'POST', headers: { ...MCP_HEADERS, 'mcp-session-id': a.sessionId }, body: list });
      expect(stale.status).toBe(404);
      expect(textOf(await b.client.callTool({ name: 'get' }))).toBe('0');
    });

    it('answers 404 once the upstream session is lost (onSessionLost: fail), so the client re-initializes', async () => {
      const up = await upstream();
      const p = await proxy({ gateways: [{ id: 'counter', url: up.url }] });
      const a = await client(p.url);
      await a.client.callTool({ name: 'increment' });
      const [upstreamOfA] = up.openSessions();
      const lost = nextEvent(p.registry, 'session:lost', (e) => e.downstreamSessionId === a.sessionId);
      await up.dropSession(upstreamOfA as string);
      await expect(a.client.callTool({ name: 'get' })).rejects.toBeInstanceOf(McpError);
      expect((await lost).policy).toBe('fail');
      const error = await a.client.callTool({ name: 'get' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StreamableHTTPError);
      expect(error).toMatchObject({ code: 404 });
      // A new session works again, with fresh upstream state.
      const again = await client(p.url);
      expect(textOf(await again.client.callTool({ name: 'get' }))).toBe('0');
    });

    it('answers 503 with Retry-After when the registry is at capacity', async () => {
      const up = await upstream();
      const p = await proxy({ gateways: [{ id: 'counter', url: up.url }], registry: { maxSessions: 1 }, bridge: { retryAfterSeconds: 7 } });
      await client(p.url);
      const response = await rawRequest(p.url, { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE });
      expect(response.status).toBe(503);
      expect(response.headers['retry-after']).toBe('7');
      expect(JSON.parse(response.body)).toMatchObject({ error: { data: { code: 'ERR_CAPACITY' } } });
      expect(p.sessions.size).toBe(1);
    });

    it("shows one gateway's serverInfo, instructions and capabilities, as a direct client sees them", async () => {
      const up = await startIdentityUpstream();
      cleanups.push(() => up.close());
      const p = await proxy({ gateways: [{ id: 'id', url: up.url }] });
      const direct = (await client(up.url)).client;
      const { client: c } = await client(p.url);
      expect(c.getServerVersion()).toEqual(IDENTITY);
      expect(c.getInstructions()).toBe(IDENTITY_INSTRUCTIONS);
      expect(c.getServerCapabilities()).toEqual(direct.getServerCapabilities());
      expect(Object.keys(c.getServerCapabilities() ?? {})).toEqual(['tools']);
      // Nothing announced that the upstream does not offer, so nothing answered for it.
      await expect(c.listPrompts()).rejects.toMatchObject({ code: -32601 });
    });

    it('announces the union of several gateways, instructions under a heading each, a configurable serverInfo', async () => {
      const [id, rich] = [await startIdentityUpstream(), await upstream()];
      cleanups.push(() => id.close());
      const serverInfo = { name: 'my-gateway', version: '9.9.9' };
      const p = await proxy({ gateways: [{ id: 'id', url: id.url }, { id: 'rich', url: rich.url }], bridge: { serverInfo } });
      const { client: c } = await client(p.url);
      expect(c.getServerVersion()).toEqual(serverInfo);
      expect(c.getInstructions()).toBe(`## id\n\n${IDENTITY_INSTRUCTIONS}`);
      const richCaps = (await client(rich.url)).client.getServerCapabilities() ?? {};
      const union = c.getServerCapabilities() ?? {};
      expect(Object.keys(union).sort()).toEqual([...new Set(['tools', ...Object.keys(richCaps)])].sort());
      expect(union.resources).toEqual(richCaps.resources);
      expect(union.experimental).toBeUndefined();
    });

    it("passes the downstream client's clientInfo upstream only with forwardClientInfo", async () => {
      const up = await startIdentityUpstream();
      cleanups.push(() => up.close());
      const plain = await proxy({ gateways: [{ id: 'id', url: up.url }] });
      const forwarding = await proxy({ gateways: [{ id: 'id', url: up.url }], bridge: { forwardClientInfo: true } });
      expect(textOf(await (await client(plain.url)).client.callTool({ name: 'whoami' }))).not.toBe('e2e-client');
      expect(textOf(await (await client(forwarding.url)).client.callTool({ name: 'whoami' }))).toBe('e2e-client');
    });

    it('serves a stdio gateway beside an HTTP one: one child process per downstream session', async () => {
      const up = await upstream();
      const p = await proxy({
        gateways: [
          { id: 'local', transport: 'stdio', stdio: fixtureCommand() },
          { id: 'remote', url: up.url },
        ],
      });
      const [a, b] = [await client(p.url), await client(p.url)];
      await a.client.callTool({ name: 'local__increment' });
      await a.client.callTool({ name: 'local__increment' });
      await b.client.callTool({ name: 'local__increment' });
      expect(textOf(await a.client.callTool({ name: 'local__get' }))).toBe('2');
      expect(textOf(await b.client.callTool({ name: 'local__get' }))).toBe('1');
      const pids = [textOf(await a.client.callTool({ name: 'local__pid' })), textOf(await b.client.callTool({ name: 'local__pid' }))];
      expect(new Set(pids).size).toBe(2);
      expect(textOf(await a.client.callTool({ name: 'remote__echo', arguments: { text: 'hi' } }))).toBe('hi');
    });

    it('returns the other gateways\' tools when one fails, marked partial, and list_changed once it is back', async () => {
      const [rich, flaky] = [await upstream(), await startFlakyUpstream()];
      cleanups.push(() => flaky.close());
      const p = await proxy({
        gateways: [{ id: 'rich', url: rich.url }, { id: 'flaky', url: flaky.url }],
        bridge: { partialListRetryMs: 20 },
      });
      const c = await client(p.url);
      const partial = await c.client.listTools();
      expect(partial.tools.map((t) => t.name)).toContain('rich__echo');
      expect(partial.tools.some((t) => t.name.startsWith('flaky__'))).toBe(false);
      expect(partial._meta?.[PARTIAL_LIST_META_KEY]).toEqual({ missingGateways: ['flaky'] });
      flaky.setBroken(false);
      await c.waitForNotification((n) => n.method === 'notifications/tools/list_changed');
      const whole = await c.client.listTools();
      expect(whole.tools.map((t) => t.name)).toEqual(expect.arrayContaining(['rich__echo', 'flaky__ping']));
      expect(whole._meta).toBeUndefined();
    });

    it('rejects a bad Host or Origin header (DNS-rebinding protection) and serves the registry snapshot', async () => {
      const up = await upstream();
      const p = await proxy({ gateways: [{ id: 'counter', url: up.url }], adminToken: 'admin-secret' });
      const port = new URL(p.url).port;
      const badHost = await rawRequest(p.url, { method: 'POST', headers: { ...MCP_HEADERS, host: `evil.example:${port}` }, body: INITIALIZE });
      expect(badHost.status).toBe(403);
      const badOrigin = await rawRequest(p.url, {
        method: 'POST',
        headers: { ...MCP_HEADERS, origin: 'http://evil.example' },
        body: INITIALIZE,
      });
      expect(badOrigin.status).toBe(403);
      const admin = p.url.replace(/\/mcp$/, '/admin/registry');
      expect((await rawRequest(admin, { method: 'GET', headers: { host: `evil.example:${port}` } })).status).toBe(403);
      expect(p.sessions.size).toBe(0);
      expect(up.openSessions()).toHaveLength(0);
      const good = await rawRequest(p.url, {
        method: 'POST',
        headers: { ...MCP_HEADERS, host: `localhost:${port}`, origin: `http://localhost:${port}` },
        body: INITIALIZE,
      });
      expect(good.status).toBe(200);
      const snapshot = JSON.parse((await rawRequest(admin, { method: 'GET', headers: { authorization: 'Bearer admin-secret' } })).body);
      expect(snapshot.sessions).toHaveLength(1);
    });

    it('answers a POST whose response comes at once in one body of known length: priming event, then the response', async () => {
      const up = await upstream();
      const p = await proxy({ gateways: [{ id: 'counter', url: up.url }] });
      // 2025-11-25: the transport sends a priming event (an event id, no data) first.
      const init = { ...INITIALIZE, params: { ...INITIALIZE.params, protocolVersion: '2025-11-25' } };
      const answer = await rawRequest(p.url, { method: 'POST', headers: MCP_HEADERS, body: init });
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toBe('text/event-stream');
      expect(answer.headers['transfer-encoding']).toBeUndefined();
      expect(Number(answer.headers['content-length'])).toBe(Buffer.byteLength(answer.body));
      expect(answer.body).toMatch(/^id: [^\n]+\n(retry: \d+\n)?data: \n\nevent: message\nid: [^\n]+\ndata: \{.*"result":/);
      const sessionId = answer.headers['mcp-session-id'] as string;
      await rawRequest(p.url, { method: 'DELETE', headers: { ...MCP_HEADERS, 'mcp-session-id': sessionId } });
    });

    it('refuses requests without a session id (400) and with an unknown one (404)', async () => {
      const up = await upstream();
      const p = await proxy({ gateways: [{ id: 'counter', url: up.url }] });
      const list = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
      expect((await rawRequest(p.url, { method: 'POST', headers: MCP_HEADERS, body: list })).status).toBe(400);
      const unknown = await rawRequest(p.url, { method: 'POST', headers: { ...MCP_HEADERS, 'mcp-session-id': 'nope' }, body: list });
      expect(unknown.status).toBe(404);
      expect(up.openSessions()).toHaveLength(0);
    });

    it('shuts down completely: downstream sessions end, upstream sessions are DELETEd, nothing listens', async () => {
      const up = await upstream();
      const p = await startProxy({ gateways: [{ id: 'counter', url: up.url }] });
      const a = await connectClient(p.url);
      const b = await connectClient(p.url);
      await a.client.callTool({ name: 'increment' });
      await b.client.callTool({ name: 'increment' });
      expect(up.openSessions()).toHaveLength(2);
      await p.close();
      expect(p.registry.size).toBe(0);
      expect(p.registry.snapshot()).toMatchObject({ closed: true, sessions: [] });
      expect(p.sessions.size).toBe(0);
      expect(up.openSessions()).toHaveLength(0);
      expect(up.events.filter((e) => e.type === 'deleted')).toHaveLength(2);
      await expect(rawRequest(p.url, { method: 'GET', headers: {} })).rejects.toThrow(/ECONNREFUSED/);
      await a.close();
      await b.close();
      // test/setup.ts fails this file if a socket, server or timer is left open.
    });
  });
}
