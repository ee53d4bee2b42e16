/**
 * Warm spares (`RegistryOptions.spares`): per gateway, up to n upstream
 * sessions already connected and initialized that belong to no downstream
 * session. A create for that gateway takes one instead of calling the factory
 * (a cold start becomes a hand-over) and a replacement starts in the
 * background, under the gateway's `createConcurrencyPerGateway` bound.
 *
 * Rules: a spare is taken once, by one downstream session, and leaves the pool
 * when taken; it is used only when its fingerprint (and credentials) equal the
 * request's; spares count against `maxSessions` / `maxSessionsPerGateway` and
 * are the first to go when a real session needs their room; a spare unused for
 * `idleTtlMs` is closed and not replaced until the next create of its gateway;
 * `evictGateway` and `closeAll` close them (bounded like any close).
 *
 * The registry learns a gateway's configuration from requests: the pool of a
 * gateway starts with its first create and follows the configuration of the
 * latest one.
 *
 * @module
 */
import type { ClockTimer } from '../clock.js';
import type { FactoryContext, UpstreamConnection } from '../factory.js';
import { raceSignal } from '../internal/abort.js';
import { type CloseSchedule, closeWithin, waitWithin } from '../internal/close.js';
import type { ProbeableClient } from '../probe.js';
import { SessionCreateRequest } from '../request.js';
import type { Binding } from './binding.js';
import type { RegistryCore } from './core.js';
import { SPARE_ID_PREFIX } from '../internal/spare-id.js';

/** One spare: starting (factory running) or ready (connected, in its pool). */
class Spare<C> {
  readonly request: SessionCreateRequest;
  readonly control = new AbortController();
  connection: UpstreamConnection<C> | undefined = undefined;
  /** The factory's promise while starting. */
  call: Promise<UpstreamConnection<C>> | undefined = undefined;
  /** Create deadline while starting, idle expiry once ready. */
  timer: ClockTimer | undefined = undefined;
  /** The session it was handed to; its `onBroken` goes there from then on. */
  owner: Binding<C> | undefined = undefined;
  /** Reported broken or discarded: never handed out. */
  dead = false;

  constructor(request: SessionCreateRequest) {
    this.request = request;
  }
}

interface Pool<C> {
  readonly gatewayId: string;
  readonly want: number;
  /** The configuration spares are made with: the latest create's request. */
  template: SessionCreateRequest | undefined;
  readonly spares: Set<Spare<C>>;
}

/** A spare that can serve `request`: same fingerprint and same credentials. */
function fits<C>(spare: Spare<C>, request: SessionCreateRequest): boolean {
  if (spare.connection === undefined || spare.dead || spare.request.fingerprint !== request.fingerprint) return false;
  // Never across credentials, even for a connection that can take new ones: an upstream may bind its
  // session to the identity it saw at initialize, and would serve this request as someone else.
  return spare.request.credentialsKey === request.credentialsKey;
}

/** The spare's request: the template's configuration under a spare id. */
function spareRequest(template: SessionCreateRequest, n: number): SessionCreateRequest {
  return SessionCreateRequest.from({
    downstreamSessionId: `${SPARE_ID_PREFIX}${n}`,
    gatewayId: template.gatewayId,
    ...(template.url !== '' && { url: template.url }),
    transport: template.transport,
    headers: template.headers,
    credentials: template.credentials,
    ...(template.configVersion !== undefined && { configVersion: template.configVersion }),
    ...(template.connectTimeoutMs !== undefined && { connectTimeoutMs: template.connectTimeoutMs }),
    ...(template.stdio !== undefined && { stdio: template.stdio }),
  });
}

export class Spares<C extends ProbeableClient> {
  readonly #core: RegistryCore<C>;
  readonly #pools = new Map<string, Pool<C>>();
  /** Closes in progress, for `closeAll()`. */
  readonly #closing = new Set<Promise<void>>();
  #count = 0;
  #nextId = 1;

  constructor(core: RegistryCore<C>) {
    this.#core = core;
  }

  /** Spares held (starting or ready), all gateways. */
  get size(): number {
    return this.#count;
  }

  /** Spares held for one gateway. */
  countOf(gatewayId: string): number {
    return this.#pools.get(gatewayId)?.spares.size ?? 0;
  }

