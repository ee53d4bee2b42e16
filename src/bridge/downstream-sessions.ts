/**
 * {@link DownstreamSessions}: the table of a proxy's stateful downstream MCP
 * sessions, each with its transport and its bridge, and the per-request
 * routing every HTTP framework adapter needs.
 *
 * @module
 */

import type { EventStore } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { type ClientCapabilities, type Implementation, isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { WorkerInfo } from '../affinity.js';
import { type Clock, systemClock } from '../clock.js';
import { InvalidOptionsError, NotOwnerError, RegistryClosedError, RegistryError } from '../errors.js';
import { downstreamSessionIdFrom } from '../headers.js';
import { type Logger, silentLogger } from '../logger.js';
import { assertKnownKeys, count, flag, isRecord, milliseconds, optionsObject } from '../internal/validate.js';
import { type Deferred, deferred } from '../internal/deferred.js';
import { waitWithin } from '../internal/close.js';
import { showValue } from '../show-value.js';
import type { BridgeBehaviour, BridgeGateway, BridgeRegistry } from './bridge-options.js';
import { validateBridgeBehaviour } from './bridge-options.js';
import {
  type HttpErrorResponse,
  SESSION_NOT_FOUND_JSONRPC_CODE,
  describeError,
  downstreamCapacityResponse,
  httpStatusForError,
} from './http-errors.js';
import type { BridgeHub } from './hub.js';
import { markTransportInitialized } from './resume-transport.js';
import type { BridgeRejection, SessionBridge } from './session-bridge.js';
import { type SessionActivity, SessionSweeper } from './session-sweeper.js';
import type { SessionRetiredEvent } from '../events.js';
import type { DownstreamClientRecord, DownstreamClientStore } from '../mcp/session-store.js';
import { sessionEventStore } from './session-event-store.js';

/** A downstream transport as the SDK's Streamable HTTP server transports are. */
export type DownstreamTransport = Transport & { readonly sessionId?: string | undefined };

/** What {@link DownstreamSessionsOptions.createTransport} must pass to the SDK transport. */
export interface SessionTransportOptions {
  /** Returns the id the table chose for the new session; pass it on as the transport's `sessionIdGenerator`. */
  readonly sessionIdGenerator: () => string;
  /** This session's view of {@link DownstreamSessionsOptions.eventStore}, when one is set. */
  readonly eventStore?: EventStore;
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
  /**
   * Most downstream sessions at once, counting sessions being opened or
   * resumed. An `initialize` beyond it gets 503 with `Retry-After` and leaves
   * nothing behind. Default 10 000.
   */
  maxSessions?: number;
  /**
   * A session with no request in flight and no open stream for this long is
   * ended (its upstream sessions evicted; later requests get 404). Checked by
   * one unref'd timer, so a session ends at most half this much later. 0 turns
   * it off (sessions then end only on DELETE, transport close or `close`).
   * Default 600 000 (10 minutes). A stream counts as open from its GET until
   * the request's `signal` aborts: pass a signal that aborts when the HTTP
   * exchange ends.
   */
  idleTimeoutMs?: number;
  /**
   * Keep the upstream sessions of a downstream session whose GET stream is
   * open from the registry's idle expiry, by calling `registry.touch(id)`
   * every `keepAliveIntervalMs` (a registry without `touch` is left alone).
   * Default true.
   */
  keepAliveWhileStreaming?: boolean;
  /** How often open-stream sessions are kept alive; keep it below the registry's `idleTtlMs`. Default 60 000. */
  keepAliveIntervalMs?: number;
  /** Time source of the idle timer. Default: the system clock; tests pass a `ManualClock`. */
  clock?: Clock;
  /** Where refusals caused by infrastructure (locator or affinity failures) are logged with details. Default: silent. */
  logger?: Logger;
  /**
   * Makes streams resumable: every SSE event gets an id, kept here, and a
   * client reconnecting with `Last-Event-ID` gets what it missed. Each
   * session's transport gets a view scoped to that session (passed in
   * {@link SessionTransportOptions}). E.g. `MemoryEventStore`, or the Redis
   * store of `/redis` to resume on another worker. Must implement `getStreamIdForEventId`.
   */
  eventStore?: EventStore;
  /**
   * Multi-worker proxies: where what each client sent at `initialize`
   * (protocol version, capabilities, clientInfo) is kept, so a session resumed
   * on another worker declares the client's sampling, elicitation and roots
   * capabilities to its upstreams (and forwards its clientInfo) as the first
   * worker did. E.g. the `RedisSessionStore` of `/redis`. Written once per
   * `initialize` (a failure is logged, the session goes on), read once per resume.
   */
  clientStore?: DownstreamClientStore;
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

/** Options of {@link DownstreamSessions.closeAll}. Unknown keys are rejected. */
export interface CloseSessionsOptions {
  /**
   * Hand the sessions over to other workers (graceful shutdown of one of many
   * workers): refuse new requests (503 with `Retry-After`, which the client
   * may retry; another worker then serves it), wait for the requests in flight
   * to be answered (at most `drainTimeoutMs`), then close every transport
   * without evicting its upstream sessions. Follow with
   * `registry.closeAll({ handover: true })`. Default false: end every session.
   */
  handover?: boolean;
  /** With `handover`: the longest wait for requests in flight. Default 10 000. */
  drainTimeoutMs?: number;
}

const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

const CLOSE_OPTION_KEYS: ReadonlySet<string> = new Set(['handover', 'drainTimeoutMs']);

function checkCloseOptions(options: CloseSessionsOptions | undefined): { handover: boolean; drainTimeoutMs: number } {
  if (options === undefined) return { handover: false, drainTimeoutMs: DEFAULT_DRAIN_TIMEOUT_MS };
  const o = optionsObject('options', options);
  assertKnownKeys(o, CLOSE_OPTION_KEYS);
  return {
    handover: flag('handover', o.handover, false),
    drainTimeoutMs: milliseconds('drainTimeoutMs', o.drainTimeoutMs, { zero: true, integer: true }) ?? DEFAULT_DRAIN_TIMEOUT_MS,
  };
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
  'maxSessions',
  'idleTimeoutMs',
  'keepAliveWhileStreaming',
  'keepAliveIntervalMs',
  'clock',
  'logger',
  'eventStore',
  'clientStore',
]);

const DEFAULT_MAX_SESSIONS = 10_000;
const DEFAULT_IDLE_TIMEOUT_MS = 600_000;
const DEFAULT_KEEP_ALIVE_INTERVAL_MS = 60_000;

/** A live session with what the idle timer needs to know of it. */
interface Entry<T extends DownstreamTransport> extends SessionActivity {
  readonly session: DownstreamSession<T>;
  /** Requests other than GET being handled, and JSON-RPC requests not yet answered: what a handover waits for. */
  busy: number;
}

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

/** False when a handler's answer shows no stream was opened (a web `Response` that is an error or not SSE). */
function mayBeStream(value: unknown): boolean {
  if (!(value instanceof Response)) return true;
  return value.ok && (value.headers.get('content-type') ?? '').includes('text/event-stream');
}

function notFound(): DispatchOutcome<never> {
  return { kind: 'respond', ...errorResponse(404, SESSION_NOT_FOUND_JSONRPC_CODE, 'Session not found') };
}

function notOwner(id: string, owner: WorkerInfo): DispatchOutcome<never> {
  return { kind: 'not-owner', owner, ...(httpStatusForError(new NotOwnerError(id, owner)) as HttpErrorResponse) };
}

function outcomeOf<R>(rejection: BridgeRejection): DispatchOutcome<R> {
  const { status, headers, body } = rejection;
  if (rejection.owner !== undefined) return { kind: 'not-owner', owner: rejection.owner, status, headers, body };
  return { kind: 'respond', status, headers, body };
}

function checkOptions<T extends DownstreamTransport>(options: DownstreamSessionsOptions<T>): void {
  if (!isRecord(options)) throw new InvalidOptionsError('options', `expected an object, got ${showValue(options)}`);
  assertKnownKeys(options, OPTION_KEYS);
  if (typeof options.hub?.createBridge !== 'function') throw new InvalidOptionsError('hub', 'must be a BridgeHub');
  if (typeof options.registry?.use !== 'function') throw new InvalidOptionsError('registry', 'must be a registry');
  if (typeof options.createTransport !== 'function') throw new InvalidOptionsError('createTransport', 'must be a function');
  if (typeof options.gateways !== 'function' && !Array.isArray(options.gateways)) {
    throw new InvalidOptionsError('gateways', 'must be an array or a function');
  }
  for (const name of ['generateSessionId', 'locateSession'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') throw new InvalidOptionsError(name, 'must be a function');
  }
  count('maxSessions', options.maxSessions);
  milliseconds('idleTimeoutMs', options.idleTimeoutMs, { zero: true, integer: true });
  milliseconds('keepAliveIntervalMs', options.keepAliveIntervalMs, { integer: true });
  flag('keepAliveWhileStreaming', options.keepAliveWhileStreaming, false);
  if (options.clock !== undefined && typeof options.clock?.setTimeout !== 'function') throw new InvalidOptionsError('clock', 'must be a Clock');
  if (options.logger !== undefined && typeof options.logger?.warn !== 'function') throw new InvalidOptionsError('logger', 'must be a Logger');
  const store = options.eventStore;
  if (store !== undefined && (typeof store?.storeEvent !== 'function' || typeof store.getStreamIdForEventId !== 'function')) {
    throw new InvalidOptionsError('eventStore', 'must be an EventStore with getStreamIdForEventId');
  }
  const clients = options.clientStore;
  if (clients !== undefined && (typeof clients?.getClient !== 'function' || typeof clients.setClient !== 'function')) {
    throw new InvalidOptionsError('clientStore', 'must be a DownstreamClientStore (getClient, setClient)');
  }
  validateBridgeBehaviour(options.bridge);
}

/**
 * The stateful downstream sessions of one MCP endpoint. For each HTTP request,
 * {@link DownstreamSessions.dispatch} finds (or, for `initialize`, creates) the
 * session, refuses it with the right HTTP status when the registry says so,
 * and otherwise hands the session's transport to your handler. A session
 * ends when its client sends DELETE, its transport closes, it stays idle for
 * `idleTimeoutMs`, or {@link DownstreamSessions.close} is called; its upstream
 * sessions are then evicted from the registry. The table holds at most
 * `maxSessions` sessions.
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
 *   const aborted = new AbortController();
 *   res.on('close', () => aborted.abort());
 *   const outcome = await sessions.dispatch(
 *     { method: req.method, headers: req.headers, body: req.body, signal: aborted.signal },
 *     (transport) => transport.handleRequest(req, res, req.body),
 *   );
 *   if (outcome.kind !== 'handled') res.status(outcome.status).set(outcome.headers).json(outcome.body);
 * });
 * ```
 */
export class DownstreamSessions<T extends DownstreamTransport> {
  readonly #options: DownstreamSessionsOptions<T>;
  readonly #entries = new Map<string, Entry<T>>();
  readonly #ending = new Set<Promise<void>>();
  /** Sessions being resumed, so concurrent requests of one session rebuild it once. */
  readonly #resuming = new Map<string, Promise<DownstreamSession<T> | DispatchOutcome<never>>>();
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #maxSessions: number;
  readonly #keepAlive: boolean;
  readonly #sweeper: SessionSweeper;
  /** Sessions being opened or resumed: they count against `maxSessions` before they are in the table. */
  #pending = 0;
  /** Sessions whose ownership the registry lost (multi-worker): claimed again before their next request runs. */
  readonly #unowned = new Set<string>();
  readonly #onRetired = (event: SessionRetiredEvent): void => {
    if (event.reason === 'ownership-lost' && this.#entries.has(event.downstreamSessionId)) this.#unowned.add(event.downstreamSessionId);
  };
  #closed = false;
  /** Set while handing over: every request is refused, and this resolves when none is in flight. */
  #handover: Deferred<void> | undefined;

  /** Throws `InvalidOptionsError` for an unknown or malformed option. */
  constructor(options: DownstreamSessionsOptions<T>) {
    checkOptions(options);
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
    this.#maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.#keepAlive = options.keepAliveWhileStreaming ?? true;
    this.#sweeper = new SessionSweeper(
      this.#clock,
      {
        entries: () => this.#entries,
        expire: (id) => void this.close(id),
        keepAlive: (id) => this.#touch(id),
      },
      {
        idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
        keepAliveIntervalMs: this.#keepAlive ? (options.keepAliveIntervalMs ?? DEFAULT_KEEP_ALIVE_INTERVAL_MS) : 0,
      },
    );
    options.registry.on('session:retired', this.#onRetired);
  }

  /** Live sessions. */
  get size(): number {
    return this.#entries.size;
  }

  /** The live session with this id, if any. */
  get(downstreamSessionId: string): DownstreamSession<T> | undefined {
    return this.#entries.get(downstreamSessionId)?.session;
  }

  /** Ids of the live sessions. */
  ids(): string[] {
    return [...this.#entries.keys()];
  }

  /**
   * Routes one request on the MCP endpoint. `handle` runs with the session's
   * transport unless the request is refused; it is where your framework calls
   * `transport.handleRequest(...)`. An `initialize` always opens a new session,
   * whatever session id headers it carries (a client re-initializing after a
   * 404 may still send its old id). Rejects only when `handle` rejects or the
   * request's signal aborts while the upstream sessions of a new session connect.
   */
  async dispatch<R>(request: IncomingMcpRequest, handle: (transport: T) => Promise<R>): Promise<DispatchOutcome<R>> {
    if (request.method === 'POST' && isInitializeRequest(request.body)) return this.#open(request, handle);
    const id = downstreamSessionIdFrom(request.headers);
    if (id !== undefined || hasSessionHeader(request.headers)) return this.#existing(id, request, handle);
    return { kind: 'respond', ...errorResponse(400, -32000, 'Bad Request: No valid session ID provided') };
  }

  /** Ends one session: closes its transport and evicts its upstream sessions. Resolves when they are closed. */
  async close(downstreamSessionId: string): Promise<void> {
    const entry = this.#entries.get(downstreamSessionId);
    if (entry === undefined) return;
    this.#remove(entry.session);
    this.#unowned.delete(downstreamSessionId);
    await this.#end(entry.session);
  }

  /**
   * Ends every session and refuses new ones (503). Call before
   * `registry.closeAll()`. With `{ handover: true }` the sessions are handed
   * over instead (see {@link CloseSessionsOptions.handover}): their upstream
   * sessions stay for the worker that takes them over.
   *
   * @throws {InvalidOptionsError} for malformed options (nothing is closed then).
   */
  async closeAll(options?: CloseSessionsOptions): Promise<void> {
    const { handover, drainTimeoutMs } = checkCloseOptions(options);
    this.#closed = true;
    this.#sweeper.stop();
    this.#options.registry.off('session:retired', this.#onRetired);
    if (handover) return this.#handOver(drainTimeoutMs);
    await Promise.all(this.ids().map((id) => this.close(id)));
    await Promise.all([...this.#ending]);
  }

  async #handOver(drainTimeoutMs: number): Promise<void> {
    this.#handover ??= deferred<void>();
    this.#noteQuiet();
    if (!(await waitWithin(this.#handover.promise, drainTimeoutMs, this.#clock))) {
      this.#logger.warn({ drainTimeoutMs }, 'downstream sessions: requests still in flight at handover; their answers are cut');
    }
    for (const entry of [...this.#entries.values()]) {
      this.#remove(entry.session);
      this.#unowned.delete(entry.session.id);
      this.#track(entry.session.bridge.close({ handover: true }));
    }
    await Promise.all([...this.#ending]);
  }

  /** A request ended: while handing over, the last one lets the transports close. */
  #noteQuiet(): void {
    if (this.#handover === undefined) return;
    for (const entry of this.#entries.values()) if (entry.busy > 0) return;
    this.#handover.resolve();
  }

  async #existing<R>(
    id: string | undefined,
    request: IncomingMcpRequest,
    handle: (transport: T) => Promise<R>,
  ): Promise<DispatchOutcome<R>> {
    // Handing over: another worker serves this session from now on; the client retries there.
    if (this.#handover !== undefined) return { kind: 'respond', ...this.#shuttingDown() };
    let session = id === undefined ? undefined : this.get(id);
    if (session === undefined) {
      const found = id === undefined ? undefined : await this.#locate(id, request);
      if (found === undefined) return notFound();
      if (!('bridge' in found)) return found;
      session = found;
    }
    const rejection = session.bridge.admission();
    if (rejection === undefined) {
      const refused = await this.#reclaim(session, request);
      if (refused !== undefined) return refused;
      return { kind: 'handled', value: await this.#handle(session, request, handle) };
    }
    // A lost upstream session ends the downstream one: the client re-initializes on the 404.
    if (rejection.owner === undefined) void this.close(session.id);
    return outcomeOf(rejection);
  }

  /** Runs `handle`, recording the activity the idle timer reads; a GET's stream stays open until its signal aborts. */
  async #handle<R>(session: DownstreamSession<T>, request: IncomingMcpRequest, handle: (transport: T) => Promise<R>): Promise<R> {
    const entry = this.#entries.get(session.id);
    if (entry === undefined) return handle(session.transport);
    // A GET's handler may last as long as its stream: a handover does not wait for it.
    const busy = request.method === 'GET' ? 0 : 1;
    entry.inflight++;
    entry.busy += busy;
    entry.lastActivity = this.#clock.now();
    let value: R;
    try {
      value = await handle(session.transport);
    } finally {
      entry.inflight--;
      entry.busy -= busy;
      entry.lastActivity = this.#clock.now();
      this.#noteQuiet();
    }
    const { signal } = request;
    if (request.method === 'GET' && signal !== undefined && !signal.aborted && mayBeStream(value)) {
      entry.streams++;
      signal.addEventListener(
        'abort',
        () => {
          entry.streams--;
          entry.lastActivity = this.#clock.now();
        },
        { once: true },
      );
    }
    return value;
  }

  /** Refuses a new session when the table is closed or full, counting sessions still being opened. */
  #refusal(): HttpErrorResponse | undefined {
    if (this.#closed) return this.#shuttingDown();
    if (this.#entries.size + this.#pending < this.#maxSessions) return undefined;
    this.#logger.warn({ maxSessions: this.#maxSessions }, 'downstream sessions: at capacity, initialize refused');
    return downstreamCapacityResponse(this.#retryOptions());
  }

  /** 503 with `Retry-After`: nothing ran, the client may retry (on another worker). */
  #shuttingDown(): HttpErrorResponse {
    return httpStatusForError(new RegistryClosedError('The proxy is shutting down'), this.#retryOptions()) as HttpErrorResponse;
  }

  #retryOptions(): { retryAfterSeconds?: number } {
    const seconds = this.#options.bridge?.retryAfterSeconds;
    return seconds === undefined ? {} : { retryAfterSeconds: seconds };
  }

  /**
   * A session whose ownership was lost (e.g. Redis stayed away past the
   * ownership TTL) is claimed again before the transport sees the request, so
   * that an unreachable Redis is a 503 with Retry-After and a new owner a
   * `not-owner` answer, never a JSON-RPC error inside an HTTP 200. With a
   * `locateSession`, the claim must also find the session's records: a session
   * whose records are gone (Redis restarted empty) is lost (404, the client
   * re-initializes), never rebuilt with fresh upstream sessions under its old id.
   */
  async #reclaim(session: DownstreamSession<T>, request: IncomingMcpRequest): Promise<DispatchOutcome<never> | undefined> {
    if (!this.#unowned.has(session.id)) return undefined;
    if (this.#options.locateSession !== undefined) {
      const location = await this.#located(session.id);
      // Redis away: keep the session, the next request claims again.
      if (location !== undefined && typeof location === 'object' && 'kind' in location) return location;
      if (location !== 'resume') {
        // Another worker serves it now (later requests locate it afresh), or nobody has its records.
        void this.close(session.id);
        return location === undefined ? notFound() : notOwner(session.id, location);
      }
    }
    const rejection = await session.bridge.connect({ signal: request.signal });
    if (rejection === undefined) this.#unowned.delete(session.id);
    // Another worker serves it now (drop this copy: later requests locate the owner afresh), or it is lost (404).
    // A 503 (Redis away) keeps it: the next request claims again.
    else if (rejection.owner !== undefined || rejection.status === 404) void this.close(session.id);
    return rejection === undefined ? undefined : outcomeOf(rejection);
  }

  async #open<R>(request: IncomingMcpRequest, handle: (transport: T) => Promise<R>): Promise<DispatchOutcome<R>> {
    const refused = this.#refusal();
    if (refused !== undefined) return { kind: 'respond', ...refused };
    this.#pending++;
    let session: DownstreamSession<T>;
    const id = this.#options.generateSessionId?.() ?? crypto.randomUUID();
    try {
      const bridge = await this.#createBridge(id, request);
      const { capabilities, clientInfo, protocolVersion } = (
        request.body as { params: { capabilities: ClientCapabilities; clientInfo?: Implementation; protocolVersion?: string } }
      ).params;
      // The registry claims the session for this worker here, before the client learns its id.
      const rejection = await this.#connect(bridge, request, capabilities, clientInfo);
      if (rejection !== undefined) return outcomeOf(rejection);
      // After the claim: a store like Redis's writes only for the session's owner.
      await this.#remember(id, { capabilities, ...(clientInfo && { clientInfo }), ...(typeof protocolVersion === 'string' && { protocolVersion }) });
      session = await this.#install(id, bridge, false);
    } finally {
      this.#pending--;
    }
    const { transport } = session;
    try {
      return { kind: 'handled', value: await this.#handle(session, request, handle) };
    } finally {
      // The transport refused the initialize (bad headers, bad body): nothing to keep.
      if (transport.sessionId === undefined) void this.close(id);
    }
  }

  /**
   * A session this worker has no transport for: forward it, resume it here, or
   * `undefined` (404). Errors of the locator that are registry errors become
   * their HTTP answer, with a fixed message; the details go to the log.
   */
  async #locate(id: string, request: IncomingMcpRequest): Promise<DownstreamSession<T> | DispatchOutcome<never> | undefined> {
    const location = await this.#located(id);
    if (location === undefined) return undefined;
    if (location === 'resume') return this.#resuming.get(id) ?? this.#resume(id, request);
    return 'kind' in location ? location : notOwner(id, location);
  }

  /** `locateSession`'s answer, or the HTTP answer of the registry error it threw. */
  async #located(id: string): Promise<SessionLocation | DispatchOutcome<never>> {
    const locate = this.#options.locateSession;
    if (locate === undefined) return undefined;
    try {
      return await locate(id);
    } catch (error) {
      const http = error instanceof RegistryError ? httpStatusForError(error, this.#retryOptions()) : undefined;
      if (http === undefined) throw error;
      this.#logger.warn({ error: describeError(error) }, 'downstream sessions: locating a session failed');
      return { kind: 'respond', ...http };
    }
  }

  /**
   * Rebuilds a session whose `initialize` another worker answered: a bridge
   * whose upstream sessions re-attach (through the factory's session store),
   * and a transport marked initialized with the session's id.
   */
  #resume(id: string, request: IncomingMcpRequest): Promise<DownstreamSession<T> | DispatchOutcome<never>> {
    const work = (async (): Promise<DownstreamSession<T> | DispatchOutcome<never>> => {
      const live = this.get(id);
      if (live !== undefined) return live;
      const refused = this.#refusal();
      if (refused !== undefined) return { kind: 'respond', ...refused };
      this.#pending++;
      try {
        const bridge = await this.#createBridge(id, request);
        // What the client declared at initialize (on another worker), when a clientStore kept it.
        const client = await this.#recall(id);
        const rejection = await this.#connect(
          bridge,
          request,
          client?.capabilities as ClientCapabilities | undefined,
          client?.clientInfo as Implementation | undefined,
        );
        if (rejection !== undefined) return outcomeOf(rejection);
        return await this.#install(id, bridge, true);
      } finally {
        this.#pending--;
      }
    })();
    this.#resuming.set(id, work);
    void work.then(
      () => this.#resuming.delete(id),
      () => this.#resuming.delete(id),
    );
    return work;
  }

  async #remember(id: string, record: DownstreamClientRecord): Promise<void> {
    const store = this.#options.clientStore;
    if (store === undefined) return;
    try {
      await store.setClient(id, record);
    } catch (error) {
      this.#logger.warn({ error: describeError(error) }, 'downstream sessions: storing the client record failed; a resumed session will not know its capabilities');
    }
  }

  async #recall(id: string): Promise<DownstreamClientRecord | undefined> {
    const store = this.#options.clientStore;
    if (store === undefined) return undefined;
    try {
      return await store.getClient(id);
    } catch (error) {
      this.#logger.warn({ error: describeError(error) }, 'downstream sessions: reading the client record failed; resuming without its capabilities');
      return undefined;
    }
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
    if (rejection !== undefined) {
      this.#logRefusal(bridge.downstreamSessionId, rejection);
      await bridge.close();
    }
    return rejection;
  }

  /** The client gets a short fixed message; the error's details (redacted) go to the log. */
  #logRefusal(downstreamSessionId: string, rejection: BridgeRejection): void {
    const expected = new Set(['ERR_CAPACITY', 'ERR_REGISTRY_CLOSED', 'ERR_NOT_OWNER']).has(rejection.error.code);
    const fields = { downstreamSessionId, status: rejection.status, code: rejection.error.code, error: describeError(rejection.error) };
    (expected ? this.#logger.debug : this.#logger.warn).call(this.#logger, fields, 'downstream sessions: session refused');
  }

  /** Makes the session's transport, connects the bridge's server to it and adds the session to the table. */
  async #install(id: string, bridge: SessionBridge, resumed: boolean): Promise<DownstreamSession<T>> {
    const store = this.#options.eventStore;
    const transport = this.#options.createTransport({ sessionIdGenerator: () => id, ...(store && { eventStore: sessionEventStore(store, id) }) });
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
    const entry: Entry<T> = { session, lastActivity: this.#clock.now(), inflight: 0, streams: 0, busy: 0 };
    this.#countCalls(entry);
    this.#entries.set(id, entry);
    this.#sweeper.start();
    return session;
  }

  /**
   * Counts JSON-RPC requests from the client until the server answers them: a
   * response streamed after `handle` returned (a long tool call on SSE) keeps
   * the session from idling out, whatever the HTTP framework reports.
   */
  #countCalls(entry: Entry<T>): void {
    const { transport } = entry.session;
    const pending = new Set<string | number>();
    const receive = transport.onmessage;
    const send = transport.send.bind(transport);
    transport.onmessage = (message, extra) => {
      if ('method' in message && 'id' in message && !pending.has(message.id)) {
        pending.add(message.id);
        entry.inflight++;
        entry.busy++;
      }
      receive?.(message, extra);
    };
    transport.send = (message, options) => {
      if (!('method' in message) && 'id' in message && message.id !== undefined && pending.delete(message.id)) {
        entry.inflight--;
        entry.busy--;
        entry.lastActivity = this.#clock.now();
        // After the answer is written, so the transport is not closed under it.
        return send(message, options).finally(() => this.#noteQuiet());
      }
      return send(message, options);
    };
  }

  /** Keeps the upstream sessions of a session with an open stream from the registry's idle expiry. */
  #touch(id: string): void {
    const registry = this.#options.registry;
    if (typeof registry.touch !== 'function') return;
    try {
      registry.touch(id);
    } catch (error) {
      this.#logger.warn({ error: describeError(error) }, 'downstream sessions: registry.touch failed');
    }
  }

  /** Takes a session out of the table; the idle timer stops with the last one. */
  #remove(session: DownstreamSession<T>): void {
    if (this.#entries.get(session.id)?.session !== session) return;
    this.#entries.delete(session.id);
    if (this.#entries.size === 0) this.#sweeper.stop();
  }

  /** The transport closed (DELETE, shutdown, or the server closed it). */
  #ended(session: DownstreamSession<T>): void {
    this.#remove(session);
    this.#unowned.delete(session.id);
    void this.#end(session);
  }

  #end(session: DownstreamSession<T>): Promise<void> {
    return this.#track(session.bridge.close());
  }

  #track(ending: Promise<void>): Promise<void> {
    this.#ending.add(ending);
    return ending.finally(() => this.#ending.delete(ending));
  }
}
