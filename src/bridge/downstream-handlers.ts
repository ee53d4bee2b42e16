/**
 * The request handlers of a bridge's downstream `Server`: each forwards to the
 * right gateway (or to all of them, for lists) through the registry.
 *
 * @module
 */

import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type Result,
  RootsListChangedNotificationSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { ForwardedJsonRpcError, describeError } from './http-errors.js';
import type { NamespacedTarget } from './namespace.js';
import { PARTIAL_LIST_META_KEY } from './partial-lists.js';
import { renameItems, renamePromptResult, renameReadResult, renameToolResult } from './rewrite.js';
import type { DownstreamExtra, SessionBridge } from './session-bridge.js';
import type { SendUpstream } from './upstream-request.js';

/** Server capability a list method needs; a gateway without it contributes nothing. */
type Capability = 'tools' | 'prompts' | 'resources';

interface ListSpec {
  readonly method: 'tools/list' | 'prompts/list' | 'resources/list' | 'resources/templates/list';
  readonly capability: Capability;
  /** The array in the result, e.g. `tools`. */
  readonly key: string;
  /** The field of each item that carries the name or URI, e.g. `name`. */
  readonly field: string;
}

type Params = { _meta?: Record<string, unknown>; cursor?: string; [key: string]: unknown } | undefined;

const RESOURCE_NOT_FOUND = -32002;

function isMethodNotFound(error: unknown): boolean {
  return error instanceof McpError && error.code === ErrorCode.MethodNotFound;
}

/** False only when the server's capabilities are known and lack `capability`. */
function mayHave(client: Client, capability: Capability | 'logging'): boolean {
  const capabilities = client.getServerCapabilities();
  return capabilities === undefined || capabilities[capability] !== undefined;
}

function notFound(kind: string, name: string, code: number = ErrorCode.InvalidParams): ForwardedJsonRpcError {
  const shown = name.length > 128 ? `${name.slice(0, 128)}…` : name;
  return new ForwardedJsonRpcError({ code, message: `${kind} ${shown} not found` });
}

function target(bridge: SessionBridge, name: string, kind: string, code?: number): NamespacedTarget {
  const found = bridge.namespace.fromDownstream(name);
  if (found === undefined) throw notFound(kind, name, code);
  return found;
}

/** One page of `spec` from one gateway: `undefined` when the gateway does not offer it. */
async function listPage(client: Client, spec: ListSpec, params: Params, send: SendUpstream): Promise<Result | undefined> {
  if (!mayHave(client, spec.capability)) return undefined;
  try {
    return await send(spec.method, params);
  } catch (error) {
    if (isMethodNotFound(error)) return undefined;
    throw error;
  }
}

async function list(bridge: SessionBridge, spec: ListSpec, params: Params, extra: DownstreamExtra): Promise<Result> {
  const { namespace } = bridge;
  const forwarded = bridge.forwardParams(params);
  if (!namespace.prefixed) {
    const only = namespace.gatewayIds[0] as string;
    const page = await bridge.call(only, extra, (client, _options, send) => listPage(client, spec, forwarded, send));
    return page ?? { [spec.key]: [] };
  }
  const cursors = [...decodeCursor(params?.cursor, namespace.gatewayIds)];
  const settled = await Promise.allSettled(
    cursors.map(async ([gatewayId, cursor]) => {
      const gatewayParams = { ...forwarded, cursor: cursor ?? undefined };
      if (cursor === null) delete gatewayParams.cursor;
      // Progress of several upstreams cannot be merged into one increasing value: not relayed.
      return bridge.call(gatewayId, extra, (client, _options, send) => listPage(client, spec, gatewayParams, send), false);
    }),
  );
  const failed = settled.flatMap((outcome, i) =>
    outcome.status === 'rejected' ? [{ gatewayId: cursors[i]?.[0] as string, error: outcome.reason as unknown }] : [],
  );
  // Nothing to show: the client gets the error, as from a single gateway.
  if (failed.length === settled.length && failed[0] !== undefined) throw failed[0].error;
  const next = new Map<string, string>();
  const items = settled.flatMap((outcome, i) => {
    const gatewayId = cursors[i]?.[0] as string;
    if (outcome.status === 'rejected') return [];
    bridge.partialLists.answered(gatewayId, spec.method);
    const page = outcome.value;
    if (page === undefined) return [];
    if (typeof page.nextCursor === 'string') next.set(gatewayId, page.nextCursor);
    return renameItems(page[spec.key], spec.field, (name) => namespace.toDownstream(gatewayId, name));
  });
  for (const { gatewayId, error } of failed) bridge.partialLists.failed(gatewayId, spec.method, error);
  const nextCursor = encodeCursor(next);
  const partial = failed.length > 0 && { _meta: { [PARTIAL_LIST_META_KEY]: { missingGateways: failed.map((f) => f.gatewayId) } } };
  return { [spec.key]: items, ...(nextCursor !== undefined && { nextCursor }), ...partial };
}

const LISTS = {
  tools: { method: 'tools/list', capability: 'tools', key: 'tools', field: 'name' },
  prompts: { method: 'prompts/list', capability: 'prompts', key: 'prompts', field: 'name' },
  resources: { method: 'resources/list', capability: 'resources', key: 'resources', field: 'uri' },
  templates: { method: 'resources/templates/list', capability: 'resources', key: 'resourceTemplates', field: 'uriTemplate' },
} as const satisfies Record<string, ListSpec>;

