/**
 * An MCP proxy on Hono (served by @hono/node-server here; the MCP wiring is
 * Web-standard and runs unchanged on Bun, Deno or Workers): stateful
 * Streamable HTTP downstream sessions, each bridged to its own upstream
 * sessions by mcp-upstream-registry.
 */
import { getRequestListener } from '@hono/node-server';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import {
  BridgeHub,
  DownstreamSessions,
  LOOPBACK_HOSTS,
  checkHostAndOrigin,
  isLoopbackHost,
} from '../../src/bridge/index.js';
import { UpstreamSessionRegistry, forwardToOwner, mcpSessionFactory } from '../../src/index.js';
import { joinCluster, jsonLinesLogger } from '../shared/cluster.js';
import type { ProxyOptions, RunningProxy } from '../shared/main.js';
import { listenHttp, rebuiltRequest } from '../shared/node-http.js';

/** Options of {@link startProxy}. */
export type HonoProxyOptions = ProxyOptions;

/** A running Hono proxy. */
export interface HonoProxy extends RunningProxy {
  readonly registry: UpstreamSessionRegistry;
  readonly sessions: DownstreamSessions<WebStandardStreamableHTTPServerTransport>;
}

const PARSE_ERROR = { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } };

/** Starts the proxy on `host:port` (default 127.0.0.1, any free port). */
export async function startProxy(options: HonoProxyOptions): Promise<HonoProxy> {
  const host = options.host ?? '127.0.0.1';
  // Listen first: a worker publishes the address it listens on.
  const { server, url } = await listenHttp(host, options.port ?? 0);
  const worker = options.cluster && (await joinCluster(options.cluster, url, options.gateways, options.logger ?? jsonLinesLogger()));
  const hub = new BridgeHub({ logger: options.logger });
  const registry = new UpstreamSessionRegistry<Client>({
    onSessionLost: 'fail',
    ...options.registry,
    ...(worker && { affinity: worker.affinity }),
    factory: mcpSessionFactory({ configureClient: hub.configureClient, ...(worker && { sessionStore: worker.sessionStore }) }),
  });
  const sessions = new DownstreamSessions<WebStandardStreamableHTTPServerTransport>({
    hub,
    registry,
    gateways: options.gateways,
    bridge: options.bridge,
    createTransport: (transportOptions) => new WebStandardStreamableHTTPServerTransport(transportOptions),
    ...(worker && { locateSession: worker.locateSession }),
  });
  const allowedHosts = options.allowedHosts ?? (isLoopbackHost(host) ? LOOPBACK_HOSTS : undefined);

  const app = new Hono();
  if (allowedHosts) {
    const policy = { allowedHosts, allowedOrigins: options.allowedOrigins };
    app.use(async (c, next) => {
      const refused = checkHostAndOrigin(c.req.raw.headers, policy);
      if (refused) return c.json(refused.body, refused.status as ContentfulStatusCode);
      await next();
    });
  }
  app.get('/admin/registry', (c) => c.json(registry.snapshot()));
  app.all('/mcp', async (c) => {
    let body: unknown;
    if (c.req.method === 'POST') {
      try {
        body = await c.req.json();
      } catch {
        return c.json(PARSE_ERROR, 400);
      }
    }
    const outcome = await sessions.dispatch(
      { method: c.req.method, headers: c.req.raw.headers, body, signal: c.req.raw.signal },
      (transport) => transport.handleRequest(c.req.raw, { parsedBody: body }),
    );
    if (outcome.kind === 'handled') return outcome.value;
    if (outcome.kind === 'not-owner' && worker) {
      const { url: at, method, headers, signal } = c.req.raw;
      return forwardToOwner(rebuiltRequest(at, method, headers, body, signal), outcome.owner);
    }
    return c.json(outcome.body, outcome.status as ContentfulStatusCode, { ...outcome.headers });
  });

  server.on('request', getRequestListener(app.fetch));

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    await sessions.closeAll(); // ends downstream streams, evicts (DELETEs) upstream sessions
    await registry.closeAll();
    await hub.close();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  };
  return { url, registry, sessions, close: () => (closing ??= close()) };
}
