import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import pLimit, { type LimitFunction } from 'p-limit';
import { raceSignal } from './abort.js';
import { type Affinity, LocalAffinity } from './affinity.js';
import { classifyError, isSessionGone } from './classify.js';
import { type Clock, type ClockTimer, systemClock } from './clock.js';
import { type CloseSchedule, closeWithin, perPhaseSchedule, sharedPhaseEnds, waitWithin } from './close.js';
import { SafeEmitter } from './emitter.js';
import {
  AffinityUnavailableError,
  CapacityError,
  CreateFailedError,
  InvalidRequestError,
  NotOwnerError,
  RegistryClosedError,
  SessionLostError,
  SessionRetiredError,
} from './errors.js';
import type { RegistryEvents, RetireReason, SessionIdentity } from './events.js';
import type { FactoryContext, SessionFactory, UpstreamConnection } from './factory.js';
import { Lease, type LeaseOwner, type SessionLease } from './lease.js';
import { type Logger, silentLogger } from './logger.js';
import { mcpSessionFactory } from './mcp/factory.js';
import { type RegistryOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { type ProbeChain, type ProbeableClient, defaultProbeChain, runProbeChain } from './probe.js';
import { describeError, redactUrl } from './redact.js';
import { SessionCreateRequest, type SessionCreateRequestInit } from './request.js';
import { IdleList } from './idle-list.js';
import { showValue } from './show-value.js';
import { Binding, type Deferred, type SessionInfo, deferred } from './session.js';
import { type GatewaySnapshot, type RegistrySnapshot, type SessionSnapshot, freezeSnapshot } from './snapshot.js';

/** Per-call options of {@link UpstreamSessionRegistry.acquire} and {@link UpstreamSessionRegistry.use}. */
export interface AcquireOptions {
  /** Aborting rejects this caller only, with `signal.reason`; a shared create goes on for the others. */
  signal?: AbortSignal;
}

/** Retirements that lose the upstream state against the downstream session's will. */
const INVOLUNTARY: ReadonlySet<RetireReason> = new Set(['lost', 'transport-error', 'probe-failed']);

/** How many times one acquire rebuilds after the connection it waited for broke. */
const MAX_ATTEMPTS = 3;

const RETIRE_REASONS: readonly RetireReason[] = [
  'downstream-evicted',
  'gateway-evicted',
  'config-changed',
  'probe-failed',
  'transport-error',
  'idle-expired',
  'capacity',
  'lost',
  'ownership-lost',
  'registry-closed',
];

interface DownstreamState<C> {
  readonly id: string;
  /** True once the affinity said this worker owns the session; never asked again. */
  owned: boolean;
  claiming: Promise<void> | undefined;
  /** Acquires of this downstream session in progress on the slow path. */
  pending: number;
  /** Set under `onSessionLost: 'fail'`: every acquire rejects until `evictSession`. */
  lost: { readonly cause: unknown } | undefined;
  readonly bindings: Map<string, Binding<C>>;
}

interface GatewayState<C> {
  readonly id: string;
  readonly bindings: Set<Binding<C>>;
  readonly limit: LimitFunction;
  consecutiveFailures: number;
  backoffUntil: number;
  lastError: unknown;
}

interface Totals {
  created: number;
  reused: number;
  probes: number;
  probeFailures: number;
  createFailures: number;
  closed: number;
  orphaned: number;
  retired: Record<RetireReason, number>;
}

/**
 * `ctx.signal` once the create settled: never aborts. Made on first use, not at
 * module scope: Cloudflare Workers forbid creating an AbortController there.
 */
let settledCreateSignal: AbortSignal | undefined;
function settledSignal(): AbortSignal {
  settledCreateSignal ??= new AbortController().signal;
  return settledCreateSignal;
}

/**
 * The factory's `ctx`. Factories keep it (to call `onBroken` later), so its
 * `signal` is a getter: once the create settled and the registry dropped the
 * create's AbortController, a kept `ctx` keeps no AbortSignal (~760 B) alive.
 * A class, because an object literal with a getter stays in dictionary mode
 * (~260 B more per session).
 */
class CreateContext<C> implements FactoryContext {
  readonly #binding: Binding<C>;
  readonly onBroken: (reason: unknown) => void;

  constructor(binding: Binding<C>, onBroken: (reason: unknown) => void) {
    this.#binding = binding;
    this.onBroken = onBroken;
  }

  get signal(): AbortSignal {
    return this.#binding.createControl?.signal ?? settledSignal();
  }
}

/** Settles the create's waiters once and drops the deferred. */
function settleReady(binding: Binding<unknown>, ok: boolean, error?: unknown): void {
  const ready = binding.ready;
  binding.ready = undefined;
  if (ready === undefined) return;
  if (ok) ready.resolve();
  else ready.reject(error);
}

function validateAcquireOptions(opts: unknown): AbortSignal | undefined {
  if (opts === undefined) return undefined;
  if (typeof opts !== 'object' || opts === null) {
    throw new InvalidRequestError('options', `expected an object, got ${showValue(opts)}`);
  }
  const signal = (opts as AcquireOptions).signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidRequestError('options.signal', `expected an AbortSignal, got ${showValue(signal)}`);
  }
  return signal;
}

