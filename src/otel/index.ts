/**
 * `mcp-upstream-registry/otel`: OpenTelemetry metrics and traces for the
 * registry, the session bridge and `forwardToOwner`, following the
 * OpenTelemetry MCP semantic conventions, plus W3C trace-context helpers for
 * MCP `params._meta`. Needs `@opentelemetry/api` (an optional peer
 * dependency); the app brings the OpenTelemetry SDK and its exporters. The
 * hook types it implements (`RegistryTelemetry`, `ProxyTelemetry`, …) are
 * exported by the root entry.
 *
 * @module
 */

export { otelTelemetry } from './otel-telemetry.js';
export { mcpSpanName } from './attributes.js';
export type { OtelTelemetry, OtelTelemetryOptions } from './otel-telemetry.js';
export { extractTraceContext, formatTraceparent, injectTraceContext, parseTraceparent } from './trace-context.js';
export type { TraceCarrier, TraceHeaders } from './trace-context.js';
export { errorType } from './error-type.js';
export { ATTR, INSTRUMENTATION_SCOPE, METRIC, SPAN } from './names.js';
