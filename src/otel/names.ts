/**
 * Names of every instrument, span and attribute `otelTelemetry()` records.
 * Standard names follow the OpenTelemetry semantic conventions (GenAI / MCP,
 * network, error); everything the conventions do not cover lives under the
 * `mcp_upstream_registry.` namespace.
 *
 * @module
 */

/** The instrumentation scope (meter and tracer name). */
export const INSTRUMENTATION_SCOPE = 'mcp-upstream-registry';

/** Instrument names. */
export const METRIC = {
  /** Semconv: duration of an MCP request sent upstream (histogram, s). */
  operationDuration: 'mcp.client.operation.duration',
  /** Semconv: lifetime of an upstream MCP client session (histogram, s). */
  sessionDuration: 'mcp.client.session.duration',
  /** Live upstream sessions by gateway and state (observable gauge). */
  sessions: 'mcp_upstream_registry.sessions',
  /** Creates waiting for a concurrency slot, by gateway (observable gauge). */
  createQueueDepth: 'mcp_upstream_registry.create.queue_depth',
  /** Time left in the gateway's create backoff window (observable gauge, s). */
  createBackoffRemaining: 'mcp_upstream_registry.create.backoff_remaining',
  /** Backoff windows opened (counter). */
  createBackoffs: 'mcp_upstream_registry.create.backoffs',
  /** Acquires that left the warm path (histogram, s). */
  acquireDuration: 'mcp_upstream_registry.acquire.duration',
  /** Creates of upstream sessions (histogram, s). */
  createDuration: 'mcp_upstream_registry.create.duration',
  /** Health probes (histogram, s). */
  probeDuration: 'mcp_upstream_registry.probe.duration',
  /** Retirements by reason (counter). */
  retirements: 'mcp_upstream_registry.session.retirements',
  /** Lost upstream sessions (counter). */
  losses: 'mcp_upstream_registry.session.losses',
  /** Closes of retired connections (histogram, s). */
  closeDuration: 'mcp_upstream_registry.close.duration',
  /** `closeAll()` (histogram, s). */
  closeAllDuration: 'mcp_upstream_registry.close_all.duration',
  /** Connections `closeAll()` stopped waiting for (counter). */
  closeAllOrphans: 'mcp_upstream_registry.close_all.orphans',
  /** Affinity ownership claims (histogram, s). */
  claimDuration: 'mcp_upstream_registry.affinity.claim.duration',
  /** Requests forwarded to their owner worker (histogram, s). */
  forwardDuration: 'mcp_upstream_registry.forward.duration',
} as const;

/** Attribute keys. */
export const ATTR = {
  // semantic conventions
  mcpMethodName: 'mcp.method.name',
  genAiToolName: 'gen_ai.tool.name',
  genAiPromptName: 'gen_ai.prompt.name',
  genAiOperationName: 'gen_ai.operation.name',
  errorType: 'error.type',
  networkTransport: 'network.transport',
  networkProtocolName: 'network.protocol.name',
  rpcResponseStatusCode: 'rpc.response.status_code',
  httpResponseStatusCode: 'http.response.status_code',
  // library namespace
  gatewayId: 'mcp_upstream_registry.gateway.id',
  transport: 'mcp_upstream_registry.transport',
  connectionId: 'mcp_upstream_registry.connection.id',
  outcome: 'mcp_upstream_registry.outcome',
  state: 'mcp_upstream_registry.session.state',
  probeStep: 'mcp_upstream_registry.probe.step',
  retireReason: 'mcp_upstream_registry.retire.reason',
  lostPolicy: 'mcp_upstream_registry.lost.policy',
  orphans: 'mcp_upstream_registry.orphans',
} as const;

/** Span names of the registry (gateway ids are operator-configured, so bounded). */
export const SPAN = {
  acquire: (gatewayId: string) => `acquire ${gatewayId}`,
  create: (gatewayId: string) => `create ${gatewayId}`,
  probe: (gatewayId: string) => `probe ${gatewayId}`,
  close: (gatewayId: string) => `close ${gatewayId}`,
  claim: 'affinity claim',
  closeAll: 'closeAll',
  forward: 'forward to owner',
} as const;

/** Semconv-recommended buckets of `mcp.client.operation.duration`, in seconds. */
export const OPERATION_BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300];
/** Buckets of the registry's own short operations (create, probe, close, claim, acquire), in seconds. */
export const REGISTRY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Buckets of `mcp.client.session.duration`, in seconds (1 s to a day). */
export const SESSION_BUCKETS = [1, 10, 60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400];
