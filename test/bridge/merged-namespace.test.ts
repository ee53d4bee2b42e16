/**
 * `namespace: 'none'` with two gateways: names merged as the upstreams spell
 * them, each routed to the gateway that lists it, collisions won by the first
 * gateway in configuration order (listed once, logged once, named in `_meta`).
 * Real SDK servers on 127.0.0.1 behind a real registry; a real SDK client on
 * an in-memory transport downstream.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ListToolsRequestSchema, ResourceUpdatedNotificationSchema, SubscribeRequestSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type McpHost, hostMcpServer } from '../../examples/shared/mcp-host.js';
import type { BridgeGateway } from '../../src/bridge/bridge-options.js';
import { BridgeHub } from '../../src/bridge/hub.js';
import { NAME_COLLISIONS_META_KEY, mergeFirstWins } from '../../src/bridge/merged-routes.js';
import type { Logger } from '../../src/logger.js';
import { mcpSessionFactory } from '../../src/mcp/factory.js';
import { UpstreamSessionRegistry } from '../../src/registry/index.js';

const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });

/** An upstream named `id` with tool `shared` (answers its id), tool `<id>_only`, a prompt, a resource and a template. */
function upstream(id: string, calls: string[] = []): Promise<McpHost> {
  return hostMcpServer(() => {
    const mcp = new McpServer({ name: id, version: '1.0.0' }, { capabilities: { resources: { subscribe: true }, completions: {} } });
    mcp.registerTool('shared', { description: `shared of ${id}` }, async () => text(id));
    mcp.registerTool(`${id}_only`, {}, async () => {
      calls.push(`${id}_only`);
      return text(`${id}_only`);
    });
    mcp.registerPrompt(
      `${id}_prompt`,
      { argsSchema: { city: z.string() } },
      async ({ city }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `${id} ${city}` } }] }),
    );
    mcp.registerResource(`${id}-static`, `mem://${id}`, {}, async (uri) => ({ contents: [{ uri: uri.href, text: `static of ${id}` }] }));
    mcp.registerResource(
      `${id}-items`,
      new ResourceTemplate(`item://${id}/{key}`, { list: undefined, complete: { key: (value) => [`${id}-${value}`] } }),
      {},
      async (uri, { key }) => ({ contents: [{ uri: uri.href, text: `${id} item ${String(key)}` }] }),
    );
    // `<id>_late` is callable from the start but listed only after `<id>_reveal`, which says so with list_changed.
    let revealed = false;
    mcp.registerTool(`${id}_late`, {}, async () => text(`${id}_late`));
    mcp.registerTool(`${id}_reveal`, {}, async (extra) => {
      revealed = true;
      await extra.sendNotification({ method: 'notifications/tools/list_changed' });
      return text('revealed');
    });
    // Counts tools/list.
    mcp.server.setRequestHandler(ListToolsRequestSchema, async () => {
      calls.push('tools/list');
      const names = ['shared', `${id}_only`, `${id}_reveal`, ...(revealed ? [`${id}_late`] : [])];
      return { tools: names.map((name) => ({ name, description: name === 'shared' ? `shared of ${id}` : undefined, inputSchema: { type: 'object' as const } })) };
    });
    mcp.server.setRequestHandler(SubscribeRequestSchema, async (request) => {
      calls.push(`subscribe ${request.params.uri}`);
      await mcp.server.sendResourceUpdated({ uri: request.params.uri });
      return {};
    });
    return mcp;
  });
}