  /**
   * A ready spare for `request`, taken out of its pool (it never serves anyone
   * else), or `undefined`. Call {@link Spares.handOver} once the session exists.
   */
  take(request: SessionCreateRequest): Spare<C> | undefined {
    if (this.#core.closed) return undefined;
    const pool = this.#pools.get(request.gatewayId);
    if (pool === undefined) return undefined;
    for (const spare of pool.spares) {
      if (!fits(spare, request)) continue;
      this.#remove(pool, spare);
      return spare;
    }
    return undefined;
  }

  /** A taken spare now serves `binding`: its breakage is that session's, its credentials the request's. */
  handOver(spare: Spare<C>, binding: Binding<C>): UpstreamConnection<C> {
    const connection = spare.connection as UpstreamConnection<C>;
    spare.owner = binding;
    this.#adopt(connection, binding);
    return connection;
  }

  /** Tells the connection whose it is now; its hook failing must not cost the session. */
  #adopt(connection: UpstreamConnection<C>, binding: Binding<C>): void {
    if (connection.adopt === undefined) return;
    try {
      connection.adopt(binding.request);
    } catch (error) {
      const { downstreamSessionId, gatewayId } = binding.request;
      // A spare serves only a request with its own headers and credentials (see `fits`): one redaction covers both.
      this.#core.logger.warn({ downstreamSessionId, gatewayId, error: this.#core.describe(error, binding.request) }, 'spare: adopt() threw; the session is served all the same');
    }
  }

  /** A taken spare the registry could not use after all (no room): it is closed. */
  giveBack(spare: Spare<C>): void {
    this.#close(spare, this.#core.perPhase);
  }

