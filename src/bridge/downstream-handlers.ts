/**
 * The request handlers of a bridge's downstream `Server`: each forwards to the
 * right gateway (or to all of them, for lists) through the registry.
 *
 * @module
 */

import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  CallToolRequestSchema,
  CancelTaskRequestSchema,
  CompleteRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  GetTaskPayloadRequestSchema,
  GetTaskRequestSchema,
  ListPromptsRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListResourcesRequestSchema,
  ListTasksRequestSchema,
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
import { NAME_COLLISIONS_META_KEY, type RouteKind, mergeFirstWins, nameOf } from './merged-routes.js';
import type { NamespacedTarget } from './namespace.js';
import { type ListMethod, PARTIAL_LIST_META_KEY } from './partial-lists.js';
import { renameItems, renamePromptResult, renameReadResult, renameToolResult } from './rewrite.js';
import type { DownstreamExtra, SessionBridge } from './session-bridge.js';
import type { SendUpstream } from './upstream-request.js';

/** Server capability a list method needs; a gateway without it contributes nothing. */
type Capability = 'tools' | 'prompts' | 'resources';

interface ListSpec {
  readonly method: ListMethod;
  readonly capability: Capability;
  /** The routes this list feeds under `namespace: 'none'`. */
  readonly kind: RouteKind;
  /** The array in the result, e.g. `tools`. */
  readonly key: string;
  /** The field of each item that carries the name or URI, e.g. `name`. */
  readonly field: string;
}

type Params = { _meta?: Record<string, unknown>; cursor?: string; [key: string]: unknown } | undefined;

const RESOURCE_NOT_FOUND = -32002;
/** A merged list reads at most this many pages of each gateway. */
const MAX_MERGED_PAGES = 100;

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

/** What a downstream name refers to: a tool, prompt, resource URI or resource-template URI. */
interface TargetSpec {
  readonly kind: RouteKind;
  /** For the error message, e.g. `Tool`. */
  readonly label: string;
  readonly code?: number;
}

const TARGETS = {
  tool: { kind: 'tools', label: 'Tool' },
  prompt: { kind: 'prompts', label: 'Prompt' },
  resource: { kind: 'resources', label: 'Resource', code: RESOURCE_NOT_FOUND },
  template: { kind: 'templates', label: 'Resource template', code: RESOURCE_NOT_FOUND },
} as const satisfies Record<string, TargetSpec>;

/** The gateway of `name` under `namespace: 'none'`, from the routes learnt so far. */
function mergedOwner(bridge: SessionBridge, kind: RouteKind, name: string): string | undefined {
  const { routes } = bridge;
  if (kind === 'resources') return routes.resourceOwner(name);
  if (kind === 'templates') return routes.owner('templates', name) ?? routes.resourceOwner(name);
  return routes.owner(kind, name);
}

/** The lists whose names route `kind`. */
function listsFor(kind: RouteKind): ListSpec[] {
  return kind === 'resources' || kind === 'templates' ? [LISTS.resources, LISTS.templates] : [kind === 'tools' ? LISTS.tools : LISTS.prompts];
}

/**
 * The gateway and upstream name of a downstream name. Under `namespace: 'none'`
 * a name nobody has listed yet makes the bridge list every gateway first, so a
 * client may call a tool without listing.
 */
async function target(bridge: SessionBridge, spec: TargetSpec, name: string, extra: DownstreamExtra): Promise<NamespacedTarget> {
  if (!bridge.namespace.merged) {
    const found = bridge.namespace.fromDownstream(name);
    if (found === undefined) throw notFound(spec.label, name, spec.code);
    return found;
  }
  let gatewayId = mergedOwner(bridge, spec.kind, name);
  const lists = listsFor(spec.kind);
  // Every gateway's list known and fresh: the name is simply unknown; listing again would only amplify the client's mistake.
  if (gatewayId === undefined && !lists.every((list) => bridge.routes.complete(list.kind))) {
    await Promise.all(lists.map((list) => gather(bridge, list, extra, (client, send) => listAll(client, list, {}, send))));
    gatewayId = mergedOwner(bridge, spec.kind, name);
  }
  if (gatewayId === undefined) throw notFound(spec.label, name, spec.code);
  return { gatewayId, name };
}

