/**
 * {@link DownstreamSessions}: the table of a proxy's stateful downstream MCP
 * sessions, each with its transport and its bridge, and the per-request
 * routing every HTTP framework adapter needs.
 *
 * @module
 */

import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { type ClientCapabilities, type Implementation, isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { WorkerInfo } from '../affinity.js';
import { InvalidOptionsError, NotOwnerError, RegistryClosedError, RegistryError } from '../errors.js';
import { downstreamSessionIdFrom } from '../headers.js';
import type { BridgeBehaviour, BridgeGateway, BridgeRegistry } from './bridge-options.js';
import { validateBridgeBehaviour } from './bridge-options.js';
import { type HttpErrorResponse, SESSION_NOT_FOUND_JSONRPC_CODE, httpStatusForError } from './http-errors.js';
import type { BridgeHub } from './hub.js';
import { markTransportInitialized } from './resume-transport.js';
import type { BridgeRejection, SessionBridge } from './session-bridge.js';

/** A downstream transport as the SDK's Streamable HTTP server transports are. */
export type DownstreamTransport = Transport & { readonly sessionId?: string | undefined };

/** What {@link DownstreamSessionsOptions.createTransport} must pass to the SDK transport. */
export interface SessionTransportOptions {
  /** Returns the id the table chose for the new session; pass it on as the transport's `sessionIdGenerator`. */
  readonly sessionIdGenerator: () => string;
}

/** Headers as HTTP frameworks hand them over. */
export type IncomingHeaders = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * Where a session this worker has no transport for lives, as
 * {@link DownstreamSessionsOptions.locateSession} answers it:
 * - a {@link WorkerInfo}: another live worker serves it (`dispatch` answers `not-owner`);
 * - `'resume'`: this worker owns it now (it took the session over from a
 *   worker that died): `dispatch` rebuilds the session here, as already
 *   initialized, and its upstream sessions re-attach (see `mcpSessionFactory({ sessionStore })`);
 * - `undefined`: nobody has it (404: the client re-initializes).
 */
export type SessionLocation = WorkerInfo | 'resume' | undefined;

/** What {@link DownstreamSessionsOptions.gateways} gets to pick the gateways of a new session. */
export interface GatewayContext {
  readonly downstreamSessionId: string;
  /** Headers of the `initialize` request, e.g. to pick per-user upstream credentials. */
  readonly headers: Headers;
}

/** Options of {@link DownstreamSessions}. Unknown keys are rejected. */
export interface DownstreamSessionsOptions<T extends DownstreamTransport> {
  hub: BridgeHub;
  registry: BridgeRegistry;
  /** The gateways of every session, or a function choosing them per session. */
  gateways: readonly BridgeGateway[] | ((context: GatewayContext) => readonly BridgeGateway[] | Promise<readonly BridgeGateway[]>);
  /**
   * Makes the transport of a new session, e.g.
   * `(o) => new StreamableHTTPServerTransport(o)`. Spread the options in: the
   * session id must be the one the table chose.
   */
  createTransport: (options: SessionTransportOptions) => T;
  /** How each bridge behaves (namespacing, timeouts, capabilities...). */
  bridge?: BridgeBehaviour;
  /** Makes downstream session ids. Default `crypto.randomUUID()`. */
  generateSessionId?: () => string;
  /**
   * Multi-worker proxies: for a session id this worker has no transport for,
   * say where the session lives (see {@link SessionLocation}): the live worker
   * that serves it (dispatch answers `not-owner` so you can forward the request
   * there with `forwardToOwner`), `'resume'` when this worker owns it now, or
   * `undefined` (404). Never name this worker itself. `affinityLocator` makes
   * one from an `Affinity` and the factory's session store. A `RegistryError`
   * it throws (e.g. `AffinityUnavailableError`) becomes its HTTP answer (503).
   */
  locateSession?: (downstreamSessionId: string) => SessionLocation | Promise<SessionLocation>;
}

/** An incoming HTTP request on the MCP endpoint, as far as routing needs it. */
export interface IncomingMcpRequest {
  /** HTTP method. */
  readonly method: string;
  readonly headers: IncomingHeaders;
  /** The parsed JSON body of a POST. */
  readonly body?: unknown;
  /** Aborts when the HTTP request goes away. */
  readonly signal?: AbortSignal;
}

/** One live downstream session. */
export interface DownstreamSession<T extends DownstreamTransport> {
  readonly id: string;
  readonly transport: T;
  readonly bridge: SessionBridge;
}

/**
 * What became of a request:
 * - `handled`: the session's transport handled it; `value` is what your handler returned.
 * - `respond`: answer with `status`, `headers` and the JSON `body` yourself
 *   (unknown session 404, lost upstream session 404, capacity 503 + Retry-After, ...).
 * - `not-owner`: another worker owns the session; forward the request to
 *   `owner`, or answer with the 421 in `status`/`headers`/`body`.
 */
export type DispatchOutcome<R> =
  | { readonly kind: 'handled'; readonly value: R }
  | ({ readonly kind: 'respond' } & HttpErrorResponse)
  | ({ readonly kind: 'not-owner'; readonly owner: WorkerInfo } & HttpErrorResponse);

const OPTION_KEYS: ReadonlySet<string> = new Set([
  'hub',
  'registry',
  'gateways',
  'createTransport',
  'bridge',
  'generateSessionId',
  'locateSession',
]);

function errorResponse(status: number, code: number, message: string): HttpErrorResponse {
  return { status, headers: {}, body: { jsonrpc: '2.0', id: null, error: { code, message } } };
}

function toHeaders(headers: IncomingHeaders): Headers {
  if (headers instanceof Headers) return headers;
  const result = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of typeof value === 'string' ? [value] : value) result.append(name, v);
  }
  return result;
}

