/**
 * Options of a session bridge and their validation.
 *
 * @module
 */

import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Implementation, ServerCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { InvalidOptionsError } from '../errors.js';
import type { RegistryEvents } from '../events.js';
import { isValidMcpSessionId } from '../headers.js';
import { implementationOption, PACKAGE_VERSION } from '../internal/client-info.js';
import {
  assertKnownKeys,
  flag,
  isRecord,
  milliseconds,
  numberIn,
  optionalRecord,
  optionalString,
  optionsObject,
  withMethods,
} from '../internal/validate.js';
import { SessionCreateRequest, type SessionCreateRequestInit } from '../request.js';
import type { SessionInfo } from '../session.js';
import { showValue } from '../show-value.js';
import type { ProxyTelemetry } from '../telemetry.js';
import { GatewayNamespace, type NamespaceMode } from './namespace.js';
import { DEFAULT_PARTIAL_LIST_RETRY_MS } from './partial-lists.js';

/**
 * One upstream MCP server as the proxy configures it: its id plus everything a
 * `SessionCreateRequestInit` holds except the downstream session id.
 */
export interface BridgeGateway extends Omit<SessionCreateRequestInit, 'downstreamSessionId' | 'gatewayId'> {
  /** The gateway id; also the namespace prefix of its names with several gateways. */
  readonly id: string;
}

/**
 * What a bridge needs from the registry: `UpstreamSessionRegistry` with the SDK
 * `Client` (the default) satisfies it.
 */
export interface BridgeRegistry {
  use<T>(
    init: SessionCreateRequestInit | SessionCreateRequest,
    fn: (client: Client, info: SessionInfo) => Promise<T>,
    opts?: { signal?: AbortSignal },
  ): Promise<T>;
  evictSession(downstreamSessionId: string): Promise<number>;
  /**
   * Refreshes the idle expiry of this downstream session's upstream sessions;
   * returns how many. Optional: `DownstreamSessions` calls it for sessions
   * whose stream is open (`keepAliveWhileStreaming`).
   */
  touch?(downstreamSessionId: string): number;
  on<K extends keyof RegistryEvents>(type: K, handler: (event: RegistryEvents[K]) => void): void;
  off<K extends keyof RegistryEvents>(type: K, handler: (event: RegistryEvents[K]) => void): void;
}

/** How a bridge serves its downstream session; the parts that are the same for every session of a proxy. */
export interface BridgeBehaviour {
  /** `'auto'` (default): prefix names only with several gateways. `'always'`: prefix even one gateway's names. */
  namespace?: NamespaceMode;
  /** Between gateway id and name. Default `'__'`. */
  namespaceSeparator?: string;
  /**
   * What the downstream client sees in `initialize`. Default: with one gateway,
   * the upstream's own `serverInfo`; with several (or when unknown),
   * `{ name: 'mcp-upstream-registry-bridge', version: '0.1.0' }`.
   */
  serverInfo?: Implementation;
  /**
   * Capabilities announced downstream. Default: what the upstreams announced
   * in their `initialize` (one gateway: its own; several: the union, so nothing
   * is announced that no gateway offers), limited to tools, prompts, resources,
   * completions and logging. When no upstream's capabilities are known (a
   * session resumed on another worker): {@link DEFAULT_BRIDGE_CAPABILITIES}.
   */
  capabilities?: ServerCapabilities;
  /**
   * Instructions returned in `initialize`. Default: one gateway's own; with
   * several, each gateway's under a `## <gateway id>` heading.
   */
  instructions?: string;
  /**
   * Send the downstream client's `clientInfo` (name, version) upstream in each
   * upstream `initialize` instead of the factory's. Default false. The client's
   * sampling, elicitation and roots capabilities are always passed on.
   */
  forwardClientInfo?: boolean;
  /**
   * When one gateway of several fails a list request, the others' items are
   * returned (marked with `_meta['mcp-upstream-registry/partial']`) and the
   * failed gateway is retried after this many ms, doubling up to 60 s, until it
   * answers; then the client gets `list_changed`. Default 5000.
   */
  partialListRetryMs?: number;
  /** Timeout of each request sent upstream, in ms; reset by progress. Default: the factory's (SDK: 60 000). */
  requestTimeoutMs?: number;
  /** Timeout of each request sent to the downstream client (sampling, elicitation, roots), in ms. Default 600 000. */
  clientRequestTimeoutMs?: number;
  /** `Retry-After` seconds when the registry is at capacity or closing. Default 5. */
  retryAfterSeconds?: number;
  /**
   * Send upstream server-to-client requests and logging messages on the response
   * stream of the downstream request that is waiting on that gateway (true, the
   * default), so clients without a standalone GET stream receive them. Set false
   * when the downstream transport runs with `enableJsonResponse`.
   */
  relateToRequests?: boolean;
  /**
   * Client spans and `mcp.client.operation.duration` for every request
   * forwarded upstream (e.g. `otelTelemetry()` from `mcp-upstream-registry/otel`);
   * the upstream request's `params._meta` then carries this span's trace
   * context. Without it, a `traceparent` in the downstream request's `_meta`
   * (or its HTTP `traceparent` header) is passed upstream as it came.
   */
  telemetry?: ProxyTelemetry;
}