/** One page of `spec` from one gateway: `undefined` when the gateway does not offer it. */
async function listPage(
  client: Client,
  spec: ListSpec,
  params: Params,
  send: SendUpstream,
): Promise<Result | undefined> {
  if (!mayHave(client, spec.capability)) return undefined;
  try {
    return await send(spec.method, params);
  } catch (error) {
    if (isMethodNotFound(error)) return undefined;
    throw error;
  }
}

/** Every page of `spec` from one gateway (at most {@link MAX_MERGED_PAGES}), as one page without a cursor. */
async function listAll(client: Client, spec: ListSpec, params: Params, send: SendUpstream): Promise<Result | undefined> {
  const items: unknown[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_MERGED_PAGES; page++) {
    const result = await listPage(client, spec, cursor === undefined ? params : { ...params, cursor }, send);
    if (result === undefined) return page === 0 ? undefined : { [spec.key]: items };
    const pageItems = result[spec.key];
    if (Array.isArray(pageItems)) items.push(...pageItems);
    if (typeof result.nextCursor !== 'string') break;
    cursor = result.nextCursor;
  }
  return { [spec.key]: items };
}

/** What the gateways answered to one list request, in configuration order. */
interface Gathered {
  readonly answered: { gatewayId: string; page: Result | undefined }[];
  /** The partial-list note, when a gateway failed. */
  readonly partial: { _meta: Record<string, unknown> } | undefined;
}

/**
 * Asks every gateway (or those in `gatewayIds`) for `spec` in parallel; a failed
 * gateway is left out and retried (partial lists). Under `namespace: 'none'`
 * a gateway's answer is its complete list, and becomes its routes.
 */
async function gather(
  bridge: SessionBridge,
  spec: ListSpec,
  extra: DownstreamExtra,
  fetch: (client: Client, send: SendUpstream, gatewayId: string) => Promise<Result | undefined>,
  gatewayIds: readonly string[] = bridge.gatewayIds,
): Promise<Gathered> {
  // Progress of several upstreams cannot be merged into one increasing value: not relayed.
  const settled = await Promise.allSettled(
    gatewayIds.map((gatewayId) => bridge.call(gatewayId, extra, (client, send) => fetch(client, send, gatewayId), false)),
  );
  const failed = settled.flatMap((outcome, i) =>
    outcome.status === 'rejected' ? [{ gatewayId: gatewayIds[i] as string, error: outcome.reason as unknown }] : [],
  );
  // Nothing to show: the client gets the error, as from a single gateway.
  if (failed.length === settled.length && failed[0] !== undefined) throw failed[0].error;
  const answered = settled.flatMap((outcome, i) => {
    if (outcome.status === 'rejected') return [];
    const gatewayId = gatewayIds[i] as string;
    bridge.partialLists.answered(gatewayId, spec.method);
    if (bridge.namespace.merged) bridge.routes.learn(spec.kind, gatewayId, namesOf(outcome.value?.[spec.key], spec.field));
    return [{ gatewayId, page: outcome.value }];
  });
  for (const { gatewayId, error } of failed) bridge.partialLists.failed(gatewayId, spec.method, error);
  const partial = failed.length > 0 ? { _meta: { [PARTIAL_LIST_META_KEY]: { missingGateways: failed.map((f) => f.gatewayId) } } } : undefined;
  return { answered, partial };
}

function namesOf(items: unknown, field: string): string[] {
  return Array.isArray(items) ? items.flatMap((item: unknown) => nameOf(item, field) ?? []) : [];
}

