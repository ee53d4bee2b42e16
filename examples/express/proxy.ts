/**
 * An MCP proxy on Express: stateful Streamable HTTP downstream sessions, each
 * bridged to its own upstream sessions by mcp-upstream-registry.
 */
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import express, { type NextFunction, type Request, type Response } from 'express';
import {
  type BridgeBehaviour,
  BridgeHub,
  DownstreamSessions,
  LOOPBACK_HOSTS,
  checkHostAndOrigin,
  isLoopbackHost,
} from '../../src/bridge/index.js';
import { type Logger, type RegistryOptions, UpstreamSessionRegistry, mcpSessionFactory } from '../../src/index.js';
import type { ProxyStartOptions, RunningProxy } from '../shared/main.js';

/** Options of {@link startProxy}. */
export interface ExpressProxyOptions extends ProxyStartOptions {
  /** Allowed Host names; default: the loopback names when bound to a loopback address, else no check. */
  readonly allowedHosts?: readonly string[];
  /** Allowed Origin values; default: any origin on an allowed host. */
  readonly allowedOrigins?: readonly string[];
  /** Registry options (the factory is the proxy's). Default `onSessionLost: 'fail'`. */
  readonly registry?: Omit<RegistryOptions<Client>, 'factory'>;
  readonly bridge?: BridgeBehaviour;
  readonly logger?: Logger;
}

/** A running Express proxy. */
export interface ExpressProxy extends RunningProxy {
  readonly registry: UpstreamSessionRegistry;
  readonly sessions: DownstreamSessions<StreamableHTTPServerTransport>;
}

/** Starts the proxy on `host:port` (default 127.0.0.1, any free port). */
export async function startProxy(options: ExpressProxyOptions): Promise<ExpressProxy> {
  const host = options.host ?? '127.0.0.1';
  const hub = new BridgeHub({ logger: options.logger });
  const registry = new UpstreamSessionRegistry<Client>({
    onSessionLost: 'fail',
    ...options.registry,
    factory: mcpSessionFactory({ configureClient: hub.configureClient }),
  });
  const sessions = new DownstreamSessions<StreamableHTTPServerTransport>({
    hub,
    registry,
    gateways: options.gateways,
    bridge: options.bridge,
    createTransport: (transportOptions) => new StreamableHTTPServerTransport(transportOptions),
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
    // 'not-owner' needs a multi-worker setup (see docs/bridge.md); answered with its 421 here.
    if (outcome.kind !== 'handled') res.status(outcome.status).set(outcome.headers).json(outcome.body);
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

  const server: HttpServer = await new Promise((resolve, reject) => {
    const s = app.listen(options.port ?? 0, host, (error?: Error) => (error ? reject(error) : resolve(s)));
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/mcp`;

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