describe("namespace: 'none' with several gateways", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  let sequence = 0;
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(order: readonly string[], calls: Record<string, string[]> = {}) {
    const warnings: Record<string, unknown>[] = [];
    const logger: Logger = { debug: () => undefined, info: () => undefined, error: () => undefined, warn: (fields) => void warnings.push(fields as Record<string, unknown>) };
    const hub = new BridgeHub({ logger });
    const registry = new UpstreamSessionRegistry<Client>({ onSessionLost: 'fail', factory: mcpSessionFactory({ configureClient: hub.configureClient }) });
    cleanups.push(() => registry.closeAll(), () => hub.close());
    const gateways: BridgeGateway[] = [];
    for (const id of order) {
      calls[id] ??= [];
      const host = await upstream(id, calls[id]);
      cleanups.push(() => host.close());
      gateways.push({ id, url: host.url });
    }
    const bridge = hub.createBridge({ registry, downstreamSessionId: `merged-${++sequence}`, gateways, namespace: 'none' });
    expect(await bridge.connect()).toBeUndefined();
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await bridge.server.connect(serverSide);
    const client = new Client({ name: 'test', version: '1.0.0' });
    await client.connect(clientSide);
    cleanups.push(() => client.close(), () => bridge.close());
    const lists = () => Object.fromEntries(Object.entries(calls).map(([id, c]) => [id, c.filter((x) => x === 'tools/list').length]));
    return { client, warnings, lists };
  }

  it('routes a call to the gateway that offers the name, without a prior list', async () => {
    const calls: Record<string, string[]> = {};
    const { client } = await setup(['alpha', 'beta'], calls);
    expect(await client.callTool({ name: 'beta_only' })).toEqual(text('beta_only'));
    expect(await client.callTool({ name: 'alpha_only' })).toEqual(text('alpha_only'));
    expect(calls).toEqual({ alpha: ['tools/list', 'alpha_only'], beta: ['tools/list', 'beta_only'] });
    const prompt = await client.getPrompt({ name: 'beta_prompt', arguments: { city: 'Oslo' } });
    expect(prompt.messages[0]?.content).toEqual({ type: 'text', text: 'beta Oslo' });
    await expect(client.callTool({ name: 'gamma_only' })).rejects.toThrow(/Tool gamma_only not found/);
  });

  it("lists again on a miss only while some gateway's list is unknown", async () => {
    const { client, lists } = await setup(['alpha', 'beta']);
    await client.callTool({ name: 'beta_only' });
    expect(lists()).toEqual({ alpha: 1, beta: 1 });
    await expect(client.callTool({ name: 'gamma_only' })).rejects.toThrow(/not found/);
    await client.callTool({ name: 'alpha_only' });
    expect(lists()).toEqual({ alpha: 1, beta: 1 });
  });

  it("forgets a gateway's routes on its list_changed, so a new name routes after one more list", async () => {
    const { client, lists } = await setup(['alpha', 'beta']);
    await expect(client.callTool({ name: 'beta_late' })).rejects.toThrow(/not found/);
    const changed = new Promise((resolve) => client.setNotificationHandler(ToolListChangedNotificationSchema, resolve));
    await client.callTool({ name: 'beta_reveal' });
    await changed;
    expect(await client.callTool({ name: 'beta_late' })).toEqual(text('beta_late'));
    expect(lists()).toEqual({ alpha: 2, beta: 2 });
  });

  it('lists each name once, unprefixed; a collision is won by the first gateway, logged once and named in _meta', async () => {
    const { client, warnings } = await setup(['beta', 'alpha']);
    const listed = await client.listTools();
    expect(listed.tools.map((t) => t.name).sort()).toEqual(['alpha_only', 'alpha_reveal', 'beta_only', 'beta_reveal', 'shared']);
    expect(listed.tools.find((t) => t.name === 'shared')?.description).toBe('shared of beta');
    expect(listed._meta?.[NAME_COLLISIONS_META_KEY]).toEqual({ collisions: [{ name: 'shared', gatewayId: 'beta', shadowed: ['alpha'] }] });
    expect(listed.nextCursor).toBeUndefined();
    expect(await client.callTool({ name: 'shared' })).toEqual(text('beta'));
    await client.listTools();
    expect(warnings.filter((w) => w.name === 'shared')).toEqual([
      expect.objectContaining({ method: 'tools/list', gatewayId: 'beta', shadowed: ['alpha'] }),
    ]);
    await expect(client.listTools({ cursor: 'made-up' })).rejects.toThrow(/Invalid cursor/);
  });

  it('routes the first gateway in configuration order on a collision whichever list answers first', async () => {
    const { client } = await setup(['alpha', 'beta']);
    expect(await client.callTool({ name: 'shared' })).toEqual(text('alpha'));
  });

  it('routes resources by listed URI or by template, and subscriptions and completions with them', async () => {
    const calls: Record<string, string[]> = {};
    const { client } = await setup(['alpha', 'beta'], calls);
    expect((await client.readResource({ uri: 'mem://beta' })).contents).toEqual([{ uri: 'mem://beta', text: 'static of beta' }]);
    expect((await client.readResource({ uri: 'item://beta/7' })).contents).toEqual([{ uri: 'item://beta/7', text: 'beta item 7' }]);
    expect((await client.readResource({ uri: 'item://alpha/7' })).contents).toEqual([{ uri: 'item://alpha/7', text: 'alpha item 7' }]);
    await expect(client.readResource({ uri: 'mem://gamma' })).rejects.toThrow(/Resource mem:\/\/gamma not found/);

    const templates = await client.listResourceTemplates();
    expect(templates.resourceTemplates.map((t) => t.uriTemplate).sort()).toEqual(['item://alpha/{key}', 'item://beta/{key}']);

    const updated = new Promise((resolve) => client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => resolve(n.params.uri)));
    await client.subscribeResource({ uri: 'item://beta/1' });
    expect(await updated).toBe('item://beta/1');
    expect(calls.beta).toContain('subscribe item://beta/1');
    expect(calls.alpha).not.toContain('subscribe item://beta/1');

    const completed = await client.complete({ ref: { type: 'ref/resource', uri: 'item://beta/{key}' }, argument: { name: 'key', value: 'x' } });
    expect(completed.completion.values).toEqual(['beta-x']);
  });
});

describe('mergeFirstWins', () => {
  it('keeps the first gateway of each name and reports the hidden ones, passing malformed items on', () => {
    const merged = mergeFirstWins(
      [
        { gatewayId: 'a', items: [{ name: 'x' }, { name: 'y' }, { title: 'no name' }] },
        { gatewayId: 'b', items: [{ name: 'y', from: 'b' }, { name: 'z' }, { name: 'y', again: true }] },
        { gatewayId: 'c', items: [{ name: 'y' }] },
      ],
      'name',
    );
    expect(merged.items).toEqual([{ name: 'x' }, { name: 'y' }, { title: 'no name' }, { name: 'z' }]);
    expect(merged.collisions).toEqual([{ name: 'y', gatewayId: 'a', shadowed: ['b', 'c'] }]);
  });
});