/**
 * Holds exactly one upstream MCP client session per (downstream session id,
 * gateway id), reuses it for every call of that downstream session, probes it
 * after idle, retires it when it breaks, its configuration changes or the
 * downstream session ends, bounds every resource and closes everything in
 * bounded time.
 *
 * @typeParam C - the client type the factory makes; the SDK `Client` by default.
 *
 * @example
 * ```ts
 * const registry = new UpstreamSessionRegistry();
 * const request = SessionCreateRequest.from({
 *   downstreamSessionId: sessionIdFromDownstream,
 *   gatewayId: 'weather',
 *   url: 'https://weather.example.com/mcp',
 *   headers: { authorization: `Bearer ${token}` },
 * });
 * const result = await registry.use(request, (client) => client.callTool({ name: 'forecast', arguments: { city } }));
 * // when the downstream session ends:
 * await registry.evictSession(sessionIdFromDownstream);
 * ```
 */
export class UpstreamSessionRegistry<C extends ProbeableClient = Client> {
  readonly #options: ResolvedOptions;
  readonly #factory: SessionFactory<C>;
  readonly #affinity: Affinity;
  readonly #probeChain: ProbeChain<C>;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #events: SafeEmitter<RegistryEvents>;
  readonly #unsubscribeOwnership: (() => void) | undefined;

  /** Every binding that is creating or ready, by key. Retired bindings leave at once. */
  readonly #bindings = new Map<string, Binding<C>>();
  readonly #downstream = new Map<string, DownstreamState<C>>();
  readonly #gateways = new Map<string, GatewayState<C>>();
  /** Ready bindings with no lease, least recently used first. */
  readonly #idle = new IdleList<Binding<C>>();
  readonly #safeUrls = new Map<string, string>();
  readonly #perPhase: CloseSchedule;
  /** Retirements still closing. */
  readonly #closing = new Set<Promise<void>>();
  #ready = 0;
  #nextConnectionId = 1;
  #sweeper: ClockTimer | undefined;
  #closed = false;
  #closeAll: Promise<void> | undefined;
  readonly #startedAt: number;
  readonly #totals: Totals;

