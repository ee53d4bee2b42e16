import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type SpanContext, TraceFlags, context, createTraceState, trace } from '@opentelemetry/api';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  extractTraceContext,
  formatTraceparent,
  injectTraceContext,
  parseTraceparent,
} from '../../src/otel/index.js';
import { otelHarness } from './harness.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${SPAN_ID}-01`;

describe('parseTraceparent / formatTraceparent', () => {
  it('parses a valid W3C traceparent into a remote, sampled span context and formats it back', () => {
    const sc = parseTraceparent(TRACEPARENT, 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
    expect(sc).toMatchObject({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED, isRemote: true });
    expect(sc?.traceState?.get('congo')).toBe('t61rcWkgMzE');
    expect(formatTraceparent(sc as SpanContext)).toBe(TRACEPARENT);
    expect(parseTraceparent(`00-${TRACE_ID}-${SPAN_ID}-00`)?.traceFlags).toBe(TraceFlags.NONE);
  });

  it('accepts a future version with extra fields, and rejects everything that is not a valid traceparent', () => {
    expect(parseTraceparent(`01-${TRACE_ID}-${SPAN_ID}-01-future`)?.traceId).toBe(TRACE_ID);
    for (const bad of [
      undefined,
      42,
      '',
      `ff-${TRACE_ID}-${SPAN_ID}-01`, // version ff is invalid
      `00-${TRACE_ID}-${SPAN_ID}-01-extra`, // version 00 has exactly four fields
      `00-${'0'.repeat(32)}-${SPAN_ID}-01`, // all-zero trace id
      `00-${TRACE_ID}-${'0'.repeat(16)}-01`, // all-zero span id
      `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`, // upper case
      `00-${TRACE_ID}-${SPAN_ID}`,
    ]) {
      expect(parseTraceparent(bad), String(bad)).toBeUndefined();
    }
  });
});

describe('extractTraceContext', () => {
  const base = context.active();
  const parentId = (ctx: ReturnType<typeof extractTraceContext>) => trace.getSpanContext(ctx)?.spanId;

  it('reads params._meta first, then the HTTP traceparent header, else leaves the base context', () => {
    const other = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`;
    expect(parentId(extractTraceContext({ meta: { traceparent: TRACEPARENT }, headers: { traceparent: other } }, base))).toBe(SPAN_ID);
    expect(parentId(extractTraceContext({ meta: { progressToken: 1 }, headers: { traceparent: other } }, base))).toBe('2'.repeat(16));
    expect(parentId(extractTraceContext({ meta: { traceparent: 'garbage' }, headers: new Headers({ traceparent: other }) }, base))).toBe(
      '2'.repeat(16),
    );
    expect(extractTraceContext({}, base)).toBe(base);
    expect(extractTraceContext({ meta: { traceparent: 'garbage' } }, base)).toBe(base);
  });

  it('treats two traceparent headers as none and joins several tracestate headers', () => {
    expect(extractTraceContext({ headers: { traceparent: [TRACEPARENT, TRACEPARENT] } }, base)).toBe(base);
    const ctx = extractTraceContext({ headers: { traceparent: [TRACEPARENT], tracestate: ['a=1', 'b=2'] } }, base);
    expect(trace.getSpanContext(ctx)?.traceState?.serialize()).toBe('a=1,b=2');
  });
});

describe('injectTraceContext', () => {
  it('writes traceparent and tracestate of the context, keeps other keys, drops a stale tracestate', () => {
    const sc: SpanContext = { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1, traceState: createTraceState('k=v') };
    const meta: Record<string, unknown> = { progressToken: 7, traceparent: 'old', tracestate: 'old=1' };
    injectTraceContext(meta, trace.setSpanContext(context.active(), sc));
    expect(meta).toEqual({ progressToken: 7, traceparent: TRACEPARENT, tracestate: 'k=v' });
    injectTraceContext(meta, trace.setSpanContext(context.active(), { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 }));
    expect(meta).toEqual({ progressToken: 7, traceparent: TRACEPARENT });
  });

  it('changes nothing when the context has no valid span, so a copied traceparent passes through', () => {
    const meta: Record<string, unknown> = { traceparent: TRACEPARENT };
    injectTraceContext(meta, context.active());
    expect(meta).toEqual({ traceparent: TRACEPARENT });
  });
});

/** An upstream MCP server on 127.0.0.1 whose `meta` tool answers with the `_meta` it received. */
async function startMetaServer(): Promise<{ url: string; close(): Promise<void> }> {
  const http: Server = createServer((req, res) => {
    const server = new McpServer({ name: 'meta-recorder', version: '1.0.0' });
    server.registerTool('meta', { description: 'echoes params._meta' }, async (extra) => ({
      content: [{ type: 'text', text: JSON.stringify(extra._meta ?? {}) }],
    }));
    // Stateless: a server and transport per request.
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    server
      .connect(transport)
      .then(() => transport.handleRequest(req, res))
      .catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}

describe('trace context through the proxy: downstream _meta -> client span -> upstream _meta (real SDK upstream)', () => {
  let upstream: Awaited<ReturnType<typeof startMetaServer>>;
  let client: Client;
  let harness: ReturnType<typeof otelHarness>;

  beforeAll(async () => {
    upstream = await startMetaServer();
    client = new Client({ name: 'proxy', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(upstream.url)));
  });
  afterAll(async () => {
    await client.close();
    await upstream.close();
  });
  afterEach(async () => {
    await harness.shutdown();
  });

  async function forward(downstreamMeta: Record<string, unknown> | undefined, headers?: { traceparent?: string }) {
    const op = harness.telemetry.operationStart({
      method: 'tools/call',
      target: 'meta',
      gatewayId: 'recorder',
      transport: 'streamable-http',
      downstreamMeta,
      traceparent: headers?.traceparent,
    });
    const meta: Record<string, unknown> = { ...downstreamMeta };
    op.inject(meta);
    const result = await client.callTool({ name: 'meta', arguments: {}, _meta: meta });
    op.end();
    const text = (result.content as { type: string; text: string }[])[0]?.text ?? '{}';
    return JSON.parse(text) as Record<string, unknown>;
  }

  it('the upstream receives the proxy client span as parent, and that span is a child of the downstream caller', async () => {
    harness = otelHarness();
    const received = await forward({ traceparent: TRACEPARENT, tracestate: 'rojo=1', progressToken: 'p1' });
    const clientSpan = harness.span('tools/call meta');
    const upstreamParent = parseTraceparent(received.traceparent, received.tracestate);
    expect(upstreamParent?.traceId).toBe(TRACE_ID);
    expect(upstreamParent?.spanId).toBe(clientSpan.spanContext().spanId);
    expect(received.tracestate).toBe('rojo=1');
    expect(received.progressToken).toBe('p1');
    expect(clientSpan.parentSpanContext).toMatchObject({ traceId: TRACE_ID, spanId: SPAN_ID, isRemote: true });
  });

  it('the HTTP traceparent header continues the trace when _meta has none', async () => {
    harness = otelHarness();
    const received = await forward(undefined, { traceparent: TRACEPARENT });
    const clientSpan = harness.span('tools/call meta');
    expect(clientSpan.parentSpanContext?.spanId).toBe(SPAN_ID);
    expect(parseTraceparent(received.traceparent)?.traceId).toBe(TRACE_ID);
    expect(received.tracestate).toBeUndefined();
  });

  it('without a downstream trace the client span starts a new trace that the upstream continues', async () => {
    harness = otelHarness();
    const received = await forward({});
    const clientSpan = harness.span('tools/call meta');
    expect(clientSpan.parentSpanContext).toBeUndefined();
    expect(parseTraceparent(received.traceparent)?.spanId).toBe(clientSpan.spanContext().spanId);
  });
});
