/**
 * What both example proxies share: listen, join the cluster (when configured),
 * build the bridge hub, the registry and the downstream session table, and
 * shut all of it down in order. The framework-specific part is the HTTP app.
 */
import type { Server } from 'node:http';
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
  /** Host names to accept; undefined: no Host/Origin check (not bound to loopback). */
  readonly allowedHosts: readonly string[] | undefined;
  /** OpenTelemetry metrics (served on `/metrics`) and spans of the registry and the bridge. */
  readonly observability: ProxyObservability;
  /** Ends downstream sessions, then upstream sessions (DELETE), then the server. Idempotent. */
  close(): Promise<void>;
}

/** HTTP and SSE gateways through the default factory, stdio gateways as child processes of this worker. */
function upstreamFactory(hub: BridgeHub, worker: ClusterMember | false | undefined) {
  const http = mcpSessionFactory({ configureClient: hub.configureClient, ...(worker && { sessionStore: worker.sessionStore }) });
  return factoryByTransport({ 'streamable-http': http, sse: http, stdio: stdioSessionFactory({ configureClient: hub.configureClient }) });
}

/** Starts the shared half of a proxy on `host:port` (default 127.0.0.1, any free port). */
export async function startProxyCore<T extends DownstreamTransport>(
  options: ProxyOptions,
  createTransport: (transportOptions: SessionTransportOptions) => T,
): Promise<ProxyCore<T>> {
  const host = options.host ?? '127.0.0.1';
  // Listen first: a worker publishes the address it listens on.
  const { server, url } = await listenHttp(host, options.port ?? 0, options.timeouts);
  const worker = options.cluster && (await joinCluster(options.cluster, url, options.gateways, options.logger ?? jsonLinesLogger()));
  const hub = new BridgeHub({ logger: options.logger });
  const observability = proxyObservability(options.tracerProvider);
  const { telemetry } = observability;
  const registry = new UpstreamSessionRegistry<Client>({
    onSessionLost: 'fail',
    telemetry,
    ...options.registry,
    ...(worker && { affinity: worker.affinity }),
    factory: upstreamFactory(hub, worker),
  });
  const sessions = new DownstreamSessions<T>({
    hub,
    registry,
    gateways: options.gateways,
    bridge: { telemetry, ...options.bridge },
    createTransport,
    keepAliveWhileStreaming: true,
    ...options.downstream,
    ...(options.logger && { logger: options.logger }),
    eventStore: options.eventStore ?? worker?.eventStore ?? new MemoryEventStore(),
    ...(worker && { locateSession: worker.locateSession }),
  });
  const allowedHosts = options.allowedHosts ?? (isLoopbackHost(host) ? LOOPBACK_HOSTS : undefined);

  let closing: Promise<void> | undefined;
  const shutdown = async (): Promise<void> => {
    await sessions.closeAll(); // ends downstream streams, evicts (DELETEs) upstream sessions
    await registry.closeAll(); // also closes the affinity: gives up ownership, stops the heartbeat
    await hub.close();
    await observability.close();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
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
    close: () => (closing ??= shutdown()),
  };
}
