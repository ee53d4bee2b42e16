/**
 * `mcp-upstream-registry`: one upstream MCP client session per (downstream
 * session, gateway). Runtime-neutral: no `node:` imports here; Node-only parts
 * live at `mcp-upstream-registry/stdio` and `mcp-upstream-registry/redis`.
 *
 * @module
 */

// The registry
export { UpstreamSessionRegistry } from './registry/index.js';
export type { AcquireOptions } from './registry/index.js';
export type { RegistryOptions, OverflowPolicy, CreateBackoffOptions } from './options.js';
export type { SessionLease } from './lease.js';
export type { SessionInfo, SessionState } from './session.js';
export type { RegistrySnapshot, SessionSnapshot, GatewaySnapshot, RegistryTotals } from './snapshot.js';

// Requests and headers
export { SessionCreateRequest, sessionKey } from './request.js';
export type { SessionCreateRequestInit, SessionCreateRequestJSON, StdioCommand, TransportType } from './request.js';
export {
  FORBIDDEN_UPSTREAM_HEADERS,
  HOP_BY_HOP_HEADERS,
  applyHeaderPolicy,
  downstreamSessionIdFrom,
  isForbiddenUpstreamHeader,
  isValidMcpSessionId,
} from './headers.js';
export { INVALID_URL, redactText, redactUrl } from './redact.js';
export { sha256Hex } from './hash.js';

// Session factories
export type { CloseContext, FactoryContext, SessionFactory, UpstreamConnection } from './factory.js';
export { DEFAULT_HOP_HEADER, forwardToOwner } from './forward.js';
export type { ForwardOptions } from './forward.js';
export { mcpSessionFactory } from './mcp/factory.js';
export { factoryByTransport } from './factory-by-transport.js';
export type { FactoriesByTransport } from './factory-by-transport.js';
export type { McpSessionFactoryOptions } from './mcp/factory.js';
export type { UpstreamSessionRecord, UpstreamSessionStore } from './mcp/session-store.js';

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

// Session bridge: serve one downstream MCP session through the registry
export {
  affinityLocator,
  markTransportInitialized,
  BridgeHub,
  DEFAULT_BRIDGE_CAPABILITIES,
  DEFAULT_NAMESPACE_SEPARATOR,
  DownstreamSessions,
  ForwardedJsonRpcError,
  GatewayNamespace,
  LOOPBACK_HOSTS,
  REGISTRY_ERROR_JSONRPC_CODE,
  SESSION_NOT_FOUND_JSONRPC_CODE,
  SessionBridge,
  checkHostAndOrigin,
  httpStatusForError,
  isLoopbackHost,
  toJsonRpcError,
} from './bridge/index.js';
export type {
  AffinityLocatorOptions,
  SessionLocation,
  BridgeBehaviour,
  BridgeConnectOptions,
  BridgeGateway,
  BridgeHubOptions,
  BridgeRegistry,
  BridgeRejection,
  DispatchOutcome,
  DownstreamExtra,
  DownstreamSession,
  DownstreamSessionsOptions,
  DownstreamTransport,
  GatewayContext,
  HeaderSource,
  HostOriginPolicy,
  HttpErrorOptions,
  HttpErrorResponse,
  IncomingHeaders,
  IncomingMcpRequest,
  JsonRpcErrorObject,
  NamespaceMode,
  NamespacedTarget,
  SessionBridgeOptions,
  SessionTransportOptions,
} from './bridge/index.js';

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

// Time and logging seams
export { systemClock } from './clock.js';
export type { Clock, ClockTimer } from './clock.js';
export { silentLogger } from './logger.js';
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