/** Options of `BridgeHub.createBridge`. Unknown keys are rejected. */
export interface SessionBridgeOptions extends BridgeBehaviour {
  /** The registry holding the upstream sessions. Its factory must use the hub's `configureClient`. */
  registry: BridgeRegistry;
  /** The downstream MCP session this bridge serves: 1 to 256 visible ASCII characters. */
  downstreamSessionId: string;
  /** The upstream servers, at least one, with unique ids. */
  gateways: readonly BridgeGateway[];
}

/** {@link SessionBridgeOptions} after validation. */
export interface ResolvedBridgeOptions {
  readonly registry: BridgeRegistry;
  readonly downstreamSessionId: string;
  readonly requests: ReadonlyMap<string, SessionCreateRequest>;
  readonly namespace: GatewayNamespace;
  /** `undefined`: taken from the upstreams. */
  readonly serverInfo: Implementation | undefined;
  readonly capabilities: ServerCapabilities | undefined;
  readonly instructions: string | undefined;
  readonly forwardClientInfo: boolean;
  readonly partialListRetryMs: number;
  readonly requestTimeoutMs: number | undefined;
  readonly clientRequestTimeoutMs: number;
  readonly retryAfterSeconds: number;
  readonly relateToRequests: boolean;
  readonly telemetry: ProxyTelemetry | undefined;
}

/** The downstream capabilities a bridge announces by default. */
export const DEFAULT_BRIDGE_CAPABILITIES: ServerCapabilities = Object.freeze({
  tools: { listChanged: true },
  prompts: { listChanged: true },
  resources: { subscribe: true, listChanged: true },
  completions: {},
  logging: {},
});

/** The downstream `serverInfo` when no upstream lends its own. */
export const DEFAULT_SERVER_INFO: Implementation = Object.freeze({ name: 'mcp-upstream-registry-bridge', version: PACKAGE_VERSION });
const DEFAULT_CLIENT_REQUEST_TIMEOUT_MS = 600_000;
const DEFAULT_RETRY_AFTER_SECONDS = 5;

const BEHAVIOUR_KEYS = [
  'namespace',
  'namespaceSeparator',
  'serverInfo',
  'capabilities',
  'instructions',
  'requestTimeoutMs',
  'clientRequestTimeoutMs',
  'retryAfterSeconds',
  'relateToRequests',
  'telemetry',
  'forwardClientInfo',
  'partialListRetryMs',
] as const;
const KNOWN_KEYS: ReadonlySet<string> = new Set([...BEHAVIOUR_KEYS, 'registry', 'downstreamSessionId', 'gateways']);

function checkRegistry(value: unknown): BridgeRegistry {
  if (value === undefined) throw new InvalidOptionsError('registry', 'is required');
  return withMethods<BridgeRegistry>('registry', value, ['use', 'evictSession', 'on', 'off']) as BridgeRegistry;
}

