/**
 * What a bridge installs on each new upstream client of its session: the
 * downstream client's capabilities, and handlers that carry upstream
 * notifications and server-to-client requests to that downstream client only.
 *
 * @module
 */

import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RequestHandlerExtra, RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  type ClientCapabilities,
  type ClientNotification,
  type Implementation,
  type ClientRequest,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ErrorCode,
  ElicitationCompleteNotificationSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  McpError,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
  type Result,
  ResultSchema,
  type ServerNotification,
  TaskStatusNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { ForwardedJsonRpcError, describeError, toJsonRpcError } from './http-errors.js';
import type { RouteKind } from './merged-routes.js';
import type { SessionBridge } from './session-bridge.js';

/** The `extra` argument of a handler on the upstream-facing client. */
type UpstreamExtra = RequestHandlerExtra<ClientRequest, ClientNotification>;

type ClientBoundRequest = { method: string; params?: { _meta?: Record<string, unknown>; [key: string]: unknown } };

/** The parts of the downstream client's capabilities that the upstream should see. */
function upstreamCapabilities(downstream: ClientCapabilities): ClientCapabilities {
  const result: ClientCapabilities = {};
  if (downstream.sampling !== undefined) result.sampling = downstream.sampling;
  if (downstream.elicitation !== undefined) result.elicitation = downstream.elicitation;
  if (downstream.roots !== undefined) result.roots = downstream.roots;
  return result;
}

/** Sends a server-to-client request of the upstream to the downstream client and returns its answer. */
async function askDownstream(bridge: SessionBridge, gatewayId: string, request: ClientBoundRequest, extra: UpstreamExtra): Promise<Result> {
  if (bridge.closed) throw new McpError(ErrorCode.ConnectionClosed, 'The downstream session is closed');
  const rawToken = request.params?._meta?.progressToken;
  const token = typeof rawToken === 'string' || typeof rawToken === 'number' ? rawToken : undefined;
  const options: RequestOptions = { signal: extra.signal, timeout: bridge.options.clientRequestTimeoutMs };
  const related = bridge.relatedRequest(gatewayId);
  if (related !== undefined) options.relatedRequestId = related;
  if (token !== undefined) {
    options.resetTimeoutOnProgress = true;
    options.onprogress = (progress) => {
      extra.sendNotification({ method: 'notifications/progress', params: { ...progress, progressToken: token } }).catch(() => {});
    };
  }
  const params = bridge.forwardParams(request.params);
  try {
    return await bridge.server.request({ method: request.method, params } as never, ResultSchema, options);
  } catch (error) {
    // The downstream client's JSON-RPC error goes upstream as it was sent.
    throw error instanceof McpError ? new ForwardedJsonRpcError(toJsonRpcError(error)) : error;
  }
}

/** Sends a notification to the downstream client; `relate` puts it on the stream of the request waiting on that gateway. */
function notifyDownstream(bridge: SessionBridge, gatewayId: string, notification: ServerNotification, relate: boolean): void {
  if (bridge.closed || !bridge.serving) return;
  const related = relate ? bridge.relatedRequest(gatewayId) : undefined;
  const log = (error: unknown): void => {
    bridge.logger.debug(
      { downstreamSessionId: bridge.downstreamSessionId, gatewayId, method: notification.method, error: describeError(error) },
      'bridge: notification not delivered',
    );
  };
  if (related === undefined) {
    bridge.server.notification(notification).catch(log);
    return;
  }
  // The related request may have ended meanwhile; then the standalone stream takes it.
  bridge.server
    .notification(notification, { relatedRequestId: related })
    .catch(() => bridge.server.notification(notification))
    .catch(log);
}

function installRequests(bridge: SessionBridge, client: Client, gatewayId: string, capabilities: ClientCapabilities): void {
  const ask = (request: ClientBoundRequest, extra: UpstreamExtra): Promise<never> =>
    askDownstream(bridge, gatewayId, request, extra) as Promise<never>;
  if (capabilities.sampling) client.setRequestHandler(CreateMessageRequestSchema, ask);
  if (capabilities.elicitation) client.setRequestHandler(ElicitRequestSchema, ask);
  if (capabilities.roots) client.setRequestHandler(ListRootsRequestSchema, ask);
}

function installNotifications(bridge: SessionBridge, client: Client, gatewayId: string, capabilities: ClientCapabilities): void {
  const { namespace } = bridge;
  const forward = (notification: ServerNotification, relate = false) => notifyDownstream(bridge, gatewayId, notification, relate);
  // Installed before the downstream capabilities are known (they depend on the upstreams' initialize);
  // the downstream server refuses, and the bridge logs, a notification of a capability it does not announce.
  // Under `namespace: 'none'` the gateway's names are listed again before the next call that misses.
  const changed = (kinds: readonly RouteKind[]) => (n: ServerNotification) => {
    for (const kind of kinds) bridge.routes.forget(kind, gatewayId);
    forward(n);
  };
  client.setNotificationHandler(ToolListChangedNotificationSchema, changed(['tools']));
  client.setNotificationHandler(PromptListChangedNotificationSchema, changed(['prompts']));
  client.setNotificationHandler(ResourceListChangedNotificationSchema, changed(['resources', 'templates']));
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) =>
    forward({ ...n, params: { ...n.params, uri: namespace.toDownstream(gatewayId, n.params.uri) } }),
  );
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => forward(n, true));
  // Announced (and so reaching a client) only with one gateway: see `installTasks`.
  client.setNotificationHandler(TaskStatusNotificationSchema, (n) => {
    if (bridge.capabilities.tasks !== undefined) forward(n);
  });
  if (capabilities.elicitation !== undefined) {
    client.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) => forward(n, true));
  }
}

/**
 * Makes `client` introduce itself upstream as `clientInfo`. The SDK client
 * takes its `clientInfo` only in its constructor, but sends `initialize`
 * through `request()`, so an own-property wrapper rewrites just that request.
 */
function sendClientInfo(client: Client, clientInfo: Implementation): void {
  const original = client.request.bind(client);
  const info = { name: clientInfo.name, version: clientInfo.version, ...(clientInfo.title !== undefined && { title: clientInfo.title }) };
  client.request = ((request, resultSchema, options) =>
    original(request.method === 'initialize' ? { ...request, params: { ...request.params, clientInfo: info } } : request, resultSchema, options)) as typeof client.request;
}

/**
 * Routes the notifications of an upstream client that was made, connected and
 * initialized before `bridge`'s session took it (a warm spare): it declared
 * no capabilities of that session's client, so it gets no request handlers.
 */
export function adoptUpstreamClient(bridge: SessionBridge, client: Client, gatewayId: string): void {
  installNotifications(bridge, client, gatewayId, {});
}

/**
 * Configures one new upstream client of `bridge`'s session for `gatewayId`:
 * declares the downstream client's sampling, elicitation and roots
 * capabilities, and routes upstream notifications and requests to the
 * downstream client. Must run before the client connects.
 */
export function configureUpstreamClient(bridge: SessionBridge, client: Client, gatewayId: string, clientInfo?: Implementation): void {
  const capabilities = upstreamCapabilities(bridge.clientCapabilities());
  if (Object.keys(capabilities).length > 0) client.registerCapabilities(capabilities);
  if (clientInfo !== undefined) sendClientInfo(client, clientInfo);
  installRequests(bridge, client, gatewayId, capabilities);
  installNotifications(bridge, client, gatewayId, capabilities);
}
