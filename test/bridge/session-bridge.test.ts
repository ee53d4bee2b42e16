/**
 * The bridge on its own: a real SDK client talks to the bridge's downstream
 * `Server` over an in-memory transport; upstreams are real SDK servers on
 * 127.0.0.1 reached through a real registry.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  type ClientCapabilities,
  ElicitRequestSchema,
  ListToolsRequestSchema,
  LoggingMessageNotificationSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { type McpHost, hostMcpServer } from '../../examples/shared/mcp-host.js';
import { BridgeHub } from '../../src/bridge/hub.js';
import type { BridgeGateway } from '../../src/bridge/bridge-options.js';
import type { SessionBridge } from '../../src/bridge/session-bridge.js';
import { InvalidOptionsError, InvalidRequestError } from '../../src/errors.js';
import { mcpSessionFactory } from '../../src/mcp/factory.js';
import type { RegistryOptions } from '../../src/options.js';
import { UpstreamSessionRegistry } from '../../src/registry/index.js';
import { type RichServer, startRichServer } from '../fixtures/rich-server.js';

/** An upstream whose tools/list pages `pageSize` tools at a time. */
function pagingUpstream(names: string[], pageSize: number): Promise<McpHost> {
  return hostMcpServer(() => {
    const mcp = new McpServer({ name: 'pager', version: '1.0.0' }, { capabilities: { tools: {} } });
    mcp.server.setRequestHandler(ListToolsRequestSchema, async (request) => {
      const start = Number(request.params?.cursor ?? 0);
      const tools = names.slice(start, start + pageSize).map((name) => ({ name, inputSchema: { type: 'object' as const } }));
      const next = start + pageSize < names.length ? String(start + pageSize) : undefined;
      return { tools, ...(next !== undefined && { nextCursor: next }) };
    });
    return mcp;
  });
}

