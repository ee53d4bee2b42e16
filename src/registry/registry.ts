import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { RegistryClosedError, SessionLostError, SessionRetiredError } from '../errors.js';
import type { RegistryEvents } from '../events.js';
import type { SessionLease } from '../lease.js';
import type { RegistryOptions } from '../options.js';
import type { ProbeableClient } from '../probe.js';
import { SessionCreateRequest, type SessionCreateRequestInit, heldRequestFor } from '../request.js';
import type { SessionInfo } from '../session.js';
import type { RegistrySnapshot, SessionPage, SessionPageOptions, SnapshotOptions } from '../snapshot.js';
import { type AcquireSpan, type Binding, isLive, retirementOf } from './binding.js';
import { RegistryCore } from './core.js';
import type { DownstreamState } from './ownership.js';
import { buildSessionPage, buildSnapshot, gatewaySnapshots } from './stats.js';
import { validatePageOptions, validateSnapshotOptions } from './snapshot-options.js';
import { type AcquireOptions, type CloseAllOptions, requireFunction, requireString, validateAcquireOptions, validateCloseAllOptions } from './call-options.js';

/** How many times one acquire rebuilds after the connection it waited for broke. */
const MAX_ATTEMPTS = 3;

/**
 * Holds exactly one upstream MCP client session per (downstream session id,
 * gateway id), reuses it for every call of that downstream session, probes it
 * after idle, retires it when it breaks, its configuration changes or the
 * downstream session ends, bounds every resource and closes everything in
 * bounded time. Each upstream session moves through the states of
 * {@link SessionState} (see `docs/lifecycle.md`).
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
  readonly #core: RegistryCore<C>;
  #closeAll: Promise<void> | undefined;
  #detachTelemetry: (() => void) | undefined;
  /** The validated request of the session held for a (downstream session, gateway), for the plain-init warm path. */
  readonly #heldRequest = (downstreamSessionId: string, gatewayId: string): SessionCreateRequest | undefined =>
    this.#core.ownership.get(downstreamSessionId)?.bindings.get(gatewayId)?.request;

  /** Throws `InvalidOptionsError` for an unknown or malformed option. */
  constructor(options?: RegistryOptions<C>) {
    const core = new RegistryCore<C>(options);
    this.#core = core;
    core.unsubscribeOwnership = core.affinity.onOwnershipLost?.((id) => this.#onOwnershipLost(id));
    this.#detachTelemetry = core.telemetry?.attach?.({ gatewayCounts: () => gatewaySnapshots(core, core.clock.now()) });
  }

  /** Live (ready or probing) upstream sessions. */
  get size(): number {
    return this.#core.live;
  }

  /** True once `closeAll()` was called. */
  get closed(): boolean {
    return this.#core.closed;
  }

  /** Subscribes to an event. A listener that throws is logged and cannot break the registry. */
  on<K extends keyof RegistryEvents>(type: K, handler: (event: RegistryEvents[K]) => void): void {
    this.#core.events.on(type, handler);
  }

  /** Removes a listener added with {@link UpstreamSessionRegistry.on}. */
  off<K extends keyof RegistryEvents>(type: K, handler: (event: RegistryEvents[K]) => void): void {
    this.#core.events.off(type, handler);
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
    const core = this.#core;
    if (core.closed) throw new RegistryClosedError();
    // A plain init equal to the held session's request needs no validation nor
    // hashing; anything not provably equal is validated as usual.
    const request =
      init instanceof SessionCreateRequest ? init : (heldRequestFor(init, this.#heldRequest) ?? SessionCreateRequest.from(init));
    const signal = validateAcquireOptions(opts);
    signal?.throwIfAborted();
    // Warm path: a healthy, recently used connection of an owned downstream
    // session is handed out without awaiting anything.
    const held = core.bindings.get(request.key);
    if (held !== undefined) {
      const phase = held.phase;
      const ds = core.ownership.get(request.downstreamSessionId);
      if (
        phase.state === 'ready' &&
        ds?.owned === true &&
        ds.lost === undefined &&
        (held.request === request ||
          (held.request.fingerprint === request.fingerprint && held.request.credentialsKey === request.credentialsKey)) &&
        !core.leases.needsProbe(held)
      ) {
        return core.leases.lease(held, phase.connection);
      }
    }
    return this.#acquireSlow(request, signal);
  }

  async #acquireSlow(request: SessionCreateRequest, signal: AbortSignal | undefined): Promise<SessionLease<C>> {
    const { ownership, leases } = this.#core;
    const span = this.#core.telemetry?.acquireStart(request);
    const ds = ownership.stateFor(request.downstreamSessionId);
    // While any acquire of this downstream session is in progress its state stays,
    // so one caller's failure cannot look like an eviction to another.
    ds.pending++;
    try {
      await ownership.ensureOwned(ds, signal, span);
      for (let attempt = 1; ; attempt++) {
        this.#assertUsable(ds);
        const binding = this.#bindingFor(request, ds, span);
        const lease = await leases.whenReady(binding, signal, request, span);
        if (ds.lost !== undefined) {
          // This or another gateway of this downstream session was lost while we waited ('fail').
          lease?.release();
          throw new SessionLostError(ds.id, ds.lost.cause);
        }
        if (lease !== undefined) {
          span?.end('ok');
          return lease;
        }
        const error = leases.waiterError(binding);
        if (error !== undefined) throw error;
        if (attempt === MAX_ATTEMPTS) throw new SessionRetiredError(retirementOf(binding.phase)?.reason ?? 'lost');
      }
    } catch (error) {
      span?.end('error', error);
      throw error;
    } finally {
      ds.pending--;
      // A downstream session that never got an upstream session keeps no state.
      ownership.forgetIfEmpty(ds);
    }
  }

  #assertUsable(ds: DownstreamState<C>): void {
    if (this.#core.closed) throw new RegistryClosedError();
    if (ds.lost !== undefined) throw new SessionLostError(ds.id, ds.lost.cause);
    if (this.#core.ownership.get(ds.id) !== ds) throw new SessionRetiredError('downstream-evicted');
  }

  /**
   * The session to use for this request: the held one (its credentials rotate
   * in place), or a new one being created.
   */
  #bindingFor(request: SessionCreateRequest, ds: DownstreamState<C>, span: AcquireSpan | undefined): Binding<C> {
    const held = this.#core.bindings.get(request.key);
    if (held !== undefined && held.request.fingerprint === request.fingerprint && this.#core.leases.credentialsFit(held, request)) {
      return held;
    }
    if (held !== undefined) void this.#core.retirer.retire(held, 'config-changed');
    return this.#core.creator.create(request, ds, span);
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
    requireFunction('fn', fn);
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
   * Says the downstream session is alive (e.g. its stream is open) without using
   * it: refreshes the idle-expiry clock (`idleTtlMs`) of its live upstream
   * sessions, but not the probe-after-idle clock. Returns how many it touched;
   * 0 for an unknown downstream session or after `closeAll()`. O(its sessions).
   *
   * @example
   * ```ts
   * // while the client's GET stream is open:
   * setInterval(() => registry.touch(sessionId), 60_000);
   * ```
   */
  touch(downstreamSessionId: string): number {
    requireString('downstreamSessionId', downstreamSessionId);
    const core = this.#core;
    const ds = core.closed ? undefined : core.ownership.get(downstreamSessionId);
    if (ds === undefined) return 0;
    const now = core.clock.now();
    let touched = 0;
    for (const binding of ds.bindings.values()) {
      if (!isLive(binding.phase)) continue;
      binding.activeAt = now;
      // Keep the idle list ordered by activity: the touched session goes last.
      if (core.idle.delete(binding)) core.idle.add(binding);
      touched++;
    }
    return touched;
  }

  /**
   * Retires every upstream session of a downstream session (call it when the
   * downstream session ends), clears a lost mark and releases affinity
   * ownership. Resolves with the number of upstream sessions retired, once
   * they are closed (or orphaned).
   */
  async evictSession(downstreamSessionId: string): Promise<number> {
    requireString('downstreamSessionId', downstreamSessionId);
    const { ownership, retirer, closed } = this.#core;
    const ds = ownership.get(downstreamSessionId);
    if (ds !== undefined) {
      ownership.detach(ds);
      // Released below; a claim still in flight releases its own grant.
      ds.owned = false;
    }
    const bindings = ds === undefined ? [] : [...ds.bindings.values()];
    const retiring = bindings.map((b) => retirer.retire(b, 'downstream-evicted'));
    const releasing = closed ? Promise.resolve() : ownership.release(downstreamSessionId);
    await Promise.all([...retiring, releasing]);
    return bindings.length;
  }

  /**
   * Retires every upstream session of a gateway (e.g. it was removed from the
   * configuration) and forgets its backoff state. Costs O(sessions of that gateway).
   */
  async evictGateway(gatewayId: string): Promise<number> {
    requireString('gatewayId', gatewayId);
    const { gateways, retirer } = this.#core;
    const spares = this.#core.spares.evictGateway(gatewayId);
    const gw = gateways.get(gatewayId);
    if (gw === undefined) return spares.then(() => 0);
    const bindings = [...gw.bindings];
    gateways.reset(gw);
    await Promise.all([...bindings.map((b) => retirer.retire(b, 'gateway-evicted')), spares]);
    return bindings.length;
  }

  /**
   * Closes every upstream session in parallel and stops the registry. Idempotent.
   * Bounded: at most 3 x `closeTimeoutMs` however many sessions there are (plus
   * `closeTimeoutMs` for the affinity). After it, `acquire` rejects at once with
   * `RegistryClosedError` (so does an acquire waiting for an affinity claim), and
   * a create that finishes later is closed on arrival.
   *
   * With `{ handover: true }` (graceful shutdown of one of many workers, see
   * {@link CloseAllOptions.handover}) the upstream sessions are detached, not
   * ended, and ownership goes back at once, so other workers re-attach to them.
   * The first call decides the mode; later calls return its promise.
   *
   * @throws {InvalidRequestError} (synchronously) for malformed options; nothing is closed then.
   *
   * @example
   * ```ts
   * process.once('SIGTERM', async () => {
   *   server.close(); // no new connections
   *   await sessions.closeAll({ handover: true });
   *   await registry.closeAll({ handover: true });
   * });
   * ```
   */
  closeAll(options?: CloseAllOptions): Promise<void> {
    const handover = validateCloseAllOptions(options);
    if (this.#closeAll !== undefined) return this.#closeAll;
    const core = this.#core;
    core.closed = true;
    const span = core.telemetry?.closeAllStart();
    const orphansBefore = core.counts.orphaned;
    this.#closeAll = handover ? core.retirer.handover() : core.retirer.shutdown();
    if (span !== undefined || this.#detachTelemetry !== undefined) {
      const done = (): void => {
        span?.end(core.counts.orphaned - orphansBefore);
        this.#detachTelemetry?.();
      };
      this.#closeAll.then(done, done);
    }
    return this.#closeAll;
  }

  /** Same as {@link UpstreamSessionRegistry.closeAll}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.closeAll();
  }

  /**
   * Frozen plain data about the registry: sessions by state (`live` = ready or
   * probing, `creating`, `retiring` = draining or closing); never header values,
   * URL credentials or query strings. `snapshot({ sessions: false })` is the
   * counts-only form: O(gateways), `sessions` empty.
   *
   * @example
   * ```ts
   * const { live, gateways } = registry.snapshot({ sessions: false });
   * ```
   */
  snapshot(options?: SnapshotOptions): RegistrySnapshot {
    return buildSnapshot(this.#core, validateSnapshotOptions(options));
  }

  /**
   * One page of the sessions in service (creating, ready or probing), oldest
   * connection first, for an operator's listing. Follow `nextCursor` for the
   * next page. Throws `InvalidRequestError` for a bad cursor or limit.
   *
   * @example
   * ```ts
   * let page = registry.sessions({ limit: 500 });
   * while (page.nextCursor !== undefined) page = registry.sessions({ cursor: page.nextCursor, limit: 500 });
   * ```
   */
  sessions(options?: SessionPageOptions): SessionPage {
    const { after, limit } = validatePageOptions(options);
    return buildSessionPage(this.#core, after, limit);
  }

  #onOwnershipLost(downstreamSessionId: string): void {
    const { ownership, retirer } = this.#core;
    const ds = ownership.get(downstreamSessionId);
    if (ds === undefined) return;
    ownership.detach(ds);
    // Another worker holds it now: nothing to release.
    ds.owned = false;
    for (const b of ds.bindings.values()) void retirer.retire(b, 'ownership-lost');
  }
}
