/**
 * The operator's view of the example proxies, shared by Express and Hono:
 * OpenTelemetry metrics served as Prometheus text on `GET /metrics`, the
 * registry's sessions on `GET /admin/sessions` (counts by gateway and state, a
 * paged listing that shows a session TAG, never a session id or header value),
 * and pino JSON logs with request-scoped child loggers.
 */
import type { TracerProvider } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { Logger, UpstreamSessionRegistry } from 'mcp-upstream-registry';
import { type OtelTelemetry, otelTelemetry } from 'mcp-upstream-registry/otel';
import { pino } from 'pino';
import { type PlainAnswer, adminAnswer, sessionTag } from './hardening.js';

/** The proxy's telemetry and the Prometheus reader behind `/metrics`. */
export interface ProxyObservability {
  /** Pass to the registry (`telemetry`) and to the bridge behaviour (`telemetry`). */
  readonly telemetry: OtelTelemetry;
  /** `GET /metrics`: the Prometheus text exposition of every instrument. */
  metrics(): Promise<{ status: number; headers: Record<string, string>; body: string }>;
  /** Stops the meter provider. */
  close(): Promise<void>;
}

/**
 * A meter provider read by a Prometheus exporter that does not listen itself
 * (the proxy serves `/metrics` on its own port). Spans go to `tracerProvider`
 * (default: the global one, a no-op until the app registers an OTel SDK).
 */
export function proxyObservability(tracerProvider?: TracerProvider): ProxyObservability {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const meterProvider = new MeterProvider({ readers: [exporter] });
  const serializer = new PrometheusSerializer();
  return {
    telemetry: otelTelemetry({ meterProvider, ...(tracerProvider && { tracerProvider }) }),
    async metrics() {
      const { resourceMetrics } = await exporter.collect();
      return { status: 200, headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }, body: serializer.serialize(resourceMetrics) };
    },
    close: () => meterProvider.shutdown(),
  };
}

/** One session in the `/admin/sessions` listing: a tag, never the downstream session id. */
export interface AdminSession {
  readonly session: string;
  readonly gateway: string;
  readonly state: string;
  readonly ageMs: number;
  readonly idleMs: number;
  readonly inFlight: number;
}

/**
 * `GET /admin/sessions?cursor=&limit=`: counts by gateway and state (O(gateways))
 * and one page of sessions; behind the admin token like `/admin/registry`.
 */
export function adminSessionsAnswer(
  authorization: string | undefined,
  adminToken: string | undefined,
  registry: UpstreamSessionRegistry,
  query: { cursor?: string | undefined; limit?: string | undefined },
): PlainAnswer {
  return adminAnswer(authorization, adminToken, (): PlainAnswer => {
    const counts = registry.snapshot({ sessions: false });
    let page: ReturnType<UpstreamSessionRegistry['sessions']>;
    try {
      page = registry.sessions({
        ...(query.cursor !== undefined && { cursor: query.cursor }),
        ...(query.limit !== undefined && { limit: Number(query.limit) }),
      });
    } catch (error) {
      return { status: 400, headers: {}, body: { error: error instanceof Error ? error.message : 'bad query' } };
    }
    const sessions: AdminSession[] = page.sessions.map((s) => ({
      session: sessionTag(s.downstreamSessionId),
      gateway: s.gatewayId,
      state: s.state,
      ageMs: s.ageMs,
      idleMs: s.idleMs,
      inFlight: s.inFlight,
    }));
    const body = {
      live: counts.live,
      creating: counts.creating,
      retiring: counts.retiring,
      gateways: counts.gateways,
      sessions,
      ...(page.nextCursor !== undefined && { nextCursor: page.nextCursor }),
    };
    return { status: 200, headers: { 'cache-control': 'no-store' }, body };
  });
}

/** The command line's logger: pino JSON lines on stdout (level from `LOG_LEVEL`, default info). */
export function jsonLogger(): Logger & { child(bindings: Record<string, unknown>): Logger } {
  return pino({ level: process.env.LOG_LEVEL ?? 'info' });
}

/**
 * A child logger for one MCP request: the downstream session's tag (never
 * its id), the method and path; no header values.
 */
function requestLogger(logger: Logger, method: string, sessionId: string | undefined): Logger {
  const bindings = { method, path: '/mcp', ...(sessionId !== undefined && { session: sessionTag(sessionId) }) };
  const parent = logger as Logger & { child?: (bindings: Record<string, unknown>) => Logger };
  return typeof parent.child === 'function' ? parent.child(bindings) : logger;
}

/** Logs one answered MCP request (`startedMs`: `Date.now()` when it came) on its session's child logger. */
export function logMcpRequest(logger: Logger, method: string, sessionId: string | undefined, status: number, startedMs: number): void {
  requestLogger(logger, method, sessionId).info({ status, durationMs: Date.now() - startedMs }, 'mcp request');
}