function hasSessionHeader(headers: IncomingHeaders): boolean {
  return headers instanceof Headers ? headers.has('mcp-session-id') : headers['mcp-session-id'] !== undefined;
}

function outcomeOf<R>(rejection: BridgeRejection): DispatchOutcome<R> {
  const { status, headers, body } = rejection;
  if (rejection.owner !== undefined) return { kind: 'not-owner', owner: rejection.owner, status, headers, body };
  return { kind: 'respond', status, headers, body };
}

function checkOptions<T extends DownstreamTransport>(options: DownstreamSessionsOptions<T>): void {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionsError('options', 'must be an object');
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw new InvalidOptionsError(/^[\w$]{1,64}$/.test(key) ? key : 'options', 'unknown option');
  }
  if (typeof options.hub?.createBridge !== 'function') throw new InvalidOptionsError('hub', 'must be a BridgeHub');
  if (typeof options.registry?.use !== 'function') throw new InvalidOptionsError('registry', 'must be a registry');
  if (typeof options.createTransport !== 'function') throw new InvalidOptionsError('createTransport', 'must be a function');
  if (typeof options.gateways !== 'function' && !Array.isArray(options.gateways)) {
    throw new InvalidOptionsError('gateways', 'must be an array or a function');
  }
  for (const name of ['generateSessionId', 'locateSession'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') throw new InvalidOptionsError(name, 'must be a function');
  }
  validateBridgeBehaviour(options.bridge);
}

/**
 * The stateful downstream sessions of one MCP endpoint. For each HTTP request,
 * {@link DownstreamSessions.dispatch} finds (or, for `initialize`, creates) the
 * session, refuses it with the right HTTP status when the registry says so,
 * and otherwise hands the session's transport to your handler. A session
 * ends when its client sends DELETE, its transport closes, or
 * {@link DownstreamSessions.close} is called; its upstream sessions are then
 * evicted from the registry.
 *
 * Runtime-neutral: it works with the SDK's `StreamableHTTPServerTransport`
 * (Node, Express) and `WebStandardStreamableHTTPServerTransport` (Hono, Bun,
 * Deno, Workers) alike.
 *
 * @example
 * ```ts
 * const sessions = new DownstreamSessions({
 *   hub, registry, gateways,
 *   createTransport: (o) => new StreamableHTTPServerTransport(o),
 * });
 * app.all('/mcp', async (req, res) => {
 *   const outcome = await sessions.dispatch(
 *     { method: req.method, headers: req.headers, body: req.body },
 *     (transport) => transport.handleRequest(req, res, req.body),
 *   );
 *   if (outcome.kind !== 'handled') res.status(outcome.status).set(outcome.headers).json(outcome.body);
 * });
 * ```
 */
