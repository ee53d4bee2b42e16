/**
 * An MCP proxy on Express: stateful Streamable HTTP downstream sessions, each
 * bridged to its own upstream sessions by mcp-upstream-registry. With
 * `cluster`, one of many workers: see ../shared/cluster.ts.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import express, { type NextFunction, type Request, type Response } from 'express';
import {
  BridgeHub,
  DownstreamSessions,
  LOOPBACK_HOSTS,
  checkHostAndOrigin,
  isLoopbackHost,
} from '../../src/bridge/index.js';
import { UpstreamSessionRegistry, mcpSessionFactory } from '../../src/index.js';
import { joinCluster, jsonLinesLogger } from '../shared/cluster.js';
import type { ProxyOptions, RunningProxy } from '../shared/main.js';
import { forwardNodeRequest, listenHttp } from '../shared/node-http.js';

/** Options of {@link startProxy}. */
export type ExpressProxyOptions = ProxyOptions;

/** A running Express proxy. */
export interface ExpressProxy extends RunningProxy {
  readonly registry: UpstreamSessionRegistry;
  readonly sessions: DownstreamSessions<StreamableHTTPServerTransport>;
}

/** Starts the proxy on `host:port` (default 127.0.0.1, any free port). */
export async function startProxy(options: ExpressProxyOptions): Promise<ExpressProxy> {
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
  const sessions = new DownstreamSessions<StreamableHTTPServerTransport>({
    hub,
    registry,
    gateways: options.gateways,
    bridge: options.bridge,
    createTransport: (transportOptions) => new StreamableHTTPServerTransport(transportOptions),
    ...(worker && { locateSession: worker.locateSession }),
  });
  const allowedHosts = options.allowedHosts ?? (isLoopbackHost(host) ? LOOPBACK_HOSTS : undefined);

  const app = express();
  app.disable('x-powered-by');
  if (allowedHosts) {
    const policy = { allowedHosts, allowedOrigins: options.allowedOrigins };
    app.use((req: Request, res: Response, next: NextFunction) => {
      const refused = checkHostAndOrigin(req.headers, policy);
      if (refused) res.status(refused.status).json(refused.body);
      else next();
    });
  }
  app.use(express.json({ limit: '4mb' }));
  app.get('/admin/registry', (_req, res) => {
    res.json(registry.snapshot());
  });
  app.all('/mcp', async (req: Request, res: Response) => {
    const aborted = new AbortController();
    res.on('close', () => aborted.abort());
    const outcome = await sessions.dispatch(
      { method: req.method, headers: req.headers, body: req.body, signal: aborted.signal },
      (transport) => transport.handleRequest(req, res, req.body),
    );
    if (outcome.kind === 'not-owner' && worker) await forwardNodeRequest(req, res, outcome.owner, req.body);
    else if (outcome.kind !== 'handled') res.status(outcome.status).set(outcome.headers).json(outcome.body);
  });
  app.use((error: Error & { type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    const parse = error.type === 'entity.parse.failed';
    if (res.headersSent) return void res.end();
    res.status(parse ? 400 : 500).json({
      jsonrpc: '2.0',
      id: null,
      error: { code: parse ? -32700 : -32603, message: parse ? 'Parse error' : 'Internal error' },
    });
  });

  server.on('request', app);

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    await sessions.closeAll(); // ends downstream streams, evicts (DELETEs) upstream sessions
    await registry.closeAll(); // also closes the affinity: gives up ownership, stops the heartbeat
    await hub.close();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  };
  return { url, registry, sessions, close: () => (closing ??= close()) };
}