/** A prefixed list: one downstream page holds the next page of every gateway that has one. */
async function listPrefixed(bridge: SessionBridge, spec: ListSpec, params: Params, extra: DownstreamExtra): Promise<Result> {
  const { namespace } = bridge;
  const forwarded = bridge.forwardParams(params);
  const cursors = new Map(decodeCursor(params?.cursor, namespace.gatewayIds));
  const { answered, partial } = await gather(
    bridge,
    spec,
    extra,
    (client, send, gatewayId) => {
      const cursor = cursors.get(gatewayId);
      const gatewayParams = { ...forwarded, cursor: cursor ?? undefined };
      if (cursor === null || cursor === undefined) delete gatewayParams.cursor;
      return listPage(client, spec, gatewayParams, send);
    },
    [...cursors.keys()],
  );
  const next = new Map<string, string>();
  const items = answered.flatMap(({ gatewayId, page }) => {
    if (page === undefined) return [];
    if (typeof page.nextCursor === 'string') next.set(gatewayId, page.nextCursor);
    return renameItems(page[spec.key], spec.field, (name) => namespace.toDownstream(gatewayId, name));
  });
  const nextCursor = encodeCursor(next);
  return { [spec.key]: items, ...(nextCursor !== undefined && { nextCursor }), ...partial };
}

/**
 * A merged list (`namespace: 'none'`): every gateway's complete list in one
 * page, each name once, from the first gateway in configuration order that
 * lists it; the hidden ones are logged (once per session) and named in `_meta`.
 */
async function listMerged(bridge: SessionBridge, spec: ListSpec, params: Params, extra: DownstreamExtra): Promise<Result> {
  // The bridge never hands out a cursor here; one it did not make is refused, as with prefixes.
  if (params?.cursor !== undefined) throw new McpError(ErrorCode.InvalidParams, 'Invalid cursor');
  const { cursor: _none, ...forwarded } = bridge.forwardParams(params) ?? {};
  const { answered, partial } = await gather(bridge, spec, extra, (client, send) => listAll(client, spec, forwarded, send));
  const lists = answered.map(({ gatewayId, page }) => ({ gatewayId, items: Array.isArray(page?.[spec.key]) ? (page[spec.key] as unknown[]) : [] }));
  const { items, collisions } = mergeFirstWins(lists, spec.field);
  for (const collision of collisions) {
    if (!bridge.routes.firstSeen(spec.kind, collision)) continue;
    bridge.logger.warn(
      { downstreamSessionId: bridge.downstreamSessionId, method: spec.method, name: collision.name, gatewayId: collision.gatewayId, shadowed: collision.shadowed },
      'bridge: several gateways offer the same name; the first in configuration order serves it',
    );
  }
  const meta = {
    ...partial?._meta,
    ...(collisions.length > 0 && { [NAME_COLLISIONS_META_KEY]: { collisions } }),
  };
  return { [spec.key]: items, ...(Object.keys(meta).length > 0 && { _meta: meta }) };
}

async function list(bridge: SessionBridge, spec: ListSpec, params: Params, extra: DownstreamExtra): Promise<Result> {
  const { namespace } = bridge;
  if (namespace.merged) return listMerged(bridge, spec, params, extra);
  if (namespace.prefixed) return listPrefixed(bridge, spec, params, extra);
  const only = namespace.gatewayIds[0] as string;
  const page = await bridge.call(only, extra, (client, send) => listPage(client, spec, bridge.forwardParams(params), send));
  return page ?? { [spec.key]: [] };
}

const LISTS = {
  tools: { method: 'tools/list', capability: 'tools', kind: 'tools', key: 'tools', field: 'name' },
  prompts: { method: 'prompts/list', capability: 'prompts', kind: 'prompts', key: 'prompts', field: 'name' },
  resources: { method: 'resources/list', capability: 'resources', kind: 'resources', key: 'resources', field: 'uri' },
  templates: {
    method: 'resources/templates/list',
    capability: 'resources',
    kind: 'templates',
    key: 'resourceTemplates',
    field: 'uriTemplate',
  },
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
    const { gatewayId, name } = await target(bridge, TARGETS.tool, request.params.name, extra);
    const params = { ...bridge.forwardParams(request.params), name };
    const result = await bridge.call(gatewayId, extra, (_client, send) => send('tools/call', params, name));
    return renameToolResult(result, (uri) => bridge.namespace.toDownstream(gatewayId, uri)) as never;
  });
}

