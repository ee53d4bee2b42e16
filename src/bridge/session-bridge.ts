/**
 * {@link SessionBridge}: serves one downstream MCP session by forwarding it,
 * through the registry, to that session's own upstream sessions.
 *
 * @module
 */

import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { RequestHandlerExtra, RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type {
  ClientCapabilities,
  Implementation,
  RequestId,
  ServerCapabilities,
  ServerNotification,
  ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import type { WorkerInfo } from '../affinity.js';
import { NotOwnerError, RegistryError, SessionLostError } from '../errors.js';
import type { Logger } from '../logger.js';
import { DEFAULT_BRIDGE_CAPABILITIES, DEFAULT_SERVER_INFO, type ResolvedBridgeOptions } from './bridge-options.js';
import { installDownstreamHandlers } from './downstream-handlers.js';
import {
  ForwardedJsonRpcError,
  type HttpErrorResponse,
  describeError,
  httpStatusForError,
  toJsonRpcError,
} from './http-errors.js';
import { MergedRoutes } from './merged-routes.js';
import type { GatewayNamespace } from './namespace.js';
import { PartialLists } from './partial-lists.js';
import { adoptUpstreamClient, configureUpstreamClient } from './upstream-hooks.js';
import { type SendUpstream, upstreamSender } from './upstream-request.js';
import { type DownstreamIdentity, type UpstreamIdentity, downstreamIdentity, identityOf } from './upstream-identity.js';

/** The `extra` argument of a downstream request handler. */
export type DownstreamExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/**
 * Why a bridge refuses a request before its transport sees it: an HTTP answer
 * (see `httpStatusForError`) plus the registry error; `owner` is set for
 * `NotOwnerError`, so the proxy can forward the request to that worker instead.
 */
export interface BridgeRejection extends HttpErrorResponse {
  readonly error: RegistryError;
  readonly owner?: WorkerInfo;
}

/** Options of {@link SessionBridge.connect}. */
export interface BridgeConnectOptions {
  /** Aborts the wait (e.g. the HTTP request went away); the upstream creates go on. */
  signal?: AbortSignal;
  /**
   * The downstream client's capabilities from its `initialize` request, when
   * connecting before the transport has handled it. The upstream clients
   * declare the same sampling, elicitation and roots capabilities.
   */
  clientCapabilities?: ClientCapabilities;
  /**
   * The downstream client's `clientInfo` from its `initialize` request; sent
   * upstream instead of the factory's when the bridge runs with `forwardClientInfo`.
   */
  clientInfo?: Implementation;
}

/** How a bridge reaches the hub that made it. */
export interface BridgeLink {
  readonly logger: Logger;
  unregister(bridge: SessionBridge): void;
}

/** Statuses that end a downstream session: the proxy must not serve it any more. */
function isTerminal(error: unknown): error is SessionLostError | NotOwnerError {
  return error instanceof SessionLostError || error instanceof NotOwnerError;
}

function withoutProgressToken<P extends { _meta?: Record<string, unknown> } | undefined>(params: P): P {
  if (params?._meta?.progressToken === undefined) return params;
  const { progressToken: _drop, ...meta } = params._meta;
  return { ...params, _meta: meta };
}

/**
 * Serves one downstream MCP session: its {@link SessionBridge.server} (an SDK
 * low-level `Server`) answers tools, prompts, resources, completion and logging
 * requests by forwarding them with `registry.use` to the upstream sessions of
 * exactly this downstream session, and carries upstream notifications and
 * server-to-client requests (sampling, elicitation, roots) back to this
 * session's client only. Made by `BridgeHub.createBridge`.
 *
 * @example
 * ```ts
 * const bridge = hub.createBridge({ registry, downstreamSessionId, gateways });
 * const refused = await bridge.connect({ clientCapabilities: initializeRequest.params.capabilities });
 * if (refused) return respond(refused.status, refused.headers, refused.body);
 * await bridge.server.connect(transport); // e.g. a StreamableHTTPServerTransport
 * ```
 */
export class SessionBridge {
  /** The downstream session this bridge serves. */
  readonly downstreamSessionId: string;
  /** @internal Gateways missing from lists, and their retries. */
  readonly partialLists: PartialLists;
  /** @internal Which gateway serves which name under `namespace: 'none'`. */
  readonly routes: MergedRoutes;
  readonly #options: ResolvedBridgeOptions;
  readonly #link: BridgeLink;
  /** Downstream requests waiting on each gateway, oldest first. */
  readonly #inflight = new Map<string, RequestId[]>();
  /** Gateways whose upstream client this bridge configured. */
  readonly #configured = new Set<string>();
  /** What each gateway's upstream said in `initialize`, captured by {@link SessionBridge.connect}. */
  readonly #identities = new Map<string, UpstreamIdentity>();
  #server: Server | undefined;
  #identity: DownstreamIdentity | undefined;
  #initialCapabilities: ClientCapabilities | undefined;
  #initialClientInfo: Implementation | undefined;
  #terminal: BridgeRejection | undefined;
  #closing: Promise<void> | undefined;

  /** @internal Use `BridgeHub.createBridge`. */
  constructor(options: ResolvedBridgeOptions, link: BridgeLink) {
    this.#options = options;
    this.#link = link;
    this.downstreamSessionId = options.downstreamSessionId;
    this.routes = new MergedRoutes(options.namespace.gatewayIds);
    this.partialLists = new PartialLists({
      registry: options.registry,
      requests: options.requests,
      logger: link.logger,
      downstreamSessionId: options.downstreamSessionId,
      retryMs: options.partialListRetryMs,
      notify: (notification) => (this.#server === undefined || this.closed ? Promise.resolve() : this.#server.notification(notification)),
    });
  }

  /**
   * The downstream MCP server of this session; connect it to the session's
   * transport. Made on first access with the identity the upstreams lent it
   * (see `serverInfo`, `capabilities`, `instructions` of the options), so
   * access it after {@link SessionBridge.connect}.
   */
  get server(): Server {
    if (this.#server !== undefined) return this.#server;
    const identity = this.identity;
    this.#identity = identity;
    this.#server = new Server(identity.serverInfo, {
      // A copy per session: the SDK keeps the object it is given.
      capabilities: structuredClone(identity.capabilities),
      ...(identity.instructions !== undefined && { instructions: identity.instructions }),
    });
    installDownstreamHandlers(this);
    return this.#server;
  }

  /** The `serverInfo`, capabilities and instructions this session announces downstream (fixed once the server is made). */
  get identity(): DownstreamIdentity {
    if (this.#identity !== undefined) return this.#identity;
    const { serverInfo, capabilities, instructions } = this.#options;
    const byGateway = new Map(this.gatewayIds.map((id) => [id, this.#identities.get(id)]));
    return downstreamIdentity(
      byGateway,
      { serverInfo, capabilities, instructions },
      { serverInfo: DEFAULT_SERVER_INFO, capabilities: DEFAULT_BRIDGE_CAPABILITIES },
    );
  }

  /** The capabilities announced downstream. */
  get capabilities(): ServerCapabilities {
    return this.identity.capabilities;
  }

  /** @internal True once the downstream server exists (upstream traffic before that has nowhere to go). */
  get serving(): boolean {
    return this.#server !== undefined;
  }

  /** Gateway ids in configuration order. */
  get gatewayIds(): readonly string[] {
    return this.#options.namespace.gatewayIds;
  }

  /** How names and URIs are prefixed. */
  get namespace(): GatewayNamespace {
    return this.#options.namespace;
  }

  /** True once {@link SessionBridge.close} was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Whether the proxy may still serve this session: `undefined` if so, or the
   * rejection that ends it. A session becomes unservable when its upstream
   * session was lost (registry `onSessionLost: 'fail'`; answer 404 so the client
   * re-initializes) or another worker owns it (forward to `owner`, or answer 421).
   */
  admission(): BridgeRejection | undefined {
    return this.#terminal;
  }

  /**
   * Creates (or reuses) the upstream session of every gateway now, so that
   * capacity, ownership and lost-session errors become an HTTP answer before
   * the downstream transport handles the request (typically `initialize`).
   * Resolves `undefined` when the session may proceed: a gateway that fails to
   * connect is logged and reported on each call to it, unless every gateway
   * failed (then 502).
   */
  async connect(options: BridgeConnectOptions = {}): Promise<BridgeRejection | undefined> {
    if (options.clientCapabilities !== undefined) this.#initialCapabilities = options.clientCapabilities;
    if (options.clientInfo !== undefined) this.#initialClientInfo = options.clientInfo;
    if (this.#terminal) return this.#terminal;
    const { registry, requests } = this.#options;
    const results = await Promise.allSettled(
      [...requests].map(([gatewayId, request]) =>
        registry.use(request, async (client) => void this.#identities.set(gatewayId, identityOf(client)), { signal: options.signal }),
      ),
    );
    options.signal?.throwIfAborted();
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    for (const error of failures) {
      const rejection = this.#rejectionFor(error, true);
      if (rejection) return rejection;
    }
    for (const error of failures) {
      this.#link.logger.warn({ downstreamSessionId: this.downstreamSessionId, error: describeError(error) }, 'bridge: a gateway failed to connect');
    }
    if (failures.length === results.length && failures.length > 0) return this.#rejectionFor(failures[0], false, true);
    return undefined;
  }

  /**
   * Ends the session: unregisters from the hub, closes the downstream server
   * (and with it its transport) and evicts this session's upstream sessions
   * from the registry. Idempotent; resolves once the upstream sessions are closed.
   * With `{ handover: true }` the upstream sessions are left alone (no eviction):
   * another worker takes the downstream session over and re-attaches to them.
   * The first call decides.
   */
  close(options?: { readonly handover?: boolean }): Promise<void> {
    const evict = options?.handover !== true;
    // Deferred by a microtask so that a transport `onclose` calling close() again finds #closing set.
    this.#closing ??= Promise.resolve().then(() => this.#shutdown(evict));
    return this.#closing;
  }

  /** @internal Called by the hub when the registry reports this session's upstream lost under `onSessionLost: 'fail'`. */
  markLost(error: SessionLostError): void {
    this.#terminal ??= this.#rejectionFor(error, false);
  }

  /** @internal Called by the hub's `configureClient` for each new upstream client of this session. */
  configureUpstream(client: Client, gatewayId: string): void {
    if (!this.#options.requests.has(gatewayId)) return;
    configureUpstreamClient(this, client, gatewayId, this.#options.forwardClientInfo ? this.#clientInfo() : undefined);
    this.#configured.add(gatewayId);
  }

  /**
   * @internal Routes the notifications of an upstream client made as a warm
   * spare (already connected, no capabilities of this session's client) to
   * this session; see `BridgeHub.adoptClient`.
   */
  adoptUpstream(client: Client, gatewayId: string): void {
    if (!this.#options.requests.has(gatewayId)) return;
    adoptUpstreamClient(this, client, gatewayId);
    this.#configured.add(gatewayId);
  }

  /** @internal The options this bridge runs with. */
  get options(): ResolvedBridgeOptions {
    return this.#options;
  }

  /** @internal */
  get logger(): Logger {
    return this.#link.logger;
  }

  /** @internal Gateways whose upstream client this bridge configured (for downstream notifications). */
  get configuredGateways(): readonly string[] {
    return [...this.#configured];
  }

  /** @internal The downstream client's capabilities, from `initialize` or from {@link SessionBridge.connect}. */
  clientCapabilities(): ClientCapabilities {
    return this.#server?.getClientCapabilities() ?? this.#initialCapabilities ?? {};
  }

  #clientInfo(): Implementation | undefined {
    return this.#server?.getClientVersion() ?? this.#initialClientInfo;
  }

  /** @internal The downstream request to relate upstream traffic of this gateway to, if any. */
  relatedRequest(gatewayId: string): RequestId | undefined {
    if (!this.#options.relateToRequests) return undefined;
    const waiting = this.#inflight.get(gatewayId);
    return waiting?.[waiting.length - 1];
  }

  /**
   * @internal Runs `fn` with this session's upstream client of `gatewayId` and
   * `send`, which sends a request with options that carry the downstream
   * request's cancellation, timeout and (when `relayProgress`) its progress
   * token, inside the bridge's telemetry span and trace context. Errors come
   * out as the JSON-RPC error the downstream client should see.
   */
  async call<T>(
    gatewayId: string,
    extra: DownstreamExtra,
    fn: (client: Client, send: SendUpstream) => Promise<T>,
    relayProgress = true,
  ): Promise<T> {
    const request = this.#options.requests.get(gatewayId);
    if (request === undefined) throw new ForwardedJsonRpcError({ code: -32602, message: `Unknown gateway ${JSON.stringify(gatewayId)}` });
    const options = this.#requestOptions(extra, relayProgress);
    const untrack = this.#track(gatewayId, extra.requestId);
    const { registry, telemetry } = this.#options;
    try {
      return await registry.use(request, (client) => fn(client, upstreamSender(client, request, extra, options, telemetry)), {
        signal: extra.signal,
      });
    } catch (error) {
      throw this.#downstreamError(error);
    } finally {
      untrack();
    }
  }

  /** @internal Strips the downstream progress token from params sent upstream; the SDK adds its own when relaying. */
  forwardParams<P extends { _meta?: Record<string, unknown> } | undefined>(params: P): P {
    return withoutProgressToken(params);
  }

  #requestOptions(extra: DownstreamExtra, relayProgress: boolean): RequestOptions {
    const options: RequestOptions = { signal: extra.signal };
    if (this.#options.requestTimeoutMs !== undefined) options.timeout = this.#options.requestTimeoutMs;
    const token = extra._meta?.progressToken;
    if (!relayProgress || token === undefined) return options;
    options.resetTimeoutOnProgress = true;
    options.onprogress = (progress) => {
      extra.sendNotification({ method: 'notifications/progress', params: { ...progress, progressToken: token } }).catch((error: unknown) => {
        this.#link.logger.debug({ downstreamSessionId: this.downstreamSessionId, error: describeError(error) }, 'bridge: progress not delivered');
      });
    };
    return options;
  }

  #track(gatewayId: string, requestId: RequestId): () => void {
    const waiting = this.#inflight.get(gatewayId) ?? [];
    this.#inflight.set(gatewayId, waiting);
    waiting.push(requestId);
    return () => {
      const at = waiting.lastIndexOf(requestId);
      if (at >= 0) waiting.splice(at, 1);
      if (waiting.length === 0 && this.#inflight.get(gatewayId) === waiting) this.#inflight.delete(gatewayId);
    };
  }

  #downstreamError(error: unknown): ForwardedJsonRpcError {
    if (isTerminal(error)) this.#terminal ??= this.#rejectionFor(error, false);
    // The client gets a fixed message for infrastructure failures; the details go here.
    this.#link.logger.debug({ downstreamSessionId: this.downstreamSessionId, error: describeError(error) }, 'bridge: call failed');
    return new ForwardedJsonRpcError(toJsonRpcError(error, { retryAfterSeconds: this.#options.retryAfterSeconds }));
  }

  /**
   * The rejection for a registry error: terminal ones (lost, not owner) are
   * remembered; with `blocking`, capacity-like ones are returned too; with
   * `always`, any registry error is.
   */
  #rejectionFor(error: unknown, blocking: boolean, always = false): BridgeRejection | undefined {
    if (!(error instanceof RegistryError)) return undefined;
    const http = httpStatusForError(error, { retryAfterSeconds: this.#options.retryAfterSeconds });
    if (http === undefined) return undefined;
    const rejection: BridgeRejection = Object.freeze({
      ...http,
      error,
      ...(error instanceof NotOwnerError && { owner: error.owner }),
    });
    if (isTerminal(error)) {
      this.#terminal ??= rejection;
      return this.#terminal;
    }
    return always || (blocking && http.status === 503) ? rejection : undefined;
  }

  async #shutdown(evict: boolean): Promise<void> {
    this.#link.unregister(this);
    this.partialLists.close();
    try {
      await this.#server?.close();
    } catch (error) {
      this.#link.logger.debug({ downstreamSessionId: this.downstreamSessionId, error: describeError(error) }, 'bridge: downstream close failed');
    }
    if (!evict) return;
    try {
      await this.#options.registry.evictSession(this.downstreamSessionId);
    } catch (error) {
      this.#link.logger.warn({ downstreamSessionId: this.downstreamSessionId, error: describeError(error) }, 'bridge: evictSession failed');
    }
  }
}

