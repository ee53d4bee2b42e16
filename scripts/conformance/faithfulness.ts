/**
 * Measures what a client notices beyond the conformance suite, directly at an
 * upstream and through each example proxy, and prints a Markdown table
 * (the "faithful proxy" table of docs/bridge.md; OAuth upstreams and stateless
 * upstreams are measured by `npm run conformance:client`).
 *
 *   node --import tsx scripts/conformance/faithfulness.ts
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startProxy as startExpress } from '../../examples/express/proxy.js';
import { startProxy as startHono } from '../../examples/hono/proxy.js';
import type { ProxyStartOptions, RunningProxy } from '../../examples/shared/main.js';
import { startFlakyUpstream, startIdentityUpstream } from '../../test/examples/identity-upstream.js';
import { fixtureCommand } from '../../test/stdio/helpers.js';

type Start = (options: ProxyStartOptions) => Promise<RunningProxy>;
const CLIENT = { name: 'faithfulness-client', version: '7.0.0' };
const NO_RECONNECT = { maxRetries: 0, initialReconnectionDelay: 1_000, maxReconnectionDelay: 1_000, reconnectionDelayGrowFactor: 1 };

async function connect(url: string): Promise<Client> {
  const client = new Client(CLIENT);
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { reconnectionOptions: NO_RECONNECT }));
  return client;
}

function textOf(result: unknown): string {
  const first = (result as { content?: { text?: string }[] }).content?.[0];
  return first?.text ?? JSON.stringify(result);
}

/** serverInfo, instructions, capabilities and the clientInfo the upstream saw. */
async function identity(url: string): Promise<string[]> {
  const client = await connect(url);
  try {
    const info = client.getServerVersion();
    const whoami = textOf(await client.callTool({ name: 'whoami' }));
    return [
      `${info?.name} ${info?.version}`,
      JSON.stringify(client.getInstructions() ?? null),
      Object.keys(client.getServerCapabilities() ?? {}).join(', '),
      whoami,
    ];
  } finally {
    await client.close();
  }
}

/** Whether the SSE events of a `tools/call` response carry `id:` lines (raw HTTP, as a client sees them). */
async function sseIds(url: string): Promise<string> {
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const post = (body: unknown, session?: string) =>
    fetch(url, { method: 'POST', headers: { ...headers, ...(session && { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' }) }, body: JSON.stringify(body) });
  const init = await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: CLIENT } });
  const session = init.headers.get('mcp-session-id') ?? undefined;
  await init.text();
  await (await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session)).text();
  const call = await post({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'whoami', arguments: {} } }, session);
  const body = await call.text();
  if (session) await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' } });
  const ids = body.split('\n').filter((line) => line.startsWith('id:')).length;
  return `${call.headers.get('content-type')?.split(';')[0]}, ${ids} event id(s)`;
}

async function stdioGateway(start: Start): Promise<string> {
  const proxy = await start({ gateways: [{ id: 'local', transport: 'stdio', stdio: fixtureCommand() }] });
  try {
    const client = await connect(proxy.url);
    const result = textOf(await client.callTool({ name: 'increment' }));
    await client.close();
    return `tools/call increment → ${result}`;
  } catch (error) {
    return `error: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    await proxy.close();
  }
}

async function partialList(start: Start, goodUrl: string, flakyUrl: string): Promise<string> {
  const proxy = await start({ gateways: [{ id: 'good', url: goodUrl }, { id: 'flaky', url: flakyUrl }] });
  try {
    const client = await connect(proxy.url);
    const listed = await client.listTools();
    await client.close();
    return `${listed.tools.map((t) => t.name).join(', ')}; _meta ${JSON.stringify(listed._meta ?? {})}`;
  } catch (error) {
    return `error: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    await proxy.close();
  }
}

async function main(): Promise<void> {
  const upstream = await startIdentityUpstream();
  const flaky = await startFlakyUpstream();
  const rows: [string, string[]][] = [];
  try {
    const direct = await identity(upstream.url);
    const directIds = await sseIds(upstream.url);
    for (const [name, start] of [
      ['express', startExpress],
      ['hono', startHono],
    ] as const) {
      const proxy = await start({ gateways: [{ id: 'id', url: upstream.url }] });
      const forwarding = await start({ gateways: [{ id: 'id', url: upstream.url }], bridge: { forwardClientInfo: true } });
      try {
        const through = await identity(proxy.url);
        const forwarded = await identity(forwarding.url);
        rows.push(
          [`serverInfo (${name})`, [direct[0] as string, through[0] as string]],
          [`instructions (${name})`, [direct[1] as string, through[1] as string]],
          [`capabilities (${name})`, [direct[2] as string, through[2] as string]],
          [`SSE event ids (${name})`, [directIds, await sseIds(proxy.url)]],
          [`clientInfo the upstream sees (${name})`, [direct[3] as string, `${through[3]} (default); ${forwarded[3]} (forwardClientInfo)`]],
          [`stdio gateway in config (${name})`, ['—', await stdioGateway(start)]],
          [`one of two gateways failing tools/list (${name})`, ['—', await partialList(start, upstream.url, flaky.url)]],
        );
      } finally {
        await proxy.close();
        await forwarding.close();
      }
    }
  } finally {
    await upstream.close();
    await flaky.close();
  }
  console.log('| check | direct to the upstream | through the proxy |\n|---|---|---|');
  for (const [check, [direct, through]] of rows) console.log(`| ${check} | ${direct} | ${through} |`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