function checkGateways(value: unknown, downstreamSessionId: string): Map<string, SessionCreateRequest> {
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidOptionsError('gateways', `must be a non-empty array, got ${showValue(value)}`);
  }
  const requests = new Map<string, SessionCreateRequest>();
  value.forEach((gateway: unknown, index) => {
    if (!isRecord(gateway)) throw new InvalidOptionsError(`gateways[${index}]`, `must be an object, got ${showValue(gateway)}`);
    const { id, ...rest } = gateway;
    if (typeof id !== 'string') throw new InvalidOptionsError(`gateways[${index}].id`, `must be a string, got ${showValue(id)}`);
    if (requests.has(id)) throw new InvalidOptionsError(`gateways[${index}].id`, `duplicate gateway id ${showValue(id)}`);
    // SessionCreateRequest.from validates the rest and throws InvalidRequestError naming the field.
    requests.set(id, SessionCreateRequest.from({ ...(rest as object), downstreamSessionId, gatewayId: id }));
  });
  return requests;
}

function checkBehaviour(options: Record<string, unknown>): Omit<ResolvedBridgeOptions, 'registry' | 'downstreamSessionId' | 'requests' | 'namespace'> {
  const telemetry = options.telemetry;
  if (telemetry !== undefined) withMethods('telemetry', telemetry, ['operationStart']);
  return {
    serverInfo: implementationOption('serverInfo', options.serverInfo),
    capabilities: optionalRecord<ServerCapabilities>('capabilities', options.capabilities),
    instructions: optionalString('instructions', options.instructions),
    forwardClientInfo: flag('forwardClientInfo', options.forwardClientInfo, false),
    partialListRetryMs: milliseconds('partialListRetryMs', options.partialListRetryMs) ?? DEFAULT_PARTIAL_LIST_RETRY_MS,
    requestTimeoutMs: milliseconds('requestTimeoutMs', options.requestTimeoutMs),
    clientRequestTimeoutMs: milliseconds('clientRequestTimeoutMs', options.clientRequestTimeoutMs) ?? DEFAULT_CLIENT_REQUEST_TIMEOUT_MS,
    retryAfterSeconds: numberIn('retryAfterSeconds', options.retryAfterSeconds, 0, 86_400) ?? DEFAULT_RETRY_AFTER_SECONDS,
    relateToRequests: flag('relateToRequests', options.relateToRequests, true),
    telemetry: telemetry as ProxyTelemetry | undefined,
  };
}

/** Validates the behaviour part alone (unknown keys rejected), e.g. defaults given once to a session table. */
export function validateBridgeBehaviour(options: unknown): BridgeBehaviour {
  const behaviour = optionsObject('bridge', options);
  assertKnownKeys(behaviour, new Set(BEHAVIOUR_KEYS));
  checkBehaviour(behaviour);
  new GatewayNamespace([], { separator: behaviour.namespaceSeparator as string | undefined, mode: behaviour.namespace as NamespaceMode | undefined });
  return behaviour as BridgeBehaviour;
}

/**
 * Validates {@link SessionBridgeOptions} and builds one `SessionCreateRequest` per gateway.
 *
 * @throws InvalidOptionsError naming the first unknown or malformed option, or
 *   InvalidRequestError for a malformed gateway field.
 */
export function resolveBridgeOptions(options: SessionBridgeOptions): ResolvedBridgeOptions {
  if (!isRecord(options)) throw new InvalidOptionsError('options', `expected an object, got ${showValue(options)}`);
  assertKnownKeys(options, KNOWN_KEYS);
  const registry = checkRegistry(options.registry);
  const { downstreamSessionId } = options;
  if (typeof downstreamSessionId !== 'string' || !isValidMcpSessionId(downstreamSessionId)) {
    throw new InvalidOptionsError('downstreamSessionId', `must be 1 to 256 visible ASCII characters, got ${showValue(downstreamSessionId)}`);
  }
  const requests = checkGateways(options.gateways, downstreamSessionId);
  const namespace = new GatewayNamespace([...requests.keys()], {
    separator: options.namespaceSeparator,
    mode: options.namespace,
  });
  return Object.freeze({ registry, downstreamSessionId, requests, namespace, ...checkBehaviour(options as unknown as Record<string, unknown>) });
}
