/**
 * What both example proxies share: listen, join the cluster (when configured),
 * build the bridge hub, the registry and the downstream session table, and
 * shut all of it down in order. The framework-specific part is the HTTP app.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  MemoryEventStore,
  BridgeHub,
  DownstreamSessions,
  type DownstreamTransport,
  LOOPBACK_HOSTS,
  type SessionTransportOptions,
  isLoopbackHost,
} from 'mcp-upstream-registry/bridge';
import { UpstreamSessionRegistry, factoryByTransport, mcpSessionFactory } from 'mcp-upstream-registry';
import { type NodeHttpFetch, nodeHttpFetch } from 'mcp-upstream-registry/node';
import { stdioSessionFactory } from 'mcp-upstream-registry/stdio';
import { type ClusterMember, joinCluster, jsonLinesLogger } from './cluster.js';
import type { ProxyOptions } from './main.js';
import { listenHttp } from './node-http.js';
import { type ProxyObservability, proxyObservability } from './observability.js';

/** The framework-neutral half of a running example proxy. */
export interface ProxyCore<T extends DownstreamTransport> {
  readonly server: Server;
  readonly url: string;
  /** Set when running as one of many workers. */
  readonly worker: ClusterMember | undefined;
  readonly registry: UpstreamSessionRegistry;
  readonly sessions: DownstreamSessions<T>;
  /** Starts answering with `handler` (until then every request gets 503 with `Retry-After`). */
  serve(handler: (req: IncomingMessage, res: ServerResponse) => void): void;
  /** Host names to accept; undefined: no Host/Origin check (not bound to loopback). */
  readonly allowedHosts: readonly string[] | undefined;
  /** OpenTelemetry metrics (served on `/metrics`) and spans of the registry and the bridge. */
  readonly observability: ProxyObservability;
  /**
   * Ends downstream sessions, then upstream sessions (DELETE), then the server.
   * With `{ handover: true }` (one of many workers restarting): stops taking
   * connections, lets requests in flight finish, and hands every session over
   * to the other workers, upstream state intact. Idempotent; the first call decides.
   */
  close(options?: { readonly handover?: boolean }): Promise<void>;
}

/** How long a handing-over worker lets the requests it forwards to other workers finish. */
const FORWARD_DRAIN_MS = 2_000;

function notReady(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1', connection: 'close' });
  res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Worker starting, retry later' } }));
}

/**
 * HTTP and SSE gateways through the default factory, stdio gateways as child
 * processes of this worker. Upstream HTTP goes through `nodeHttpFetch`: keep-alive
 * `node:http` instead of undici's `fetch`, a quarter of a forwarded call's CPU.
 */
function upstreamFactory(hub: BridgeHub, worker: ClusterMember | false | undefined, fetch: NodeHttpFetch) {
  // adoptClient: a warm spare (a gateway's `spares` in the config) gets its notification routes when a session takes it.
  const hooks = { configureClient: hub.configureClient, adoptClient: hub.adoptClient };
  const http = mcpSessionFactory({ fetch, ...hooks, ...(worker && { sessionStore: worker.sessionStore }) });
  return factoryByTransport({ 'streamable-http': http, sse: http, stdio: stdioSessionFactory(hooks) });
}

/** Starts the shared half of a proxy on `host:port` (default 127.0.0.1, any free port). */
export async function startProxyCore<T extends DownstreamTransport>(
  options: ProxyOptions,
  createTransport: (transportOptions: SessionTransportOptions) => T,
): Promise<ProxyCore<T>> {
  const host = options.host ?? '127.0.0.1';
  // Listen first: a worker publishes the address it listens on.
  const { server, url } = await listenHttp(host, options.port ?? 0, options.timeouts);
  // Until the app is mounted a request gets a retryable 503, never silence (a restarted worker's port takes traffic at once).
  server.on('request', notReady);
  // A worker logs (JSON lines on stderr) what a failover or a handover does.
  const logger = options.logger ?? (options.cluster ? jsonLinesLogger() : undefined);
  const worker = options.cluster && (await joinCluster(options.cluster, url, options.gateways, logger));
  const hub = new BridgeHub({ logger });
  const observability = proxyObservability(options.tracerProvider);
  const { telemetry } = observability;
  const upstreamFetch = nodeHttpFetch();
  const registry = new UpstreamSessionRegistry<Client>({
    onSessionLost: 'fail',
    telemetry,
    ...options.registry,
    ...(worker && { affinity: worker.affinity }),
    factory: upstreamFactory(hub, worker, upstreamFetch),
  });
  const sessions = new DownstreamSessions<T>({
    hub,
    registry,
    gateways: options.gateways,
    bridge: { telemetry, ...options.bridge },
    createTransport,
    keepAliveWhileStreaming: true,
    ...options.downstream,
    ...(logger && { logger }),
    eventStore: options.eventStore ?? worker?.eventStore ?? new MemoryEventStore(),
    // The client's initialize (capabilities, clientInfo) next to its upstream records: a resumed session keeps them.
    ...(worker && { locateSession: worker.locateSession, clientStore: worker.sessionStore }),
  });
  const allowedHosts = options.allowedHosts ?? (isLoopbackHost(host) ? LOOPBACK_HOSTS : undefined);

  let closing: Promise<void> | undefined;
  const shutdown = async (handover: boolean): Promise<void> => {
    // Handover: no new connections first (a load balancer moves on to the other workers).
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Ends downstream streams; evicts (DELETEs) upstream sessions, or with handover keeps them.
    const started = Date.now();
    await sessions.closeAll({ handover });
    if (handover) logger?.info({ durationMs: Date.now() - started, workerId: worker ? worker.affinity.workerId : undefined }, 'handover: downstream sessions drained');
    // Also closes the affinity: gives up ownership (with handover: keeping the upstream records), stops the heartbeat.
    await registry.closeAll({ handover });
    if (handover) logger?.info({ durationMs: Date.now() - started }, 'handover: upstream sessions detached, ownership given up');
    upstreamFetch.destroy();
    await hub.close();
    await observability.close();
    // Handover: requests this worker forwards to other owners run to their end (bounded), so no answer is cut.
    if (handover) await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, FORWARD_DRAIN_MS).unref())]);
    server.closeAllConnections();
    await closed;
  };
  return {
    server,
    url,
    worker: worker || undefined,
    registry,
    sessions,
    allowedHosts,
    observability,
    serve: (handler) => {
      server.off('request', notReady);
      server.on('request', handler);
    },
    close: (closeOptions) => (closing ??= shutdown(closeOptions?.handover === true)),
  };
}