  /**
   * A create of `request`'s gateway happened: the pool follows its configuration
   * (spares of an older one are closed) and is topped up in the background.
   */
  replenish(request: SessionCreateRequest): void {
    const core = this.#core;
    const want = core.options.spares.get(request.gatewayId);
    if (want === undefined || want === 0 || core.closed) return;
    let pool = this.#pools.get(request.gatewayId);
    if (pool === undefined) {
      pool = { gatewayId: request.gatewayId, want, template: undefined, spares: new Set() };
      this.#pools.set(request.gatewayId, pool);
    }
    const template = pool.template;
    if (template === undefined || template.fingerprint !== request.fingerprint || template.credentialsKey !== request.credentialsKey) {
      pool.template = request;
      for (const spare of [...pool.spares]) if (spare.request.fingerprint !== request.fingerprint) this.#discard(pool, spare);
    }
    while (pool.spares.size < pool.want && this.#hasRoom(pool.gatewayId)) this.#start(pool);
  }

  /**
   * Frees one spare's room for a real session: one of `gatewayId` (when
   * `sameGateway`), else of any gateway. Returns false when there is none.
   */
  yieldRoom(gatewayId: string, sameGateway: boolean): boolean {
    const own = this.#pools.get(gatewayId);
    const pools = sameGateway ? (own === undefined ? [] : [own]) : [...(own === undefined ? [] : [own]), ...this.#pools.values()];
    for (const pool of pools) {
      // Starting spares first: they have not cost a full create yet.
      const spare = [...pool.spares].sort((a, b) => Number(a.connection !== undefined) - Number(b.connection !== undefined))[0];
      if (spare === undefined) continue;
      this.#discard(pool, spare);
      return true;
    }
    return false;
  }

  /** `evictGateway`: its spares are closed and its pool forgotten. */
  evictGateway(gatewayId: string): Promise<void> {
    const pool = this.#pools.get(gatewayId);
    if (pool === undefined) return Promise.resolve();
    this.#pools.delete(gatewayId);
    const closes = [...pool.spares].map((spare) => this.#discard(pool, spare));
    return Promise.all(closes).then(() => undefined);
  }

  /** `closeAll()`: closes every spare within `schedule` and waits for closes in progress. */
  async closeAll(schedule: CloseSchedule): Promise<void> {
    for (const pool of this.#pools.values()) for (const spare of [...pool.spares]) this.#discard(pool, spare, schedule);
    this.#pools.clear();
    await Promise.all([...this.#closing]);
  }

  /** Room for one more spare, counted like sessions against both caps; spares never evict. */
  #hasRoom(gatewayId: string): boolean {
    const { options, counts, bindings, gateways } = this.#core;
    if (bindings.size + counts.draining + this.#count >= options.maxSessions) return false;
    if (counts.closing >= options.maxSessions) return false;
    const held = (gateways.get(gatewayId)?.bindings.size ?? 0) + this.countOf(gatewayId);
    return held < options.maxSessionsPerGateway;
  }

  #start(pool: Pool<C>): void {
    const core = this.#core;
    const spare = new Spare<C>(spareRequest(pool.template as SessionCreateRequest, this.#nextId++));
    pool.spares.add(spare);
    this.#count++;
    const deadlineMs = spare.request.connectTimeoutMs ?? core.options.createTimeoutMs;
    spare.timer = core.clock.setTimeout(() => {
      spare.timer = undefined;
      spare.control.abort(new DOMException(`Spare create timed out after ${deadlineMs} ms`, 'TimeoutError'));
    }, deadlineMs);
    const gw = core.gateways.stateFor(pool.gatewayId);
    gw.limit(() => this.#run(pool, spare)).catch((error: unknown) => {
      core.logger.debug({ gatewayId: pool.gatewayId, error: core.describe(error) }, 'spare upstream session not started');
      this.#discard(pool, spare);
    });
  }

  async #run(pool: Pool<C>, spare: Spare<C>): Promise<void> {
    const core = this.#core;
    if (spare.dead) return;
    // A gateway backing off gets no spares, nor may a spare take its half-open trial: a real create tries again.
    if (core.gateways.stateFor(pool.gatewayId).backoffUntil !== 0) throw new Error('the gateway is backing off');
    const ctx: FactoryContext = { signal: spare.control.signal, onBroken: (reason) => this.#onBroken(pool, spare, reason) };
    spare.call = Promise.resolve().then(() => core.factory(spare.request, ctx));
    const connection = await raceSignal(spare.call, spare.control.signal);
    spare.call = undefined;
    this.#clearTimer(spare);
    if (spare.dead || !pool.spares.has(spare)) {
      this.#track(closeWithin((c) => connection.close(c), core.perPhase, core.clock).then(() => undefined));
      return;
    }
    spare.connection = connection;
    if (core.options.idleTtlMs > 0) {
      spare.timer = core.clock.setTimeout(() => this.#expire(pool, spare), core.options.idleTtlMs, { unref: true });
    }
  }

  #onBroken(pool: Pool<C>, spare: Spare<C>, reason: unknown): void {
    if (spare.owner !== undefined) {
      this.#core.retirer.onBroken(spare.owner, reason);
      return;
    }
    this.#discard(pool, spare);
  }

  /** Unused for `idleTtlMs`: closed, not replaced until the gateway's next create. */
  #expire(pool: Pool<C>, spare: Spare<C>): void {
    spare.timer = undefined;
    this.#core.logger.debug({ gatewayId: pool.gatewayId }, 'spare upstream session idle-expired');
    this.#discard(pool, spare);
  }

  #remove(pool: Pool<C>, spare: Spare<C>): void {
    if (!pool.spares.delete(spare)) return;
    this.#count--;
    this.#clearTimer(spare);
  }

  /** Takes a spare out of its pool and closes it (bounded). */
  #discard(pool: Pool<C>, spare: Spare<C>, schedule?: CloseSchedule): Promise<void> {
    this.#remove(pool, spare);
    return this.#close(spare, schedule ?? this.#core.perPhase);
  }

  #close(spare: Spare<C>, schedule: CloseSchedule): Promise<void> {
    if (spare.dead) return Promise.resolve();
    spare.dead = true;
    const { clock } = this.#core;
    const connection = spare.connection;
    spare.connection = undefined;
    if (connection !== undefined) return this.#track(closeWithin((c) => connection.close(c), schedule, clock).then(() => undefined));
    // Still starting: stop the factory; what it still delivers is closed.
    spare.control.abort(new DOMException('Spare no longer wanted', 'AbortError'));
    const call = spare.call;
    if (call === undefined) return Promise.resolve();
    return this.#track(
      (async () => {
        if (!(await waitWithin(call, schedule.drain, clock))) {
          // A factory that ignores its abort may still deliver: closed then, as a session's late create is.
          this.#core.retirer.closeOnArrival(call, { gatewayId: spare.request.gatewayId, spare: true });
          return;
        }
        const late = await call.catch(() => undefined);
        if (late !== undefined) await closeWithin((c) => late.close(c), schedule, clock);
      })(),
    );
  }

  #track(closing: Promise<void>): Promise<void> {
    const tracked = closing.finally(() => this.#closing.delete(tracked));
    this.#closing.add(tracked);
    return tracked;
  }

  #clearTimer(spare: Spare<C>): void {
    if (spare.timer === undefined) return;
    this.#core.clock.clearTimeout(spare.timer);
    spare.timer = undefined;
  }
}
