/**
 * `mcp-upstream-registry`: one upstream MCP client session per (downstream
 * session, gateway). Runtime-neutral: no `node:` imports here; Node-only parts
 * live at `mcp-upstream-registry/stdio` and `mcp-upstream-registry/redis`; the
 * session bridge for proxies (which loads the SDK's server) at
 * `mcp-upstream-registry/bridge`.
 *
 * @module
 */

// The registry
export { UpstreamSessionRegistry } from './registry/index.js';
export type { AcquireOptions, CloseAllOptions } from './registry/index.js';
export type { RegistryOptions, OverflowPolicy, CreateBackoffOptions } from './options.js';
export type { SessionLease } from './lease.js';
export type { SessionInfo, SessionState } from './session.js';
export type {
  RegistrySnapshot,
  SessionSnapshot,
  GatewaySnapshot,
  RegistryTotals,
  SnapshotOptions,
  SessionPageOptions,
  SessionPage,
} from './snapshot.js';

// Requests and headers
export { SessionCreateRequest } from './request.js';
export type { SessionCreateRequestInit, SessionCreateRequestJSON, StdioCommand, TransportType } from './request.js';
export {
  FORBIDDEN_UPSTREAM_HEADERS,
  HOP_BY_HOP_HEADERS,
  applyHeaderPolicy,
  downstreamSessionIdFrom,
  isForbiddenUpstreamHeader,
  isValidMcpSessionId,
} from './headers.js';
export { redactText, redactUrl } from './redact.js';

// Session factories
export type { CloseContext, FactoryContext, SessionFactory, UpstreamConnection } from './factory.js';
export { forwardToOwner } from './forward.js';
export type { ForwardOptions } from './forward.js';
export { mcpSessionFactory } from './mcp/factory.js';
export { factoryByTransport } from './factory-by-transport.js';
export type { FactoriesByTransport } from './factory-by-transport.js';
export type { McpClientOptions, McpSessionFactoryOptions } from './mcp/factory.js';
export type { DownstreamClientRecord, DownstreamClientStore, UpstreamSessionRecord, UpstreamSessionStore } from './mcp/session-store.js';

// Health probes and error classification
export { defaultProbeChain, runProbeChain } from './probe.js';
export type {
  ProbeChain,
  ProbeRequestOptions,
  ProbeResult,
  ProbeStep,
  ProbeStepOptions,
  ProbeableClient,
  RunProbeChainOptions,
} from './probe.js';
export { classifyError, isCapabilityNotAdvertised, isSessionGone } from './classify.js';
export type { ErrorClass } from './classify.js';

// Multi-worker ownership
export { LocalAffinity } from './affinity.js';
export type { Affinity, ClaimResult, WorkerInfo } from './affinity.js';

// Events
export type {
  GatewayBackoffEvent,
  RegistryEvents,
  RetireReason,
  SessionClosedEvent,
  SessionCreateFailedEvent,
  SessionCreatedEvent,
  SessionIdentity,
  SessionLostEvent,
  SessionLostPolicy,
  SessionOrphanedEvent,
  SessionProbedEvent,
  SessionReusedEvent,
  SessionRetiredEvent,
} from './events.js';

// Telemetry hooks (implemented by `mcp-upstream-registry/otel`)
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
} from './telemetry.js';

// Time and logging seams
export { systemClock } from './clock.js';
export type { Clock, ClockTimer } from './clock.js';
export type { Logger } from './logger.js';

// Errors
export {
  AffinityUnavailableError,
  CapacityError,
  CreateFailedError,
  InvalidOptionsError,
  InvalidRequestError,
  NotOwnerError,
  RegistryClosedError,
  RegistryError,
  SessionLostError,
  SessionRetiredError,
} from './errors.js';
export type { CapacityScope, RegistryErrorCode } from './errors.js';
