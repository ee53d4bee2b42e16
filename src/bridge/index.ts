/**
 * `mcp-upstream-registry/bridge`: serve downstream MCP sessions through the
 * registry. {@link BridgeHub} and {@link SessionBridge} forward one downstream
 * session to its own upstream sessions; {@link DownstreamSessions} is the
 * session table of a Streamable HTTP proxy; the HTTP helpers map registry
 * errors and check Host / Origin. Loads the SDK's `Server`, which the root
 * entry does not.
 *
 * @module
 */

export type { AffinityLocatorOptions } from './affinity-locator.js';
export { affinityLocator } from './affinity-locator.js';
export type { BridgeBehaviour, BridgeGateway, BridgeRegistry, SessionBridgeOptions } from './bridge-options.js';
export { DEFAULT_BRIDGE_CAPABILITIES } from './bridge-options.js';
export { type CoalesceResponseOptions, coalesceResponse } from './coalesce-response.js';
export type {
  CloseSessionsOptions,
  DispatchOutcome,
  DownstreamSession,
  DownstreamSessionsOptions,
  DownstreamTransport,
  GatewayContext,
  IncomingHeaders,
  IncomingMcpRequest,
  SessionLocation,
  SessionTransportOptions,
} from './downstream-sessions.js';
export { DownstreamSessions } from './downstream-sessions.js';
export type { HttpErrorOptions, HttpErrorResponse, JsonRpcErrorObject } from './http-errors.js';
export {
  ForwardedJsonRpcError,
  REGISTRY_ERROR_JSONRPC_CODE,
  SESSION_NOT_FOUND_JSONRPC_CODE,
  httpStatusForError,
  toJsonRpcError,
} from './http-errors.js';
export type { MemoryEventStoreOptions } from './memory-event-store.js';
export { MemoryEventStore } from './memory-event-store.js';
export type { OwnerCacheOptions } from './owner-cache.js';
export { OwnerCache } from './owner-cache.js';
export type { BridgeHubOptions } from './hub.js';
export { BridgeHub } from './hub.js';
export { forwardToOwner } from '../forward.js';
export type { ForwardOptions } from '../forward.js';
/**
 * Experimental: writes private fields of the SDK's Streamable HTTP server
 * transports (the SDK 1.x has no public way to open a transport on an
 * existing session), so it may break with any SDK release.
 */
export { markTransportInitialized as experimental_markTransportInitialized } from './resume-transport.js';
export type { NamespaceMode, NamespacedTarget } from './namespace.js';
export { PARTIAL_LIST_META_KEY } from './partial-lists.js';
export type { NameCollision } from './merged-routes.js';
export { NAME_COLLISIONS_META_KEY } from './merged-routes.js';
export type { DownstreamIdentity } from './upstream-identity.js';
export { DEFAULT_NAMESPACE_SEPARATOR, GatewayNamespace } from './namespace.js';
export type { HeaderSource, HostOriginPolicy } from './origin-guard.js';
export { LOOPBACK_HOSTS, checkHostAndOrigin, isLoopbackHost } from './origin-guard.js';
export type { BridgeConnectOptions, BridgeRejection, DownstreamExtra } from './session-bridge.js';
export { SessionBridge } from './session-bridge.js';
