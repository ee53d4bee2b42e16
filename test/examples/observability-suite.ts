/**
 * The operator's view of both example proxies: `/admin/sessions` and
 * `/metrics` behind the admin token, and one trace that crosses the proxy
 * (downstream client → proxy client span → upstream `_meta`), with a real SDK
 * client and a real SDK upstream on 127.0.0.1.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { TracerProvider } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { hostMcpServer } from '../../examples/shared/mcp-host.js';
import type { BridgeBehaviour, BridgeGateway } from '../../src/bridge/index.js';
import type { Logger, UpstreamSessionRegistry } from '../../src/index.js';
import { pino } from 'pino';

export type StartObservedProxy = (options: {
  gateways: readonly BridgeGateway[];
  adminToken?: string;
  tracerProvider?: TracerProvider;
  bridge?: BridgeBehaviour;
  logger?: Logger;
}) => Promise<{ readonly url: string; readonly registry: UpstreamSessionRegistry; close(): Promise<void> }>;

const TOKEN = 'admin-secret-token';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

/** An upstream whose `meta` tool answers with the `_meta` it received. */
async function metaUpstream() {
  return hostMcpServer(() => {
    const server = new McpServer({ name: 'meta-upstream', version: '1.0.0' });
    server.registerTool('meta', {}, async (extra) => ({ content: [{ type: 'text' as const, text: JSON.stringify(extra._meta ?? {}) }] }));
    return server;
  });
}

