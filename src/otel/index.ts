/**
 * `mcp-upstream-registry/otel`: OpenTelemetry metrics and traces for the
 * registry, the session bridge and `forwardToOwner`, following the
 * OpenTelemetry MCP semantic conventions, plus W3C trace-context helpers for
 * MCP `params._meta`. Needs `@opentelemetry/api` (an optional peer
 * dependency); the app brings the OpenTelemetry SDK and its exporters.
 *
 * @module
 */

export { otelTelemetry, mcpSpanName } from './otel-telemetry.js';
export type { OtelTelemetry, OtelTelemetryOptions } from './otel-telemetry.js';
export { extractTraceContext, formatTraceparent, injectTraceContext, parseTraceparent } from './trace-context.js';
export type { TraceCarrier, TraceHeaders } from './trace-context.js';
export { errorType } from './error-type.js';
export { ATTR, INSTRUMENTATION_SCOPE, METRIC, SPAN } from './names.js';
export type {
  AcquireOutcome,
  ClaimOutcome,
  CloseAllTelemetrySpan,
  ConnectionCloseOutcome,
  CreateOutcome,
  ForwardOutcome,
  ForwardTelemetrySpan,
  McpOperation,
  McpOperationSpan,
  ProbeOutcome,
  ProbeTelemetrySpan,
  ProxyTelemetry,
  RegistryTelemetry,
  RegistryTelemetrySource,
  TelemetrySpan,
  TelemetrySubject,
} from '../telemetry.js';