export class DownstreamSessions<T extends DownstreamTransport> {
  readonly #options: DownstreamSessionsOptions<T>;
  readonly #sessions = new Map<string, DownstreamSession<T>>();
  readonly #ending = new Set<Promise<void>>();
  /** Sessions being resumed, so concurrent requests of one session rebuild it once. */
  readonly #resuming = new Map<string, Promise<DownstreamSession<T> | DispatchOutcome<never>>>();
  #closed = false;

  /** Throws `InvalidOptionsError` for an unknown or malformed option. */
  constructor(options: DownstreamSessionsOptions<T>) {
    checkOptions(options);
    this.#options = options;
  }

  /** Live sessions. */
  get size(): number {
    return this.#sessions.size;
  }

  /** The live session with this id, if any. */
  get(downstreamSessionId: string): DownstreamSession<T> | undefined {
    return this.#sessions.get(downstreamSessionId);
  }

  /** Ids of the live sessions. */
  ids(): string[] {
    return [...this.#sessions.keys()];
  }

  /**
   * Routes one request on the MCP endpoint. `handle` runs with the session's
   * transport unless the request is refused; it is where your framework calls
   * `transport.handleRequest(...)`. Rejects only when `handle` rejects or the
   * request's signal aborts while the upstream sessions of a new session connect.
   */
  async dispatch<R>(request: IncomingMcpRequest, handle: (transport: T) => Promise<R>): Promise<DispatchOutcome<R>> {
    const id = downstreamSessionIdFrom(request.headers);
    if (id !== undefined || hasSessionHeader(request.headers)) return this.#existing(id, request, handle);
    if (request.method !== 'POST' || !isInitializeRequest(request.body)) {
      return { kind: 'respond', ...errorResponse(400, -32000, 'Bad Request: No valid session ID provided') };
    }
    return this.#open(request, handle);
  }

  /** Ends one session: closes its transport and evicts its upstream sessions. Resolves when they are closed. */
  async close(downstreamSessionId: string): Promise<void> {
    const session = this.#sessions.get(downstreamSessionId);
    if (session === undefined) return;
    this.#sessions.delete(downstreamSessionId);
    await this.#end(session);
  }

  /** Ends every session and refuses new ones (503). Call before `registry.closeAll()`. */
  async closeAll(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.ids().map((id) => this.close(id)));
    await Promise.all([...this.#ending]);
  }

  async #existing<R>(
    id: string | undefined,
    request: IncomingMcpRequest,
    handle: (transport: T) => Promise<R>,
  ): Promise<DispatchOutcome<R>> {
    let session = id === undefined ? undefined : this.#sessions.get(id);
    if (session === undefined) {
      const found = id === undefined ? undefined : await this.#locate(id, request);
      if (found === undefined) return { kind: 'respond', ...errorResponse(404, SESSION_NOT_FOUND_JSONRPC_CODE, 'Session not found') };
      if (!('bridge' in found)) return found;
      session = found;
    }
    const rejection = session.bridge.admission();
    if (rejection === undefined) return { kind: 'handled', value: await handle(session.transport) };
    // A lost upstream session ends the downstream one: the client re-initializes on the 404.
    if (rejection.owner === undefined) void this.close(session.id);
    return outcomeOf(rejection);
  }

  async #open<R>(request: IncomingMcpRequest, handle: (transport: T) => Promise<R>): Promise<DispatchOutcome<R>> {
    if (this.#closed) return { kind: 'respond', ...(httpStatusForError(new RegistryClosedError('The proxy is shutting down')) as HttpErrorResponse) };
    const id = this.#options.generateSessionId?.() ?? crypto.randomUUID();
    const bridge = await this.#createBridge(id, request);
    const { capabilities, clientInfo } = (request.body as { params: { capabilities: ClientCapabilities; clientInfo?: Implementation } }).params;
    // The registry claims the session for this worker here, before the client learns its id.
    const rejection = await this.#connect(bridge, request, capabilities, clientInfo);
    if (rejection !== undefined) return outcomeOf(rejection);
    const session = await this.#install(id, bridge, false);
    const { transport } = session;
    try {
      return { kind: 'handled', value: await handle(transport) };
    } finally {
      // The transport refused the initialize (bad headers, bad body): nothing to keep.
      if (transport.sessionId === undefined) void this.close(id);
    }
  }

  /**
   * A session this worker has no transport for: forward it, resume it here, or
   * `undefined` (404). Errors of the locator that are registry errors become
   * their HTTP answer.
   */
  async #locate(id: string, request: IncomingMcpRequest): Promise<DownstreamSession<T> | DispatchOutcome<never> | undefined> {
    const locate = this.#options.locateSession;
    if (locate === undefined) return undefined;
    let location: SessionLocation;
    try {
      location = await locate(id);
    } catch (error) {
      const http = error instanceof RegistryError ? httpStatusForError(error) : undefined;
      if (http === undefined) throw error;
      return { kind: 'respond', ...http };
    }
    if (location === undefined) return undefined;
    if (location !== 'resume') {
      return { kind: 'not-owner', owner: location, ...(httpStatusForError(new NotOwnerError(id, location)) as HttpErrorResponse) };
    }
    const resuming = this.#resuming.get(id) ?? this.#resume(id, request);
    return resuming;
  }