function installLists(bridge: SessionBridge): void {
  const { server } = bridge;
  const capabilities = bridge.capabilities;
  if (capabilities.tools) {
    server.setRequestHandler(ListToolsRequestSchema, (r, extra) => list(bridge, LISTS.tools, r.params, extra) as never);
  }
  if (capabilities.prompts) {
    server.setRequestHandler(ListPromptsRequestSchema, (r, extra) => list(bridge, LISTS.prompts, r.params, extra) as never);
  }
  if (capabilities.resources) {
    server.setRequestHandler(ListResourcesRequestSchema, (r, extra) => list(bridge, LISTS.resources, r.params, extra) as never);
    server.setRequestHandler(ListResourceTemplatesRequestSchema, (r, extra) =>
      list(bridge, LISTS.templates, r.params, extra) as never,
    );
  }
}

function installTools(bridge: SessionBridge): void {
  bridge.server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const { gatewayId, name } = target(bridge, request.params.name, 'Tool');
    const params = { ...bridge.forwardParams(request.params), name };
    const result = await bridge.call(gatewayId, extra, (_client, _options, send) => send('tools/call', params, name));
    return renameToolResult(result, (uri) => bridge.namespace.toDownstream(gatewayId, uri)) as never;
  });
}

function installPrompts(bridge: SessionBridge): void {
  bridge.server.setRequestHandler(GetPromptRequestSchema, async (request, extra) => {
    const { gatewayId, name } = target(bridge, request.params.name, 'Prompt');
    const params = { ...bridge.forwardParams(request.params), name };
    const result = await bridge.call(gatewayId, extra, (_client, _options, send) => send('prompts/get', params, name));
    return renamePromptResult(result, (uri) => bridge.namespace.toDownstream(gatewayId, uri)) as never;
  });
}

function installResources(bridge: SessionBridge): void {
  const { server, namespace } = bridge;
  server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) => {
    const { gatewayId, name: uri } = target(bridge, request.params.uri, 'Resource', RESOURCE_NOT_FOUND);
    const params = { ...bridge.forwardParams(request.params), uri };
    const result = await bridge.call(gatewayId, extra, (_client, _options, send) => send('resources/read', params));
    return renameReadResult(result, (u) => namespace.toDownstream(gatewayId, u)) as never;
  });
  for (const [schema, method] of [
    [SubscribeRequestSchema, 'resources/subscribe'],
    [UnsubscribeRequestSchema, 'resources/unsubscribe'],
  ] as const) {
    server.setRequestHandler(schema, async (request, extra) => {
      const { gatewayId, name: uri } = target(bridge, request.params.uri, 'Resource', RESOURCE_NOT_FOUND);
      const params = { ...bridge.forwardParams(request.params), uri };
      return bridge.call(gatewayId, extra, (_client, _options, send) => send(method, params)) as never;
    });
  }
}

function installCompletion(bridge: SessionBridge): void {
  bridge.server.setRequestHandler(CompleteRequestSchema, async (request, extra) => {
    const { ref } = request.params;
    const found =
      ref.type === 'ref/prompt' ? target(bridge, ref.name, 'Prompt') : target(bridge, ref.uri, 'Resource template', RESOURCE_NOT_FOUND);
    const upstreamRef = ref.type === 'ref/prompt' ? { ...ref, name: found.name } : { ...ref, uri: found.name };
    const params = { ...bridge.forwardParams(request.params), ref: upstreamRef };
    return bridge.call(found.gatewayId, extra, (_client, _options, send) => send('completion/complete', params)) as never;
  });
}

function installLogging(bridge: SessionBridge): void {
  bridge.server.setRequestHandler(SetLevelRequestSchema, async (request, extra) => {
    const params = bridge.forwardParams(request.params);
    await Promise.all(
      bridge.gatewayIds.map((gatewayId) =>
        bridge.call(
          gatewayId,
          extra,
          async (client, _options, send) => {
            if (!mayHave(client, 'logging')) return;
            try {
              await send('logging/setLevel', params);
            } catch (error) {
              if (!isMethodNotFound(error)) throw error;
            }
          },
          false,
        ),
      ),
    );
    return {};
  });
}

function installClientNotifications(bridge: SessionBridge): void {
  bridge.server.setNotificationHandler(RootsListChangedNotificationSchema, async () => {
    const { registry, requests } = bridge.options;
    await Promise.all(
      bridge.configuredGateways.map(async (gatewayId) => {
        const request = requests.get(gatewayId);
        if (request === undefined) return;
        try {
          await registry.use(request, (client) => client.sendRootsListChanged());
        } catch (error) {
          bridge.logger.debug({ downstreamSessionId: bridge.downstreamSessionId, gatewayId, error: describeError(error) }, 'bridge: roots/list_changed not forwarded');
        }
      }),
    );
  });
}

/** Installs every forwarding handler on the bridge's downstream `Server`. */
export function installDownstreamHandlers(bridge: SessionBridge): void {
  const capabilities = bridge.capabilities;
  installLists(bridge);
  if (capabilities.tools) installTools(bridge);
  if (capabilities.prompts) installPrompts(bridge);
  if (capabilities.resources) installResources(bridge);
  if (capabilities.completions) installCompletion(bridge);
  if (capabilities.logging) installLogging(bridge);
  installClientNotifications(bridge);
}