  /** Throws `InvalidOptionsError` for an unknown or malformed option. */
  constructor(options?: RegistryOptions<C>) {
    this.#options = resolveOptions(options);
    this.#perPhase = perPhaseSchedule(this.#options.closeTimeoutMs);
    this.#clock = options?.clock ?? systemClock;
    this.#logger = options?.logger ?? silentLogger;
    this.#factory = options?.factory ?? (mcpSessionFactory() as unknown as SessionFactory<C>);
    this.#affinity = options?.affinity ?? new LocalAffinity();
    this.#probeChain = options?.probeChain ?? (defaultProbeChain as ProbeChain<C>);
    this.#events = new SafeEmitter<RegistryEvents>(this.#logger);
    this.#startedAt = this.#clock.now();
    this.#totals = {
      created: 0,
      reused: 0,
      probes: 0,
      probeFailures: 0,
      createFailures: 0,
      closed: 0,
      orphaned: 0,
      retired: Object.fromEntries(RETIRE_REASONS.map((r) => [r, 0])) as Record<RetireReason, number>,
    };
    this.#unsubscribeOwnership = this.#affinity.onOwnershipLost?.((id) => this.#onOwnershipLost(id));
  }

  /** Live (ready) upstream sessions. */
  get size(): number {
    return this.#ready;
  }

  /** True once `closeAll()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Subscribes to an event. A listener that throws is logged and cannot break the registry. */
  on<K extends keyof RegistryEvents>(type: K, handler: (event: RegistryEvents[K]) => void): void {
    this.#events.on(type, handler);
  }

  /** Removes a listener added with {@link UpstreamSessionRegistry.on}. */
  off<K extends keyof RegistryEvents>(type: K, handler: (event: RegistryEvents[K]) => void): void {
    this.#events.off(type, handler);
  }

  /**
   * Gets a lease on the upstream session of this (downstream session, gateway),
   * creating it (once, however many callers wait), probing it after idle, or
   * rebuilding it when its configuration changed. Release the lease when done.
   *
   * Rejects with `InvalidRequestError`, `RegistryClosedError`, `CapacityError`,
   * `CreateFailedError`, `NotOwnerError`, `AffinityUnavailableError`,
   * `SessionLostError`, `SessionRetiredError`, an application error from a
   * health probe, or the caller's `signal.reason`.
   */
  async acquire(init: SessionCreateRequestInit | SessionCreateRequest, opts?: AcquireOptions): Promise<SessionLease<C>> {
    if (this.#closed) throw new RegistryClosedError();
    const request = SessionCreateRequest.from(init);
    const signal = validateAcquireOptions(opts);
    signal?.throwIfAborted();
    // Warm path: a healthy, recently used connection of an owned downstream
    // session is handed out without awaiting anything.
    const ds = this.#downstream.get(request.downstreamSessionId);
    const held = this.#bindings.get(request.key);
    if (
      held !== undefined &&
      held.state === 'ready' &&
      ds?.owned === true &&
      ds.lost === undefined &&
      held.request.fingerprint === request.fingerprint &&
      !this.#needsProbe(held)
    ) {
      return this.#lease(held);
    }
    return this.#acquireSlow(request, signal);
  }

  async #acquireSlow(request: SessionCreateRequest, signal: AbortSignal | undefined): Promise<SessionLease<C>> {
    const ds = this.#downstreamState(request.downstreamSessionId);
    // While any acquire of this downstream session is in progress its state stays,
    // so one caller's failure cannot look like an eviction to another.
    ds.pending++;
    try {
      await this.#owned(ds, signal);
      for (let attempt = 1; ; attempt++) {
        this.#assertUsable(ds);
        const binding = this.#bindingFor(request, ds);
        const lease = await this.#leaseWhenReady(binding, signal);
        if (lease !== undefined && ds.lost !== undefined) {
          // Another gateway of this downstream session was lost while we waited ('fail').
          lease.release();
          throw new SessionLostError(ds.id, ds.lost.cause);
        }
        if (lease !== undefined) return lease;
        const error = this.#waiterError(binding);
        if (error !== undefined) throw error;
        if (attempt === MAX_ATTEMPTS) throw new SessionRetiredError(binding.retireReason ?? 'lost');
      }
    } finally {
      ds.pending--;
      // A downstream session that never got an upstream session keeps no state.
      this.#forgetIfEmpty(ds);
    }
  }

  /**
   * Runs `fn` with the upstream client of this (downstream session, gateway) and
   * releases the lease afterwards. A transport error thrown by `fn` retires the
   * connection (the next call builds a new one); the error is rethrown.
   *
   * @example
   * ```ts
   * const tools = await registry.use(request, (client) => client.listTools());
   * ```
   */
  async use<T>(
    init: SessionCreateRequestInit | SessionCreateRequest,
    fn: (client: C, info: SessionInfo) => Promise<T>,
    opts?: AcquireOptions,
  ): Promise<T> {
    if (typeof fn !== 'function') throw new InvalidRequestError('fn', `expected a function, got ${showValue(fn)}`);
    const lease = await this.acquire(init, opts);
    try {
      const result = await fn(lease.client, lease.info);
      lease.release();
      return result;
    } catch (error) {
      lease.release(error);
      throw error;
    }
  }

  /**
   * Retires every upstream session of a downstream session (call it when the
   * downstream session ends), clears a lost mark and releases affinity
   * ownership. Resolves with the number of upstream sessions retired, once
   * they are closed (or orphaned).
   */
  async evictSession(downstreamSessionId: string): Promise<number> {
    if (typeof downstreamSessionId !== 'string') {
      throw new InvalidRequestError('downstreamSessionId', `expected a string, got ${showValue(downstreamSessionId)}`);
    }
    const ds = this.#downstream.get(downstreamSessionId);
    this.#downstream.delete(downstreamSessionId);
    const bindings = ds === undefined ? [] : [...ds.bindings.values()];
    const retiring = bindings.map((b) => this.#retire(b, 'downstream-evicted'));
    const releasing = this.#closed ? Promise.resolve() : this.#releaseOwnership(downstreamSessionId);
    await Promise.all([...retiring, releasing]);
    return bindings.length;
  }

  /**
   * Retires every upstream session of a gateway (e.g. it was removed from the
   * configuration) and forgets its backoff state. Costs O(sessions of that gateway).
   */
  async evictGateway(gatewayId: string): Promise<number> {
    if (typeof gatewayId !== 'string') {
      throw new InvalidRequestError('gatewayId', `expected a string, got ${showValue(gatewayId)}`);
    }
    const gw = this.#gateways.get(gatewayId);
    if (gw === undefined) return 0;
    const bindings = [...gw.bindings];
    if (gw.limit.activeCount + gw.limit.pendingCount === 0) this.#gateways.delete(gatewayId);
    gw.consecutiveFailures = 0;
    gw.backoffUntil = 0;
    gw.lastError = undefined;
    await Promise.all(bindings.map((b) => this.#retire(b, 'gateway-evicted')));
    return bindings.length;
  }

  /**
   * Closes every upstream session in parallel and stops the registry. Idempotent.
   * Bounded: at most 3 x `closeTimeoutMs` however many sessions there are (plus
   * `closeTimeoutMs` for the affinity). After it, `acquire` rejects at once with
   * `RegistryClosedError`, and a create that finishes later is closed on arrival.
   */
  closeAll(): Promise<void> {
    if (this.#closeAll !== undefined) return this.#closeAll;
    this.#closed = true;
    this.#closeAll = this.#shutdown();
    return this.#closeAll;
  }

  /** Same as {@link UpstreamSessionRegistry.closeAll}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.closeAll();
  }

  /** Frozen plain data about the registry; never header values, URL credentials or query strings. */
  snapshot(): RegistrySnapshot {
    const now = this.#clock.now();
    const sessions: SessionSnapshot[] = [];
    const gateways: [string, GatewaySnapshot][] = [];
    let creating = 0;
    for (const b of this.#bindings.values()) {
      if (b.state === 'creating') creating++;
      sessions.push({
        downstreamSessionId: b.info.downstreamSessionId,
        gatewayId: b.info.gatewayId,
        transport: b.info.transport,
        url: b.safeUrl,
        connectionId: b.info.connectionId,
        state: b.state,
        ageMs: now - b.info.createdAt,
        idleMs: b.inFlight > 0 ? 0 : now - b.lastUsedAt,
        useCount: b.useCount,
        inFlight: b.inFlight,
      });
    }
    for (const gw of this.#gateways.values()) {
      let live = 0;
      for (const b of gw.bindings) if (b.state === 'ready') live++;
      gateways.push([
        gw.id,
        {
          live,
          creating: gw.bindings.size - live,
          queuedCreates: gw.limit.pendingCount,
          consecutiveFailures: gw.consecutiveFailures,
          backoffRemainingMs: Math.max(0, gw.backoffUntil - now),
        },
      ]);
    }
    return freezeSnapshot({
      closed: this.#closed,
      uptimeMs: now - this.#startedAt,
      live: this.#ready,
      creating,
      retiring: this.#closing.size,
      downstreamSessions: this.#downstream.size,
      // fromEntries defines own properties, so a gateway named "__proto__" stays data.
      gateways: Object.fromEntries(gateways),
      totals: { ...this.#totals, retired: { ...this.#totals.retired } },
      sessions,
    });
  }

  // ---------------------------------------------------------------- ownership

  #downstreamState(downstreamSessionId: string): DownstreamState<C> {
    let ds = this.#downstream.get(downstreamSessionId);
    if (ds === undefined) {
      ds = { id: downstreamSessionId, owned: false, claiming: undefined, lost: undefined, pending: 0, bindings: new Map() };
      this.#downstream.set(downstreamSessionId, ds);
    }
    return ds;
  }

  /** Claims the downstream session once; later acquires see `owned` and never await the affinity. */
  async #owned(ds: DownstreamState<C>, signal: AbortSignal | undefined): Promise<void> {
    if (ds.owned) return;
    ds.claiming ??= this.#claim(ds);
    await raceSignal(ds.claiming, signal);
    if (this.#closed) throw new RegistryClosedError();
    if (this.#downstream.get(ds.id) !== ds) {
      // Evicted while the claim was in flight: give back what the claim just took,
      // unless a newer acquire already holds this downstream session again.
      if (!this.#downstream.has(ds.id)) void this.#track(this.#releaseOwnership(ds.id));
      throw new SessionRetiredError('downstream-evicted');
    }
  }

  async #claim(ds: DownstreamState<C>): Promise<void> {
    try {
      const claim = this.#affinity.claim(ds.id);
      const answered = await waitWithin(claim, this.#options.createTimeoutMs, this.#clock);
      if (!answered) throw new AffinityUnavailableError('The affinity did not answer the ownership claim in time');
      const result = await claim;
      if (!result.owned) throw new NotOwnerError(ds.id, result.owner);
      ds.owned = true;
    } finally {
      ds.claiming = undefined;
    }
  }

  async #releaseOwnership(downstreamSessionId: string): Promise<void> {
    try {
      const released = await waitWithin(
        this.#affinity.release(downstreamSessionId),
        this.#options.closeTimeoutMs,
        this.#clock,
      );
      if (!released) this.#logger.warn({ downstreamSessionId }, 'affinity release timed out');
    } catch (error) {
      this.#logger.warn({ downstreamSessionId, error: describeError(error) }, 'affinity release failed');
    }
  }

  #onOwnershipLost(downstreamSessionId: string): void {
    const ds = this.#downstream.get(downstreamSessionId);
    if (ds === undefined) return;
    this.#downstream.delete(downstreamSessionId);
    for (const b of ds.bindings.values()) void this.#retire(b, 'ownership-lost');
  }

  #assertUsable(ds: DownstreamState<C>): void {
    if (this.#closed) throw new RegistryClosedError();
    if (ds.lost !== undefined) throw new SessionLostError(ds.id, ds.lost.cause);
    if (this.#downstream.get(ds.id) !== ds) throw new SessionRetiredError('downstream-evicted');
  }

  // ----------------------------------------------------------------- bindings

  /** The binding to use for this request: the held one, or a new one being created. */
  #bindingFor(request: SessionCreateRequest, ds: DownstreamState<C>): Binding<C> {
    const held = this.#bindings.get(request.key);
    if (held !== undefined && held.request.fingerprint === request.fingerprint) return held;
    if (held !== undefined) void this.#retire(held, 'config-changed');
    return this.#create(request, ds);
  }

  #create(request: SessionCreateRequest, ds: DownstreamState<C>): Binding<C> {
    this.#makeRoom(this.#gateway(request.gatewayId));
    // Making room may have retired the gateway's last session and dropped its state.
    const gw = this.#gateway(request.gatewayId);
    const now = this.#clock.now();
    const binding = new Binding<C>(request, this.#nextConnectionId++, now, this.#safeUrl(request.url));
    this.#bindings.set(request.key, binding);
    ds.bindings.set(request.gatewayId, binding);
    gw.bindings.add(binding);
    this.#startSweeper();
    gw.limit(() => this.#runFactory(binding, gw)).then(
      () => settleReady(binding, true),
      (error: unknown) => settleReady(binding, false, error),
    );
    return binding;
  }

  /** Redacted URLs are shared by every session of a gateway: one string each, not one per session. */
  #safeUrl(url: string): string {
    let safe = this.#safeUrls.get(url);
    if (safe === undefined) {
      if (this.#safeUrls.size >= 1024) this.#safeUrls.clear();
      safe = redactUrl(url);
      this.#safeUrls.set(url, safe);
    }
    return safe;
  }

  #gateway(gatewayId: string): GatewayState<C> {
    let gw = this.#gateways.get(gatewayId);
    if (gw === undefined) {
      gw = {
        id: gatewayId,
        bindings: new Set(),
        limit: pLimit(this.#options.createConcurrencyPerGateway),
        consecutiveFailures: 0,
        backoffUntil: 0,
        lastError: undefined,
      };
      this.#gateways.set(gatewayId, gw);
    }
    return gw;
  }

  /** Enforces the caps: reject, or retire the least-recently-used idle session. */
  #makeRoom(gw: GatewayState<C>): void {
    const { maxSessions, maxSessionsPerGateway, overflow } = this.#options;
    const evict = overflow === 'evict-idle';
    const gatewayFull = gw.bindings.size >= maxSessionsPerGateway;
    const registryFull = this.#bindings.size >= maxSessions;
    // Pick every victim before retiring any, so a rejection changes nothing.
    const gatewayVictim = gatewayFull && evict ? this.#idlestOf(gw) : undefined;
    if (gatewayFull && gatewayVictim === undefined) throw new CapacityError('gateway', maxSessionsPerGateway, gw.id);
    const registryVictim =
      registryFull && gatewayVictim === undefined && evict ? this.#idle.first() : undefined;
    if (registryFull && gatewayVictim === undefined && registryVictim === undefined) {
      throw new CapacityError('registry', maxSessions);
    }
    const victim = gatewayVictim ?? registryVictim;
    if (victim !== undefined) void this.#retire(victim, 'capacity');
  }

  #idlestOf(gw: GatewayState<C>): Binding<C> | undefined {
    let idlest: Binding<C> | undefined;
    for (const b of gw.bindings) {
      if (b.state !== 'ready' || b.inFlight > 0 || b.waiters > 0) continue;
      if (idlest === undefined || b.lastUsedAt < idlest.lastUsedAt) idlest = b;
    }
    return idlest;
  }

  async #runFactory(binding: Binding<C>, gw: GatewayState<C>): Promise<void> {
    if (binding.state !== 'creating') return;
    const started = this.#clock.now();
    if (gw.backoffUntil > started) {
      const error = new CreateFailedError(
        gw.id,
        `Creates for gateway ${JSON.stringify(gw.id)} are backing off after ${gw.consecutiveFailures} consecutive failures`,
        gw.lastError,
      );
      // Logged once when the window opened (gateway backoff), not per caller.
      this.#createFailed(binding, error, started, true);
      throw error;
    }
    let connection: UpstreamConnection<C>;
    try {
      connection = await this.#callFactory(binding, true);
    } catch (cause) {
      if (binding.state !== 'creating') throw cause;
      const error = this.#createError(binding, gw, cause);
      this.#createFailed(binding, error, started);
      throw error;
    }
    // Retired between the factory's answer and here: #closeAfterCreate closes it.
    if (binding.state !== 'creating') throw new SessionRetiredError(binding.retireReason ?? 'lost');
    this.#createSucceeded(binding, gw, connection, started);
  }

  /**
   * Calls the factory under the create deadline. When the upstream says it lost
   * a session we tried to re-attach to, 'reconnect' tries a fresh create once.
   */
  async #callFactory(binding: Binding<C>, mayRetry: boolean): Promise<UpstreamConnection<C>> {
    const { request } = binding;
    const ctx = this.#factoryContext(binding);
    const deadlineMs = request.connectTimeoutMs ?? this.#options.createTimeoutMs;
    const timer = this.#clock.setTimeout(() => {
      binding.createControl?.abort(new DOMException(`Create timed out after ${deadlineMs} ms`, 'TimeoutError'));
    }, deadlineMs);
    try {
      const call = Promise.resolve().then(() => this.#factory(request, ctx));
      binding.factoryCall = call;
      // A factory that ignores its signal must not hold the waiters: race it,
      // and close whatever it returns late (see #closeLateArrival).
      return await raceSignal(call, ctx.signal);
    } catch (cause) {
      if (!mayRetry || !isSessionGone(cause) || binding.state !== 'creating') throw cause;
      this.#sessionLostAtCreate(binding, cause);
      // A session:lost listener may have evicted it meanwhile.
      if (binding.state !== 'creating') throw cause;
      return this.#callFactory(binding, false);
    } finally {
      this.#clock.clearTimeout(timer);
    }
  }

  /**
   * Built in its own scope: V8 gives the closures of one function a shared
   * context, so `onBroken` must not share one with anything that holds the
   * create's AbortController, or a factory that keeps `ctx` keeps it alive.
   */
  #factoryContext(binding: Binding<C>): FactoryContext {
    return new CreateContext(binding, (reason) => this.#onBroken(binding, reason));
  }

  #sessionLostAtCreate(binding: Binding<C>, cause: unknown): void {
    this.#emitLost(binding, 'lost');
    if (this.#options.onSessionLost === 'fail') {
      this.#markLost(binding.request.downstreamSessionId, cause);
      throw new SessionLostError(binding.request.downstreamSessionId, cause);
    }
  }

  #createError(binding: Binding<C>, gw: GatewayState<C>, cause: unknown): Error {
    if (cause instanceof SessionLostError) return cause;
    gw.consecutiveFailures++;
    gw.lastError = cause;
    this.#openBackoff(gw);
    const timedOut = binding.createControl?.signal.aborted === true;
    const what = timedOut ? 'timed out' : 'failed';
    return new CreateFailedError(
      gw.id,
      `Creating the upstream session for gateway ${JSON.stringify(gw.id)} ${what}: ${describeError(cause)}`,
      cause,
    );
  }

  #openBackoff(gw: GatewayState<C>): void {
    const backoff = this.#options.backoff;
    if (backoff === undefined || gw.consecutiveFailures < backoff.afterFailures) return;
    const exponent = Math.min(gw.consecutiveFailures - backoff.afterFailures, 30);
    const backoffMs = Math.min(backoff.maxMs, backoff.initialMs * 2 ** exponent);
    gw.backoffUntil = this.#clock.now() + backoffMs;
    this.#logger.warn({ gatewayId: gw.id, consecutiveFailures: gw.consecutiveFailures, backoffMs }, 'gateway create backoff');
    this.#events.emit('gateway:backoff', { gatewayId: gw.id, consecutiveFailures: gw.consecutiveFailures, backoffMs });
  }

  #createSucceeded(binding: Binding<C>, gw: GatewayState<C>, connection: UpstreamConnection<C>, started: number): void {
    gw.consecutiveFailures = 0;
    gw.backoffUntil = 0;
    gw.lastError = undefined;
    binding.connection = connection;
    binding.state = 'ready';
    // The create is over: its signal and promise are no longer needed (memory per session).
    binding.createControl = undefined;
    binding.factoryCall = undefined;
    binding.lastUsedAt = this.#clock.now();
    this.#ready++;
    this.#markIdleIfUnused(binding);
    this.#totals.created++;
    this.#logger.debug(this.#identity(binding), 'upstream session created');
    this.#events.emit('session:created', { ...this.#identity(binding), durationMs: this.#clock.now() - started });
    const broken = binding.brokenBeforeReady;
    if (broken !== undefined) this.#onBroken(binding, broken.reason);
  }

  #createFailed(binding: Binding<C>, error: Error, started: number, quiet = false): void {
    this.#unindex(binding);
    binding.state = 'retired';
    binding.retiredAt = this.#clock.now();
    // A factory that ignored its deadline may still deliver: close it on arrival.
    if (binding.factoryCall !== undefined) this.#track(this.#closeAfterCreate(binding, this.#perPhase));
    this.#totals.createFailures++;
    this.#forgetDownstreamOf(binding);
    const log = quiet ? this.#logger.debug : this.#logger.warn;
    log.call(this.#logger, { ...this.#identity(binding), error: error.message }, 'upstream session create failed');
    this.#events.emit('session:create-failed', {
      ...this.#identity(binding),
      error,
      durationMs: this.#clock.now() - started,
    });
  }

  /** Waits for the binding to be ready and probed; `undefined` means it was retired meanwhile. */
  async #leaseWhenReady(binding: Binding<C>, signal: AbortSignal | undefined): Promise<SessionLease<C> | undefined> {
    // A binding someone waits for is not idle: neither the sweeper nor evict-idle may take it.
    binding.waiters++;
    this.#idle.delete(binding);
    try {
      if (binding.state === 'creating') {
        try {
          await raceSignal((binding.ready as Deferred<void>).promise, signal);
        } catch (error) {
          if (signal?.aborted === true || binding.retireReason === undefined) throw error;
          return undefined;
        }
      }
      if (binding.state === 'ready' && this.#needsProbe(binding)) {
        binding.probing ??= this.#probe(binding);
        await raceSignal(binding.probing, signal);
      }
      if (binding.state !== 'ready') return undefined;
      return this.#lease(binding);
    } finally {
      binding.waiters--;
      this.#markIdleIfUnused(binding);
    }
  }

  #markIdleIfUnused(binding: Binding<C>): void {
    if (binding.state === 'ready' && binding.inFlight === 0 && binding.waiters === 0) this.#idle.add(binding);
  }

  /** Why a waiter cannot retry after its binding was retired; `undefined` means retry. */
  #waiterError(binding: Binding<C>): Error | undefined {
    const reason = binding.retireReason;
    if (reason === 'registry-closed' || this.#closed) return new RegistryClosedError();
    if (reason !== undefined && INVOLUNTARY.has(reason)) return undefined;
    return new SessionRetiredError(reason ?? 'lost');
  }

  #lease(binding: Binding<C>): SessionLease<C> {
    binding.inFlight++;
    binding.useCount++;
    this.#idle.delete(binding);
    if (binding.useCount > 1) {
      this.#totals.reused++;
      if (this.#events.active) {
        this.#events.emit('session:reused', { ...this.#identity(binding), useCount: binding.useCount });
      }
    }
    return new Lease<C>(this.#leaseOwner, binding, (binding.connection as UpstreamConnection<C>).client, binding.info);
  }

  /** Where leases report their end; kept off the public surface. */
  readonly #leaseOwner: LeaseOwner = { endLease: (binding, error) => this.#endLease(binding as Binding<C>, error) };

  #endLease(binding: Binding<C>, error: unknown): void {
    binding.inFlight--;
    binding.lastUsedAt = this.#clock.now();
    if (error !== undefined && binding.state === 'ready' && classifyError(error) === 'transport') {
      void this.#retire(binding, isSessionGone(error) ? 'lost' : 'transport-error');
    }
    if (binding.inFlight > 0) return;
    if (binding.state === 'ready') this.#markIdleIfUnused(binding);
    else binding.drained?.resolve();
  }

  // ------------------------------------------------------------------- probes

  #needsProbe(binding: Binding<C>): boolean {
    if (binding.inFlight > 0 || this.#probeChain.length === 0) return false;
    return this.#clock.now() - binding.lastUsedAt >= this.#options.idleValidationMs;
  }

  async #probe(binding: Binding<C>): Promise<void> {
    const started = this.#clock.now();
    this.#totals.probes++;
    const control = new AbortController();
    binding.probeControl = control;
    try {
      const result = await runProbeChain((binding.connection as UpstreamConnection<C>).client, this.#probeChain, {
        timeoutMs: this.#options.probeTimeoutMs,
        signal: control.signal,
        clock: this.#clock,
      });
      binding.lastUsedAt = this.#clock.now();
      if (!result.healthy) this.#totals.probeFailures++;
      this.#events.emit('session:probed', {
        ...this.#identity(binding),
        healthy: result.healthy,
        step: result.step,
        durationMs: this.#clock.now() - started,
      });
      if (!result.healthy && binding.state === 'ready') void this.#retire(binding, 'probe-failed');
    } catch (error) {
      // Retired while probing: the waiters see the state. Anything else is an
      // application error: it reaches the caller and the session stays.
      if (binding.state !== 'ready') return;
      binding.lastUsedAt = this.#clock.now();
      throw error;
    } finally {
      binding.probing = undefined;
      binding.probeControl = undefined;
    }
  }

  // ----------------------------------------------------------------- retiring

  #onBroken(binding: Binding<C>, reason: unknown): void {
    if (binding.state === 'creating') {
      binding.brokenBeforeReady ??= { reason };
      return;
    }
    if (binding.state !== 'ready') return;
    this.#logger.debug({ ...this.#identity(binding), reason: describeError(reason) }, 'upstream connection reported broken');
    void this.#retire(binding, 'lost', reason);
  }

  /**
   * Takes the binding out of service at once and closes it once its leases end
   * (or `closeTimeoutMs` passes). Resolves when it is closed or orphaned.
   */
  #retire(
    binding: Binding<C>,
    reason: RetireReason,
    cause?: unknown,
    schedule: CloseSchedule = this.#perPhase,
  ): Promise<void> {
    if (binding.retired !== undefined) return binding.retired;
    const wasCreating = binding.state === 'creating';
    if (binding.state === 'ready') this.#ready--;
    this.#unindex(binding);
    binding.state = 'retired';
    binding.retireReason = reason;
    binding.retiredAt = this.#clock.now();
    this.#totals.retired[reason]++;
    this.#logger.debug({ ...this.#identity(binding), reason }, 'upstream session retired');
    this.#events.emit('session:retired', { ...this.#identity(binding), reason, inFlight: binding.inFlight });
    if (INVOLUNTARY.has(reason)) this.#sessionLost(binding, reason, cause);
    this.#forgetDownstreamOf(binding);
    binding.probeControl?.abort(new SessionRetiredError(reason));
    if (wasCreating) {
      binding.createControl?.abort(new SessionRetiredError(reason));
      binding.ready?.reject(this.#waiterError(binding) ?? new SessionRetiredError(reason));
    }
    binding.retired = this.#track(
      wasCreating ? this.#closeAfterCreate(binding, schedule) : this.#drainAndClose(binding, schedule),
    );
    return binding.retired;
  }

  /** Keeps a close in progress visible to `closeAll()` until it ends. */
  #track(closing: Promise<void>): Promise<void> {
    const done = closing.finally(() => {
      this.#closing.delete(done);
    });
    this.#closing.add(done);
    return done;
  }

  /** A gateway with no sessions, no creates and no backoff state keeps no bookkeeping (nor its p-limit). */
  #gatewayUnused(gw: GatewayState<C>): boolean {
    return (
      gw.bindings.size === 0 && gw.limit.activeCount + gw.limit.pendingCount === 0 && gw.consecutiveFailures === 0
    );
  }

  #unindex(binding: Binding<C>): void {
    const { key, gatewayId, downstreamSessionId } = binding.request;
    if (this.#bindings.get(key) === binding) this.#bindings.delete(key);
    const ds = this.#downstream.get(downstreamSessionId);
    if (ds?.bindings.get(gatewayId) === binding) ds.bindings.delete(gatewayId);
    const gw = this.#gateways.get(gatewayId);
    gw?.bindings.delete(binding);
    if (gw !== undefined && this.#gatewayUnused(gw)) this.#gateways.delete(gatewayId);
    this.#idle.delete(binding);
  }

  #sessionLost(binding: Binding<C>, reason: RetireReason, cause: unknown): void {
    this.#emitLost(binding, reason);
    if (this.#options.onSessionLost === 'fail') this.#markLost(binding.request.downstreamSessionId, cause);
  }

  #emitLost(binding: Binding<C>, reason: RetireReason): void {
    this.#events.emit('session:lost', { ...this.#identity(binding), reason, policy: this.#options.onSessionLost });
  }

  #markLost(downstreamSessionId: string, cause: unknown): void {
    const ds = this.#downstream.get(downstreamSessionId);
    if (ds !== undefined) ds.lost ??= { cause };
  }

  async #drainAndClose(binding: Binding<C>, schedule: CloseSchedule): Promise<void> {
    if (binding.inFlight > 0) {
      binding.drained ??= deferred<void>();
      await waitWithin(binding.drained.promise, schedule.drain, this.#clock);
    }
    await this.#close(binding, binding.connection as UpstreamConnection<C>, schedule);
  }

  /** A binding retired while creating: wait (bounded) for the factory, then close what it made. */
  async #closeAfterCreate(binding: Binding<C>, schedule: CloseSchedule): Promise<void> {
    const call = binding.factoryCall;
    if (call === undefined) return;
    const settled = await waitWithin(call, schedule.drain, this.#clock);
    if (!settled) {
      this.#orphan(binding);
      this.#closeLateArrival(binding, call);
      return;
    }
    const connection = await call.catch(() => undefined);
    if (connection !== undefined) await this.#close(binding, connection, schedule);
  }

  /** A create that finishes after the registry stopped waiting is closed on arrival. */
  #closeLateArrival(binding: Binding<C>, call: Promise<UpstreamConnection<C>>): void {
    call.then(
      (connection) => closeWithin((ctx) => connection.close(ctx), this.#perPhase, this.#clock),
      () => undefined,
    ).then(
      () => this.#logger.debug(this.#identity(binding), 'late upstream connection closed on arrival'),
      () => undefined,
    );
  }

  async #close(binding: Binding<C>, connection: UpstreamConnection<C>, schedule: CloseSchedule): Promise<void> {
    const detach = binding.retireReason === 'ownership-lost';
    const result = await closeWithin((ctx) => connection.close(ctx), schedule, this.#clock, detach);
    const durationMs = this.#clock.now() - binding.retiredAt;
    if (result.outcome === 'orphaned') {
      this.#orphan(binding);
      return;
    }
    this.#totals.closed++;
    if (result.error !== undefined) {
      this.#logger.warn({ ...this.#identity(binding), error: describeError(result.error) }, 'upstream close failed');
    }
    const event = { ...this.#identity(binding), forced: result.forced, durationMs };
    this.#events.emit('session:closed', result.error === undefined ? event : { ...event, error: result.error });
  }

  #orphan(binding: Binding<C>): void {
    this.#totals.orphaned++;
    const durationMs = this.#clock.now() - binding.retiredAt;
    this.#logger.warn({ ...this.#identity(binding), durationMs }, 'upstream session did not close in time; orphaned');
    this.#events.emit('session:orphaned', { ...this.#identity(binding), durationMs });
  }

  // ------------------------------------------------------------------ sweeper

  #startSweeper(): void {
    const ttl = this.#options.idleTtlMs;
    if (ttl === 0 || this.#sweeper !== undefined || this.#closed) return;
    const interval = Math.max(1, Math.min(Math.ceil(ttl / 2), 60_000));
    this.#sweeper = this.#clock.setTimeout(() => this.#sweep(), interval, { unref: true });
  }

  #sweep(): void {
    this.#sweeper = undefined;
    const cutoff = this.#clock.now() - this.#options.idleTtlMs;
    for (const binding of this.#idle) {
      if (binding.lastUsedAt > cutoff) break;
      void this.#retire(binding, 'idle-expired');
    }
    if (this.#bindings.size > 0) this.#startSweeper();
  }

  #forgetDownstreamOf(binding: Binding<C>): void {
    const ds = this.#downstream.get(binding.request.downstreamSessionId);
    if (ds !== undefined) this.#forgetIfEmpty(ds);
  }

  /**
   * Drops a downstream session's bookkeeping once it has no upstream sessions and
   * no acquire in progress; gives back its ownership if it had any. A session we
   * do not own keeps no state: the next acquire asks the affinity again.
   */
  #forgetIfEmpty(ds: DownstreamState<C>): void {
    if (this.#closed || this.#downstream.get(ds.id) !== ds) return;
    if (ds.bindings.size > 0 || ds.pending > 0 || ds.lost !== undefined) return;
    this.#downstream.delete(ds.id);
    if (ds.owned) void this.#track(this.#releaseOwnership(ds.id));
  }

  // ----------------------------------------------------------------- shutdown

  async #shutdown(): Promise<void> {
    if (this.#sweeper !== undefined) {
      this.#clock.clearTimeout(this.#sweeper);
      this.#sweeper = undefined;
    }
    const owned = [...this.#downstream.values()].filter((ds) => ds.owned).map((ds) => ds.id);
    // One set of phase ends for every session: however long retiring 100k sessions
    // takes, none of them closes later than 3 x closeTimeoutMs after closeAll began.
    const shared = sharedPhaseEnds(this.#options.closeTimeoutMs, this.#clock);
    const [first, second, third] = shared.ends as [Promise<void>, Promise<void>, Promise<void>];
    const idle: CloseSchedule = { drain: first, graceful: first, forced: second };
    const busy: CloseSchedule = { drain: first, graceful: second, forced: third };
    const retiring = [...this.#bindings.values()].map((b) =>
      this.#retire(b, 'registry-closed', undefined, b.inFlight > 0 || b.state === 'creating' ? busy : idle),
    );
    // Ownership goes back while the sessions close: release (<= closeTimeoutMs)
    // then affinity close (<= closeTimeoutMs) fit inside the 3 x closeTimeoutMs of a retire.
    const releasing = Promise.all(owned.map((id) => this.#releaseOwnership(id))).then(() => this.#closeAffinity());
    await Promise.all([...retiring, releasing, ...this.#closing]);
    shared.cancel();
    this.#downstream.clear();
    this.#gateways.clear();
  }

  async #closeAffinity(): Promise<void> {
    this.#unsubscribeOwnership?.();
    try {
      const closed = await waitWithin(this.#affinity.close(), this.#options.closeTimeoutMs, this.#clock);
      if (!closed) this.#logger.warn({}, 'affinity close timed out');
    } catch (error) {
      this.#logger.warn({ error: describeError(error) }, 'affinity close failed');
    }
  }

  #identity(binding: Binding<C>): SessionIdentity {
    const { downstreamSessionId, gatewayId, transport, connectionId } = binding.info;
    return { downstreamSessionId, gatewayId, transport, connectionId };
  }
}