function installPrompts(bridge: SessionBridge): void {
  bridge.server.setRequestHandler(GetPromptRequestSchema, async (request, extra) => {
    const { gatewayId, name } = await target(bridge, TARGETS.prompt, request.params.name, extra);
    const params = { ...bridge.forwardParams(request.params), name };
    const result = await bridge.call(gatewayId, extra, (_client, send) => send('prompts/get', params, name));
    return renamePromptResult(result, (uri) => bridge.namespace.toDownstream(gatewayId, uri)) as never;
  });
}

function installResources(bridge: SessionBridge): void {
  const { server, namespace } = bridge;
  server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) => {
    const { gatewayId, name: uri } = await target(bridge, TARGETS.resource, request.params.uri, extra);
    const params = { ...bridge.forwardParams(request.params), uri };
    const result = await bridge.call(gatewayId, extra, (_client, send) => send('resources/read', params));
    return renameReadResult(result, (u) => namespace.toDownstream(gatewayId, u)) as never;
  });
  for (const [schema, method] of [
    [SubscribeRequestSchema, 'resources/subscribe'],
    [UnsubscribeRequestSchema, 'resources/unsubscribe'],
  ] as const) {
    server.setRequestHandler(schema, async (request, extra) => {
      const { gatewayId, name: uri } = await target(bridge, TARGETS.resource, request.params.uri, extra);
      const params = { ...bridge.forwardParams(request.params), uri };
      return bridge.call(gatewayId, extra, (_client, send) => send(method, params)) as never;
    });
  }
}

function installCompletion(bridge: SessionBridge): void {
  bridge.server.setRequestHandler(CompleteRequestSchema, async (request, extra) => {
    const { ref } = request.params;
    const found =
      ref.type === 'ref/prompt' ? await target(bridge, TARGETS.prompt, ref.name, extra) : await target(bridge, TARGETS.template, ref.uri, extra);
    const upstreamRef = ref.type === 'ref/prompt' ? { ...ref, name: found.name } : { ...ref, uri: found.name };
    const params = { ...bridge.forwardParams(request.params), ref: upstreamRef };
    return bridge.call(found.gatewayId, extra, (_client, send) => send('completion/complete', params)) as never;
  });
}

/**
 * Tasks of the single gateway (its `tasks` capability is announced only then):
 * `tasks/get`, `tasks/result`, `tasks/list`, `tasks/cancel` go to it as they
 * are; a task-augmented `tools/call` is forwarded by the tools handler with its
 * `task` parameter, and its `CreateTaskResult` comes back unchanged.
 */
function installTasks(bridge: SessionBridge): void {
  const only = bridge.gatewayIds[0];
  if (bridge.gatewayIds.length !== 1 || only === undefined) return;
  const forward = (method: string, params: Params, extra: DownstreamExtra) =>
    bridge.call(only, extra, (_client, send) => send(method, bridge.forwardParams(params)));
  const { server } = bridge;
  server.setRequestHandler(GetTaskRequestSchema, (r, extra) => forward('tasks/get', r.params, extra) as never);
  server.setRequestHandler(ListTasksRequestSchema, (r, extra) => forward('tasks/list', r.params, extra) as never);
  server.setRequestHandler(CancelTaskRequestSchema, (r, extra) => forward('tasks/cancel', r.params, extra) as never);
  server.setRequestHandler(GetTaskPayloadRequestSchema, async (r, extra) => {
    // The payload of a tool task is a tools/call result: its URIs get the same prefix.
    const result = await forward('tasks/result', r.params, extra);
    return renameToolResult(result, (uri) => bridge.namespace.toDownstream(only, uri)) as never;
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
          async (client, send) => {
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
  if (capabilities.tasks) installTasks(bridge);
  installClientNotifications(bridge);
}
