/**
 * The command-line entry both example proxies share: read the configuration
 * (or start the demo counter upstream when there is none), start the proxy,
 * and shut down cleanly on SIGINT / SIGTERM.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { TracerProvider } from '@opentelemetry/api';
import type { EventStore } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { BridgeBehaviour, BridgeGateway, DownstreamSessionsOptions, DownstreamTransport } from 'mcp-upstream-registry/bridge';
import { type Logger, type RegistryOptions, redactUrl } from 'mcp-upstream-registry';
import { type ClusterOptions, clusterFromEnv } from './cluster.js';
import { describeNamespace, listenAddress, loadConfig } from './config.js';
import { startCounterUpstream } from './counter-upstream.js';
import { ADMIN_TOKEN_ENV } from './hardening.js';
import { jsonLogger } from './observability.js';
import type { HttpTimeouts } from './node-http.js';

/** What both examples' `startProxy` return. */
export interface RunningProxy {
  /** The MCP endpoint, e.g. `http://127.0.0.1:3000/mcp`. */
  readonly url: string;
  /**
   * Ends every downstream session, closes every upstream session, stops
   * listening. With `{ handover: true }` (a worker of a cluster restarting) the
   * sessions are handed over to the other workers instead, upstream state intact.
   */
  close(options?: { readonly handover?: boolean }): Promise<void>;
}

/** Options both examples' `startProxy` accept. */
export interface ProxyStartOptions {
  readonly gateways: readonly BridgeGateway[];
  readonly host?: string;
  readonly port?: number;
  /** Run as one of many workers (see cluster.ts); default: a single process. */
  readonly cluster?: ClusterOptions;
  /** How the bridge serves each session (namespacing, identity...); the config file sets namespacing. */
  readonly bridge?: BridgeBehaviour;
}

/** The downstream session table's limits (see `DownstreamSessionsOptions`). */
export type DownstreamLimits = Pick<
  DownstreamSessionsOptions<DownstreamTransport>,
  'maxSessions' | 'idleTimeoutMs' | 'keepAliveWhileStreaming' | 'keepAliveIntervalMs'
>;

/** Options both example proxies take. */
export interface ProxyOptions extends ProxyStartOptions {
  /** Keeps the SSE events sent so a client can resume a dropped stream (`Last-Event-ID`). Default: a `MemoryEventStore` (a Redis one on a cluster). */
  readonly eventStore?: EventStore;
  /** Allowed Host names; default: the loopback names when bound to a loopback address, else no check. */
  readonly allowedHosts?: readonly string[];
  /**
   * Allowed Origin values, exactly (scheme, host and port). Default: only the
   * proxy's own origin (same host and port as the Host header).
   */
  readonly allowedOrigins?: readonly string[];
  /** Largest request body accepted; larger ones get 413 and are not forwarded. Default 4 MiB. */
  readonly maxBodyBytes?: number;
  /** Request and header timeouts: a client that sends slower is cut off (408). */
  readonly timeouts?: HttpTimeouts;
  /**
   * Token required (`Authorization: Bearer <token>`) by `GET /admin/registry`;
   * without one the endpoint is off. The command line reads `MCP_ADMIN_TOKEN`.
   */
  readonly adminToken?: string;
  /**
   * Downstream session limits. The examples keep upstream sessions of
   * sessions with an open stream alive (`keepAliveWhileStreaming: true`).
   */
  readonly downstream?: DownstreamLimits;
  /** Registry options (the factory is the proxy's). Default `onSessionLost: 'fail'`. */
  readonly registry?: Omit<RegistryOptions<Client>, 'factory'>;
  readonly logger?: Logger;
  /** Where the proxy's spans go. Default: the global tracer provider (a no-op until the app registers an OTel SDK). */
  readonly tracerProvider?: TracerProvider;
}

/** Runs `startProxy` as a command-line program; a bad configuration prints its error and exits 1. */
export function runMain(name: string, startProxy: (options: ProxyStartOptions & Pick<ProxyOptions, 'adminToken' | 'logger'>) => Promise<RunningProxy>): void {
  run(name, startProxy).catch((error: unknown) => {
    console.error(`${name} MCP proxy failed to start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}

async function run(name: string, startProxy: (options: ProxyStartOptions & Pick<ProxyOptions, 'adminToken' | 'logger'>) => Promise<RunningProxy>): Promise<void> {
  const config = loadConfig();
  const cluster = clusterFromEnv();
  // Every worker must serve the same upstreams; a demo upstream per worker would not be shared.
  if (cluster && config === undefined) throw new Error('REDIS_URL is set: configure the shared upstreams with MCP_GATEWAYS or MCP_PROXY_CONFIG');
  const demo = config === undefined ? await startCounterUpstream() : undefined;
  if (demo) console.log(`No MCP_PROXY_CONFIG or MCP_GATEWAYS given: started the demo counter upstream at ${demo.url}`);
  const gateways = config?.gateways ?? [{ id: 'counter', url: demo?.url as string }];
  const adminToken = process.env[ADMIN_TOKEN_ENV] || undefined;
  // A cluster worker keeps the stderr JSON lines its launcher follows (see cluster.ts).
  const logger = cluster ? undefined : jsonLogger();
  const proxy = await startProxy({
    gateways,
    ...(logger && { logger }),
    ...(config ?? listenAddress()),
    ...(cluster && { cluster }),
    ...(adminToken && { adminToken }),
  });
  const names = describeNamespace(gateways, config?.bridge ?? {});
  const role = cluster ? ` as worker ${cluster.workerId ?? '(random id)'} on ${redactUrl(cluster.redisUrl)}` : '';
  console.log(`${name} MCP proxy listening on ${proxy.url}${role} (gateways: ${gateways.map((g) => g.id).join(', ')}; ${names})`);
  const admin = proxy.url.replace(/\/mcp$/, '/admin/registry');
  const endpoints = `${admin}, /admin/sessions, /metrics`;
  console.log(adminToken ? `Operator endpoints: ${endpoints} (Authorization: Bearer $${ADMIN_TOKEN_ENV})` : `Set ${ADMIN_TOKEN_ENV} to enable ${endpoints}`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    // A worker of a cluster hands its sessions over (a rolling restart loses no upstream state); a single process ends them.
    const handover = cluster !== undefined;
    console.log(`${signal}: ${handover ? 'handing sessions over to the other workers' : 'closing downstream and upstream sessions'}...`);
    // Proxy first: it DELETEs its upstream sessions, which needs the upstream alive.
    proxy
      .close({ handover })
      .then(() => demo?.close())
      .then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}