describe('SessionBridge', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  let sequence = 0;
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function setup(options: Omit<RegistryOptions<Client>, 'factory'> = {}) {
    const hub = new BridgeHub();
    const registry = new UpstreamSessionRegistry<Client>({
      onSessionLost: 'fail',
      ...options,
      factory: mcpSessionFactory({ configureClient: hub.configureClient }),
    });
    cleanups.push(() => registry.closeAll(), () => hub.close());
    return { hub, registry };
  }

  async function upstream(name?: string): Promise<RichServer> {
    const server = await startRichServer(name);
    cleanups.push(() => server.close());
    return server;
  }

  async function downstream(
    hub: BridgeHub,
    registry: UpstreamSessionRegistry<Client>,
    gateways: BridgeGateway[],
    capabilities: ClientCapabilities = {},
  ): Promise<{ bridge: SessionBridge; client: Client }> {
    const bridge = hub.createBridge({ registry, downstreamSessionId: `ds-${++sequence}`, gateways });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await bridge.server.connect(serverSide);
    const client = new Client({ name: 'test', version: '1.0.0' }, { capabilities });
    await client.connect(clientSide);
    cleanups.push(() => client.close(), () => bridge.close());
    return { bridge, client };
  }

  it('pages aggregated lists with one cursor that remembers every gateway', async () => {
    const { hub, registry } = setup();
    const alpha = await pagingUpstream(['a1', 'a2', 'a3', 'a4', 'a5'], 2);
    const beta = await pagingUpstream(['b1'], 2);
    cleanups.push(() => alpha.close(), () => beta.close());
    const { client } = await downstream(hub, registry, [
      { id: 'alpha', url: alpha.url },
      { id: 'beta', url: beta.url },
    ]);
    const page1 = await client.listTools();
    expect(page1.tools.map((t) => t.name)).toEqual(['alpha__a1', 'alpha__a2', 'beta__b1']);
    expect(page1.nextCursor).toBeTypeOf('string');
    const page2 = await client.listTools({ cursor: page1.nextCursor });
    expect(page2.tools.map((t) => t.name)).toEqual(['alpha__a3', 'alpha__a4']);
    const page3 = await client.listTools({ cursor: page2.nextCursor });
    expect(page3.tools.map((t) => t.name)).toEqual(['alpha__a5']);
    expect(page3.nextCursor).toBeUndefined();
    await expect(client.listTools({ cursor: 'forged' })).rejects.toMatchObject({ code: -32602 });
  });

  it('passes cursors through untouched with one gateway', async () => {
    const { hub, registry } = setup();
    const only = await pagingUpstream(['t1', 't2', 't3'], 2);
    cleanups.push(() => only.close());
    const { client } = await downstream(hub, registry, [{ id: 'only', url: only.url }]);
    const page1 = await client.listTools();
    expect(page1).toMatchObject({ nextCursor: '2' });
    expect((await client.listTools({ cursor: '2' })).tools.map((t) => t.name)).toEqual(['t3']);
  });

  it('returns empty lists for a gateway without the capability', async () => {
    const { hub, registry } = setup();
    const pager = await pagingUpstream(['t1'], 5);
    cleanups.push(() => pager.close());
    const { client } = await downstream(hub, registry, [{ id: 'p', url: pager.url }]);
    expect((await client.listPrompts()).prompts).toEqual([]);
    expect((await client.listResources()).resources).toEqual([]);
  });

  it('declares upstream only the capabilities the downstream client has', async () => {
    const { hub, registry } = setup();
    const up = await upstream();
    const { client } = await downstream(hub, registry, [{ id: 'rich', url: up.url }]);
    // No elicitation downstream: the upstream server refuses to elicit, and says so.
    const result = await client.callTool({ name: 'ask', arguments: { question: 'q' } });
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toMatch(/elicitation/i);
  });

  it('forwards the upstream cancellation of an elicitation to the downstream client', async () => {
    const { hub, registry } = setup();
    const up = await upstream();
    const { bridge, client } = await downstream(hub, registry, [{ id: 'rich', url: up.url }], { elicitation: {} });
    // SDK 1.32 ignores a cancellation of request id 0 (falsy check): spend the bridge's id 0 on a ping.
    await bridge.server.ping();
    let started!: () => void;
    const elicited = new Promise<void>((resolve) => {
      started = resolve;
    });
    const cancelled = new Promise<unknown>((resolve) => {
      client.setRequestHandler(ElicitRequestSchema, (_request, extra) => {
        started();
        return new Promise<never>(() => extra.signal.addEventListener('abort', () => resolve(extra.signal.reason)));
      });
    });
    const call = client.callTool({ name: 'ask-slowly' });
    await elicited;
    await client.callTool({ name: 'cancel-ask' });
    await cancelled;
    expect((await call).content).toEqual([{ type: 'text', text: 'cancelled' }]);
  });

  it('forwards roots/list_changed to the upstream sessions of this downstream session', async () => {
    const { hub, registry } = setup();
    const up = await upstream();
    const { client } = await downstream(hub, registry, [{ id: 'rich', url: up.url }], { roots: { listChanged: true } });
    await client.callTool({ name: 'get' });
    const received = up.waitForMessage('notifications/roots/list_changed');
    await client.sendRootsListChanged();
    expect(await received).toBe(up.openSessions()[0]);
  });

  it('connect() creates every upstream session before the downstream initializes', async () => {
    const { hub, registry } = setup();
    const [alpha, beta] = [await upstream('alpha'), await upstream('beta')];
    const bridge = hub.createBridge({
      registry,
      downstreamSessionId: 'early',
      gateways: [
        { id: 'alpha', url: alpha.url },
        { id: 'beta', url: beta.url },
      ],
    });
    cleanups.push(() => bridge.close());
    expect(await bridge.connect({ clientCapabilities: { elicitation: {} } })).toBeUndefined();
    expect(registry.size).toBe(2);
    expect([alpha.openSessions().length, beta.openSessions().length]).toEqual([1, 1]);
  });

  it('connect() refuses with 503 and Retry-After at capacity', async () => {
    const { hub, registry } = setup({ maxSessions: 1 });
    const up = await upstream();
    await downstream(hub, registry, [{ id: 'rich', url: up.url }]).then(({ client }) => client.listTools());
    const bridge = hub.createBridge({ registry, downstreamSessionId: 'second', gateways: [{ id: 'rich', url: up.url }], retryAfterSeconds: 3 });
    cleanups.push(() => bridge.close());
    const refused = await bridge.connect();
    expect(refused).toMatchObject({ status: 503, headers: { 'retry-after': '3' }, error: { code: 'ERR_CAPACITY' } });
    // Capacity is not terminal: the session may be tried again.
    expect(bridge.admission()).toBeUndefined();
  });

  it('connect() goes on when one gateway is down, and refuses with 502 when all are', async () => {
    const { hub, registry } = setup();
    const up = await upstream();
    const dead = await upstream();
    const deadUrl = dead.url;
    await dead.close();
    const mixed = hub.createBridge({
      registry,
      downstreamSessionId: 'mixed',
      gateways: [
        { id: 'up', url: up.url },
        { id: 'down', url: deadUrl, connectTimeoutMs: 2000 },
      ],
    });
    cleanups.push(() => mixed.close());
    expect(await mixed.connect()).toBeUndefined();
    const allDown = hub.createBridge({ registry, downstreamSessionId: 'all-down', gateways: [{ id: 'down', url: deadUrl }] });
    cleanups.push(() => allDown.close());
    expect(await allDown.connect()).toMatchObject({ status: 502, error: { code: 'ERR_CREATE_FAILED' } });
  });

  it('during the create backoff connect() answers 503 with Retry-After = the remaining window (issue #10 §1)', async () => {
    const { hub, registry } = setup({ createBackoff: { afterFailures: 1, initialMs: 4500, maxMs: 60_000 } });
    const dead = await upstream();
    const deadUrl = dead.url;
    await dead.close();
    const bridgeFor = (id: string) => {
      const bridge = hub.createBridge({ registry, downstreamSessionId: id, gateways: [{ id: 'down', url: deadUrl }] });
      cleanups.push(() => bridge.close());
      return bridge;
    };
    const tried = await bridgeFor('first').connect();
    expect(tried).toMatchObject({ status: 502, error: { code: 'ERR_CREATE_FAILED' } });
    expect(tried?.headers['retry-after']).toBeUndefined();
    const refused = await bridgeFor('second').connect();
    expect(refused).toMatchObject({ status: 503, error: { code: 'ERR_CREATE_FAILED' } });
    // 4500 ms window, a few ms gone: rounded up to 5 s (4 under a very slow machine).
    expect(['5', '4']).toContain(refused?.headers['retry-after']);
  });

  it('a call to a gateway that is down fails with a JSON-RPC error; the others still work', async () => {
    const { hub, registry } = setup();
    const up = await upstream();
    const dead = await upstream();
    const deadUrl = dead.url;
    await dead.close();
    const { client } = await downstream(hub, registry, [
      { id: 'up', url: up.url },
      { id: 'down', url: deadUrl },
    ]);
    expect((await client.callTool({ name: 'up__increment' })).content).toEqual([{ type: 'text', text: '1' }]);
    const error = await client.callTool({ name: 'down__increment' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpError);
    expect(error).toMatchObject({ code: -32000, data: { code: 'ERR_CREATE_FAILED' } });
  });

  it('marks the session lost when its upstream session is lost (onSessionLost: fail)', async () => {
    const { hub, registry } = setup();
    const up = await upstream();
    const { bridge, client } = await downstream(hub, registry, [{ id: 'rich', url: up.url }]);
    await client.callTool({ name: 'increment' });
    expect(bridge.admission()).toBeUndefined();
    const lost = new Promise<void>((resolve) => registry.on('session:lost', () => resolve()));
    await up.dropSession(up.openSessions()[0] as string);
    await expect(client.callTool({ name: 'get' })).rejects.toBeInstanceOf(McpError);
    await lost;
    expect(bridge.admission()).toMatchObject({ status: 404, error: { code: 'ERR_SESSION_LOST' } });
    // Later calls say so too, with a stable code the client can switch on.
    await expect(client.callTool({ name: 'get' })).rejects.toMatchObject({ code: -32001, data: { code: 'ERR_SESSION_LOST' } });
  });

  it('close() evicts the upstream sessions and unregisters from the hub', async () => {
    const { hub, registry } = setup();
    const up = await upstream();
    const { bridge, client } = await downstream(hub, registry, [{ id: 'rich', url: up.url }]);
    await client.callTool({ name: 'increment' });
    const upstreamSession = up.openSessions()[0];
    expect(hub.get(bridge.downstreamSessionId)).toBe(bridge);
    await bridge.close();
    expect(bridge.closed).toBe(true);
    expect(hub.get(bridge.downstreamSessionId)).toBeUndefined();
    expect(registry.size).toBe(0);
    expect(up.events.filter((e) => e.type === 'deleted').map((e) => e.sessionId)).toEqual([upstreamSession]);
  });

  it('routes the upstream notifications of a session served from a warm spare to its downstream client (adoptClient)', async () => {
    const hub = new BridgeHub();
    const http = mcpSessionFactory({ configureClient: hub.configureClient, adoptClient: hub.adoptClient });
    let spareReady!: () => void;
    const ready = new Promise<void>((resolve) => {
      spareReady = resolve;
    });
    const registry = new UpstreamSessionRegistry<Client>({
      onSessionLost: 'fail',
      spares: { rich: 1 },
      factory: async (request, ctx) => {
        const connection = await http(request, ctx);
        if (request.downstreamSessionId.startsWith('mcp-upstream-registry.spare.')) spareReady();
        return connection;
      },
    });
    cleanups.push(() => registry.closeAll(), () => hub.close());
    const up = await upstream();
    // The first session's own create starts the gateway's pool.
    const first = await downstream(hub, registry, [{ id: 'rich', url: up.url }]);
    await first.client.callTool({ name: 'increment' });
    await ready;
    const { client } = await downstream(hub, registry, [{ id: 'rich', url: up.url }]);
    // Served from the spare: a fresh upstream session (its counter starts at 1), made before this session existed.
    expect(JSON.stringify(await client.callTool({ name: 'increment' }))).toContain('"1"');
    const message = new Promise<unknown>((resolve) => {
      client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => resolve(n.params.data));
    });
    await client.callTool({ name: 'notify', arguments: { message: 'to the adopter' } });
    // Without adoptClient this never arrives (the spare's client has no route): the test times out.
    expect(await message).toBe('to the adopter');
  });

  it('validates its options', () => {
    const { hub, registry } = setup();
    const gateways = [{ id: 'g', url: 'http://127.0.0.1:1/mcp' }];
    expect(() => hub.createBridge({ registry, downstreamSessionId: 'x', gateways, nope: 1 } as never)).toThrow(InvalidOptionsError);
    expect(() => hub.createBridge({ registry, downstreamSessionId: 'has space', gateways })).toThrow(/downstreamSessionId/);
    expect(() => hub.createBridge({ registry, downstreamSessionId: 'x', gateways: [] })).toThrow(/gateways/);
    expect(() =>
      hub.createBridge({ registry, downstreamSessionId: 'x', gateways: [...gateways, { id: 'g', url: 'http://127.0.0.1:2/mcp' }] }),
    ).toThrow(/duplicate/);
    expect(() => hub.createBridge({ registry, downstreamSessionId: 'x', gateways: [{ id: 'g', url: 'ftp://x' }] })).toThrow(
      InvalidRequestError,
    );
    expect(() => hub.createBridge({ registry: {} as never, downstreamSessionId: 'x', gateways })).toThrow(/registry/);
    expect(() => hub.createBridge({ registry, downstreamSessionId: 'x', gateways, requestTimeoutMs: -1 })).toThrow(/requestTimeoutMs/);
    const first = hub.createBridge({ registry, downstreamSessionId: 'x', gateways });
    expect(() => hub.createBridge({ registry, downstreamSessionId: 'x', gateways })).toThrow(/already has a live bridge/);
    cleanups.push(() => first.close());
    expect(() => new BridgeHub({ loger: console } as never)).toThrow(InvalidOptionsError);
  });
});