  /**
   * Rebuilds a session whose `initialize` another worker answered: a bridge
   * whose upstream sessions re-attach (through the factory's session store),
   * and a transport marked initialized with the session's id.
   */
  #resume(id: string, request: IncomingMcpRequest): Promise<DownstreamSession<T> | DispatchOutcome<never>> {
    const work = (async (): Promise<DownstreamSession<T> | DispatchOutcome<never>> => {
      const live = this.#sessions.get(id);
      if (live !== undefined) return live;
      if (this.#closed) return { kind: 'respond', ...(httpStatusForError(new RegistryClosedError('The proxy is shutting down')) as HttpErrorResponse) };
      const bridge = await this.#createBridge(id, request);
      // Without the downstream initialize, the client's capabilities are unknown here.
      const rejection = await this.#connect(bridge, request, undefined);
      if (rejection !== undefined) return outcomeOf(rejection);
      return this.#install(id, bridge, true);
    })();
    this.#resuming.set(id, work);
    void work.then(
      () => this.#resuming.delete(id),
      () => this.#resuming.delete(id),
    );
    return work;
  }

  async #createBridge(id: string, request: IncomingMcpRequest): Promise<SessionBridge> {
    const options = this.#options;
    const gateways =
      typeof options.gateways === 'function'
        ? await options.gateways({ downstreamSessionId: id, headers: toHeaders(request.headers) })
        : options.gateways;
    return options.hub.createBridge({ ...options.bridge, registry: options.registry, downstreamSessionId: id, gateways });
  }

  /** Connects the bridge's upstream sessions; a rejection closes the bridge. */
  async #connect(
    bridge: SessionBridge,
    request: IncomingMcpRequest,
    clientCapabilities: ClientCapabilities | undefined,
    clientInfo?: Implementation,
  ): Promise<BridgeRejection | undefined> {
    let rejection: BridgeRejection | undefined;
    try {
      rejection = await bridge.connect({ signal: request.signal, ...(clientCapabilities && { clientCapabilities }), ...(clientInfo && { clientInfo }) });
    } catch (error) {
      await bridge.close();
      throw error;
    }
    if (rejection !== undefined) await bridge.close();
    return rejection;
  }

  /** Makes the session's transport, connects the bridge's server to it and adds the session to the table. */
  async #install(id: string, bridge: SessionBridge, resumed: boolean): Promise<DownstreamSession<T>> {
    const transport = this.#options.createTransport({ sessionIdGenerator: () => id });
    const session: DownstreamSession<T> = { id, transport, bridge };
    try {
      if (resumed) markTransportInitialized(transport, id);
      const previous = transport.onclose;
      transport.onclose = () => {
        previous?.();
        this.#ended(session);
      };
      await bridge.server.connect(transport);
    } catch (error) {
      await bridge.close();
      throw error;
    }
    this.#sessions.set(id, session);
    return session;
  }

  /** The transport closed (DELETE, shutdown, or the server closed it). */
  #ended(session: DownstreamSession<T>): void {
    if (this.#sessions.get(session.id) === session) this.#sessions.delete(session.id);
    void this.#end(session);
  }

  #end(session: DownstreamSession<T>): Promise<void> {
    const ending = session.bridge.close();
    this.#ending.add(ending);
    return ending.finally(() => this.#ending.delete(ending));
  }
}
