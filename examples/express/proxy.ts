/**
 * An MCP proxy on Express: stateful Streamable HTTP downstream sessions, each
 * bridged to its own upstream sessions by mcp-upstream-registry. With
 * `cluster`, one of many workers: see ../shared/cluster.ts. The
 * framework-neutral half (registry, bridge, shutdown) is ../shared/proxy-core.ts.
 */
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import express, { type NextFunction, type Request, type Response } from 'express';
import { type DownstreamSessions, checkHostAndOrigin, coalesceResponse } from 'mcp-upstream-registry/bridge';
import type { Logger, UpstreamSessionRegistry } from 'mcp-upstream-registry';
import type { ProxyOptions, RunningProxy } from '../shared/main.js';
import type { ClusterMember } from '../shared/cluster.js';
import { startProxyCore } from '../shared/proxy-core.js';
import { closeSignal, forwardNodeRequest, webHeaders, writeWebResponse } from '../shared/node-http.js';
import { DEFAULT_MAX_BODY_BYTES, PARSE_ERROR, adminRegistryAnswer, bodyTooLarge, adminRefusal } from '../shared/hardening.js';
import { adminSessionsAnswer, logMcpRequest } from '../shared/observability.js';

/** Options of {@link startProxy}. */
export type ExpressProxyOptions = ProxyOptions;

/** A running Express proxy. */
export interface ExpressProxy extends RunningProxy {
  readonly registry: UpstreamSessionRegistry;
  readonly sessions: DownstreamSessions<WebStandardStreamableHTTPServerTransport>;
  /** Set when running as one of many workers. */
  readonly worker: ClusterMember | undefined;
}

function stringParam(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * The request's path and query on the proxy's own origin. A request target in
 * absolute form (`POST http://elsewhere/mcp`) keeps its path only.
 */
function ownUrl(target: string, base: string): URL {
  const parsed = new URL(target, base);
  return new URL(parsed.pathname + parsed.search, base);
}

/** Logs each MCP request once answered, on a child logger tagged with its session. */
function logRequest(logger: Logger, method: string, sessionHeader: string | string[] | undefined, res: Response): void {
  const started = Date.now();
  res.on('finish', () => {
    const sessionId = typeof sessionHeader === 'string' ? sessionHeader : stringParam(res.getHeader('mcp-session-id'));
    logMcpRequest(logger, method, sessionId, res.statusCode, started);
  });
}

/** Starts the proxy on `host:port` (default 127.0.0.1, any free port). */
export async function startProxy(options: ExpressProxyOptions): Promise<ExpressProxy> {
  // The web-standard transport, answered through writeWebResponse: the SDK's Node transport wraps the same one
  // in @hono/node-server, which writes an SSE answer in three writes and waits a timer for each.
  const core = await startProxyCore(options, (transportOptions) => new WebStandardStreamableHTTPServerTransport(transportOptions));
  const { url, worker, registry, sessions, allowedHosts, observability } = core;

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
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  app.use(express.json({ limit: maxBodyBytes }));
  app.get('/admin/registry', (req, res) => {
    const answer = adminRegistryAnswer(req.headers.authorization, options.adminToken, () => registry.snapshot());
    res.status(answer.status).set(answer.headers).json(answer.body);
  });
  app.get('/admin/sessions', (req, res) => {
    const query = { cursor: stringParam(req.query.cursor), limit: stringParam(req.query.limit) };
    const answer = adminSessionsAnswer(req.headers.authorization, options.adminToken, registry, query);
    res.status(answer.status).set(answer.headers).json(answer.body);
  });
  app.get('/metrics', async (req, res) => {
    const refused = adminRefusal(req.headers.authorization, options.adminToken);
    if (refused) return void res.status(refused.status).set(refused.headers).json(refused.body);
    const metrics = await observability.metrics();
    res.status(metrics.status).set(metrics.headers).send(metrics.body);
  });
  app.all('/mcp', async (req: Request, res: Response) => {
    if (options.logger) logRequest(options.logger, req.method, req.headers['mcp-session-id'], res);
    const closed = closeSignal(res);
    const incoming = {
      method: req.method,
      headers: req.headers,
      body: req.body,
      get signal() {
        return closed.signal;
      },
    };
    // A second round only when the owner named first did not take the request (see ClusterMember.forward).
    for (const retry of [true, false]) {
      const outcome = await sessions.dispatch(incoming, (transport) =>
        // Only the URL's path and query matter to the transport; the origin is the proxy's own, never the Host header.
        transport.handleRequest(new Request(ownUrl(req.originalUrl, url), { method: req.method, headers: webHeaders(req) }), {
          parsedBody: req.body,
        }),
      );
      if (outcome.kind === 'not-owner' && worker) {
        if (await forwardNodeRequest(req, res, outcome.owner, req.body, (r, o) => worker.forward(r, o, retry))) return;
      } else if (outcome.kind === 'handled') {
        // A POST's answer in one write where it can be (see coalesceResponse).
        return writeWebResponse(res, req.method === 'POST' ? await coalesceResponse(outcome.value) : outcome.value);
      } else {
        res.status(outcome.status).set(outcome.headers).json(outcome.body);
        return;
      }
    }
  });
  app.use((error: Error & { type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return void res.end();
    const known = error.type === 'entity.too.large' ? bodyTooLarge(maxBodyBytes) : error.type === 'entity.parse.failed' ? PARSE_ERROR : undefined;
    if (known) return void res.status(known.status).json(known.body);
    res.status(500).json({ jsonrpc: '2.0', id: null, error: { code: -32603, message: 'Internal error' } });
  });

  core.serve(app);

  return { url, registry, sessions, worker, close: core.close };
}
