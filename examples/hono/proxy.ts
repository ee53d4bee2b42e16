/**
 * An MCP proxy on Hono (served by @hono/node-server here; the MCP wiring is
 * Web-standard and runs unchanged on Bun, Deno or Workers): stateful
 * Streamable HTTP downstream sessions, each bridged to its own upstream
 * sessions by mcp-upstream-registry. The framework-neutral half (registry,
 * bridge, shutdown) is ../shared/proxy-core.ts.
 */
import { getRequestListener } from '@hono/node-server';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { type DownstreamSessions, checkHostAndOrigin, coalesceResponse } from 'mcp-upstream-registry/bridge';
import type { UpstreamSessionRegistry } from 'mcp-upstream-registry';
import type { ProxyOptions, RunningProxy } from '../shared/main.js';
import { startProxyCore } from '../shared/proxy-core.js';
import { rebuiltRequest } from '../shared/node-http.js';
import { DEFAULT_MAX_BODY_BYTES, adminRegistryAnswer, adminRefusal, readJsonBody } from '../shared/hardening.js';
import { adminSessionsAnswer, logMcpRequest } from '../shared/observability.js';

/** Options of {@link startProxy}. */
export type HonoProxyOptions = ProxyOptions;

/** A running Hono proxy. */
export interface HonoProxy extends RunningProxy {
  readonly registry: UpstreamSessionRegistry;
  readonly sessions: DownstreamSessions<WebStandardStreamableHTTPServerTransport>;
}

/** Starts the proxy on `host:port` (default 127.0.0.1, any free port). */
export async function startProxy(options: HonoProxyOptions): Promise<HonoProxy> {
  const core = await startProxyCore(options, (transportOptions) => new WebStandardStreamableHTTPServerTransport(transportOptions));
  const { url, worker, registry, sessions, allowedHosts } = core;

  const app = new Hono();
  if (allowedHosts) {
    const policy = { allowedHosts, allowedOrigins: options.allowedOrigins };
    app.use(async (c, next) => {
      const refused = checkHostAndOrigin(c.req.raw.headers, policy);
      if (refused) return c.json(refused.body, refused.status as ContentfulStatusCode);
      await next();
    });
  }
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  app.get('/admin/registry', (c) => {
    const answer = adminRegistryAnswer(c.req.header('authorization'), options.adminToken, () => registry.snapshot());
    return c.json(answer.body, answer.status as ContentfulStatusCode, { ...answer.headers });
  });
  app.get('/admin/sessions', (c) => {
    const query = { cursor: c.req.query('cursor'), limit: c.req.query('limit') };
    const answer = adminSessionsAnswer(c.req.header('authorization'), options.adminToken, registry, query);
    return c.json(answer.body, answer.status as ContentfulStatusCode, { ...answer.headers });
  });
  app.get('/metrics', async (c) => {
    const refused = adminRefusal(c.req.header('authorization'), options.adminToken);
    if (refused) return c.json(refused.body, refused.status as ContentfulStatusCode, { ...refused.headers });
    const metrics = await core.observability.metrics();
    return c.body(metrics.body, metrics.status as ContentfulStatusCode, metrics.headers);
  });
  const logger = options.logger;
  if (logger) {
    // Each MCP request logged once answered, on a child logger tagged with its session.
    app.use('/mcp', async (c, next) => {
      const started = Date.now();
      await next();
      const sessionId = c.req.header('mcp-session-id') ?? c.res.headers.get('mcp-session-id') ?? undefined;
      logMcpRequest(logger, c.req.method, sessionId, c.res.status, started);
    });
  }
  app.all('/mcp', async (c) => {
    let body: unknown;
    if (c.req.method === 'POST') {
      const read = await readJsonBody(c.req.raw, maxBodyBytes);
      if ('refused' in read) return c.json(read.refused.body, read.refused.status as ContentfulStatusCode);
      body = read.body;
    }
    const raw = c.req.raw;
    // The signal is read lazily: @hono/node-server makes a full Request (and an AbortSignal) when it is touched.
    const incoming = {
      method: c.req.method,
      headers: raw.headers,
      body,
      get signal() {
        return raw.signal;
      },
    };
    // A second round only when the owner named first did not take the request (see ClusterMember.forward).
    for (const retry of [true, false]) {
      const outcome = await sessions.dispatch(incoming, (transport) => transport.handleRequest(raw, { parsedBody: body }));
      // A POST's answer in one write where it can be (see coalesceResponse).
      if (outcome.kind === 'handled') return c.req.method === 'POST' ? coalesceResponse(outcome.value) : outcome.value;
      if (outcome.kind !== 'not-owner' || !worker) return c.json(outcome.body, outcome.status as ContentfulStatusCode, { ...outcome.headers });
      const { url: at, method, headers, signal } = c.req.raw;
      const response = await worker.forward(rebuiltRequest(at, method, headers, body, signal), outcome.owner, retry);
      if (response !== undefined) return response;
    }
    throw new Error('unreachable: the last round always answers');
  });

  core.serve(getRequestListener(app.fetch));

  return { url, registry, sessions, close: core.close };
}
