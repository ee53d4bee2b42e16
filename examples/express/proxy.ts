/**
 * An MCP proxy on Express: stateful Streamable HTTP downstream sessions, each
 * bridged to its own upstream sessions by mcp-upstream-registry. With
 * `cluster`, one of many workers: see ../shared/cluster.ts. The
 * framework-neutral half (registry, bridge, shutdown) is ../shared/proxy-core.ts.
 */
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import express, { type NextFunction, type Request, type Response } from 'express';
import { type DownstreamSessions, checkHostAndOrigin } from 'mcp-upstream-registry/bridge';
import type { UpstreamSessionRegistry } from 'mcp-upstream-registry';
import type { ProxyOptions, RunningProxy } from '../shared/main.js';
import { startProxyCore } from '../shared/proxy-core.js';
import { forwardNodeRequest } from '../shared/node-http.js';

/** Options of {@link startProxy}. */
export type ExpressProxyOptions = ProxyOptions;

/** A running Express proxy. */
export interface ExpressProxy extends RunningProxy {
  readonly registry: UpstreamSessionRegistry;
  readonly sessions: DownstreamSessions<StreamableHTTPServerTransport>;
}

/** Starts the proxy on `host:port` (default 127.0.0.1, any free port). */
export async function startProxy(options: ExpressProxyOptions): Promise<ExpressProxy> {
  const core = await startProxyCore(options, (transportOptions) => new StreamableHTTPServerTransport(transportOptions));
  const { server, url, worker, registry, sessions, allowedHosts } = core;

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

  return { url, registry, sessions, close: core.close };
}