async function connect(url: string, headers: Record<string, string> = {}) {
  const client = new Client({ name: 'observed-client', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  await client.connect(transport);
  return { client, transport, sessionId: transport.sessionId as string };
}

function metaOf(result: unknown): Record<string, unknown> {
  const [first] = (result as { content: { text: string }[] }).content;
  return JSON.parse(first?.text ?? '{}') as Record<string, unknown>;
}

export function observabilitySuite(name: string, startProxy: StartObservedProxy): void {
  describe(`${name} example proxy: operator's view and trace context`, () => {
    const cleanups: (() => Promise<unknown>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function setup(adminToken?: string, bridge?: BridgeBehaviour, logger?: Logger) {
      const up = await metaUpstream();
      cleanups.push(() => up.close());
      const exporter = new InMemorySpanExporter();
      const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
      cleanups.push(() => tracerProvider.shutdown());
      const proxy = await startProxy({ gateways: [{ id: 'meta', url: up.url }], tracerProvider, ...(adminToken && { adminToken }), ...(bridge && { bridge }), ...(logger && { logger }) });
      cleanups.push(() => proxy.close());
      const admin = (path: string, token?: string) =>
        fetch(proxy.url.replace(/\/mcp$/, path), token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
      return { up, proxy, exporter, admin };
    }

    it('one trace spans client → proxy → upstream: the upstream _meta carries the proxy span, a child of the caller', async () => {
      const { proxy, exporter } = await setup();
      const c = await connect(proxy.url);
      cleanups.push(() => c.client.close());
      const traceparent = `00-${TRACE_ID}-${CALLER_SPAN}-01`;
      const result = await c.client.callTool({ name: 'meta', arguments: {}, _meta: { traceparent } });
      const received = metaOf(result);
      const span = exporter.getFinishedSpans().find((s) => s.name === 'tools/call meta');
      expect(span, exporter.getFinishedSpans().map((s) => s.name).join(', ')).toBeDefined();
      expect(span?.spanContext().traceId).toBe(TRACE_ID);
      expect(span?.parentSpanContext?.spanId).toBe(CALLER_SPAN);
      expect(received.traceparent).toBe(`00-${TRACE_ID}-${span?.spanContext().spanId}-01`);
    });

    it('a traceparent sent as an HTTP header continues into the upstream _meta', async () => {
      const { proxy, exporter } = await setup();
      const c = await connect(proxy.url, { traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01` });
      cleanups.push(() => c.client.close());
      const received = metaOf(await c.client.callTool({ name: 'meta', arguments: {} }));
      const span = exporter.getFinishedSpans().find((s) => s.name === 'tools/call meta');
      expect(span?.parentSpanContext?.spanId).toBe(CALLER_SPAN);
      expect(received.traceparent).toBe(`00-${TRACE_ID}-${span?.spanContext().spanId}-01`);
    });

    it('without bridge telemetry, an HTTP traceparent header still reaches the upstream _meta as it came', async () => {
      const { proxy } = await setup(undefined, { telemetry: undefined });
      const traceparent = `00-${TRACE_ID}-${CALLER_SPAN}-01`;
      const c = await connect(proxy.url, { traceparent, tracestate: 'k=v' });
      cleanups.push(() => c.client.close());
      expect(metaOf(await c.client.callTool({ name: 'meta', arguments: {} }))).toEqual({ traceparent, tracestate: 'k=v' });
    });

    it('logs each MCP request as pino JSON on a child logger with the session tag, never the session id', async () => {
      const lines: Record<string, unknown>[] = [];
      const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
      const { proxy } = await setup(undefined, undefined, logger);
      const c = await connect(proxy.url);
      cleanups.push(() => c.client.close());
      await c.client.callTool({ name: 'meta', arguments: {} });
      const requests = lines.filter((l) => l.msg === 'mcp request');
      expect(requests.length).toBeGreaterThanOrEqual(2);
      expect(requests.at(-1)).toMatchObject({ method: 'POST', path: '/mcp', status: 200, session: expect.stringMatching(/^[0-9a-f]{12}$/) });
      // The initialize carries no session header: its tag comes from the answer's.
      expect(requests[0]).toMatchObject({ method: 'POST', status: 200, session: requests.at(-1)?.session });
      expect(JSON.stringify(lines)).not.toContain(c.sessionId);
    });

    it('/admin/sessions and /metrics are refused without the admin token: 403 when none is configured, 401 when wrong', async () => {
      const off = await setup();
      expect((await off.admin('/admin/sessions')).status).toBe(403);
      expect((await off.admin('/metrics', 'anything')).status).toBe(403);
      const on = await setup(TOKEN);
      expect((await on.admin('/admin/sessions')).status).toBe(401);
      expect((await on.admin('/admin/sessions', 'wrong')).status).toBe(401);
      expect((await on.admin('/metrics')).status).toBe(401);
    });

    it('/admin/sessions: counts by gateway and a paged listing by session tag, never the session id', async () => {
      const { proxy, admin } = await setup(TOKEN);
      const clients = [await connect(proxy.url), await connect(proxy.url)];
      for (const c of clients) {
        cleanups.push(() => c.client.close());
        await c.client.callTool({ name: 'meta', arguments: {} });
      }
      const first = await admin('/admin/sessions?limit=1', TOKEN);
      expect(first.status).toBe(200);
      const text = await first.text();
      for (const c of clients) expect(text).not.toContain(c.sessionId);
      const page = JSON.parse(text) as { live: number; gateways: Record<string, { live: number }>; sessions: Record<string, unknown>[]; nextCursor?: string };
      expect(page.live).toBe(2);
      expect(page.gateways.meta?.live).toBe(2);
      expect(page.sessions).toEqual([
        { session: expect.stringMatching(/^[0-9a-f]{12}$/), gateway: 'meta', state: 'ready', ageMs: expect.any(Number), idleMs: expect.any(Number), inFlight: 0 },
      ]);
      const second = (await (await admin(`/admin/sessions?limit=1&cursor=${page.nextCursor}`, TOKEN)).json()) as typeof page;
      expect(second.sessions).toHaveLength(1);
      expect(second.sessions[0]?.session).not.toBe(page.sessions[0]?.session);
      expect(second.nextCursor).toBeUndefined();
      expect((await admin('/admin/sessions?limit=0', TOKEN)).status).toBe(400);
    });

    it('/metrics: Prometheus text with the registry gauges and MCP operation durations', async () => {
      const { proxy, admin } = await setup(TOKEN);
      const c = await connect(proxy.url);
      cleanups.push(() => c.client.close());
      await c.client.callTool({ name: 'meta', arguments: {} });
      const response = await admin('/metrics', TOKEN);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/plain');
      const text = await response.text();
      expect(text).toMatch(/mcp_upstream_registry_sessions\{[^}]*mcp_upstream_registry_gateway_id="meta"[^}]*\} 1/);
      expect(text).toContain('mcp_client_operation_duration');
      expect(text).toContain('mcp_upstream_registry_create_duration');
      expect(text).not.toContain(c.sessionId);
    });
  });
}
