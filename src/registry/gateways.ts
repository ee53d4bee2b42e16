/**
 * Per-gateway state: its sessions, its create concurrency (`createConcurrencyPerGateway`)
 * and the reconnect-storm backoff. A gateway with nothing to remember keeps no state.
 *
 * @module
 */
import pLimit, { type LimitFunction } from 'p-limit';
import { CreateFailedError } from '../errors.js';
import type { ProbeableClient } from '../probe.js';
import type { Binding } from './binding.js';
import type { RegistryCore } from './core.js';

export interface GatewayState<C> {
  readonly id: string;
  /** Its sessions creating or live. */
  readonly bindings: Set<Binding<C>>;
  /** How many of `bindings` are live (ready or probing); the rest are creating. Kept by `transition()` and `unindex()`. */
  live: number;
  readonly limit: LimitFunction;
  consecutiveFailures: number;
  /** End of the backoff window; 0 while the breaker is closed. Past it, the breaker is half-open. */
  backoffUntil: number;
  lastError: unknown;
  /** Half-open: the one trial create let through after the window, until it ends. */
  trial: Binding<C> | undefined;
}

export class Gateways<C extends ProbeableClient> {
  readonly #core: RegistryCore<C>;
  readonly #states = new Map<string, GatewayState<C>>();

  constructor(core: RegistryCore<C>) {
    this.#core = core;
  }

  get(id: string): GatewayState<C> | undefined {
    return this.#states.get(id);
  }

  all(): IterableIterator<GatewayState<C>> {
    return this.#states.values();
  }

  /** The gateway's state, created on first use. Call only once a create is certain (a refusal leaves nothing). */
  stateFor(id: string): GatewayState<C> {
    let gw = this.#states.get(id);
    if (gw === undefined) {
      gw = {
        id,
        bindings: new Set(),
        live: 0,
        limit: pLimit(this.#core.options.createConcurrencyPerGateway),
        consecutiveFailures: 0,
        backoffUntil: 0,
        lastError: undefined,
        trial: undefined,
      };
      this.#states.set(id, gw);
    }
    return gw;
  }

  /** Forgets a gateway with no sessions, no creates and no backoff state (and its p-limit). */
  dropIfUnused(gw: GatewayState<C>): void {
    if (gw.bindings.size > 0 || gw.limit.activeCount + gw.limit.pendingCount > 0 || gw.consecutiveFailures > 0) return;
    if (this.#states.get(gw.id) === gw) this.#states.delete(gw.id);
  }

  /** `evictGateway`: forget its backoff; its state goes once its creates are over. */
  reset(gw: GatewayState<C>): void {
    gw.consecutiveFailures = 0;
    gw.backoffUntil = 0;
    gw.lastError = undefined;
    gw.trial = undefined;
    if (gw.limit.activeCount + gw.limit.pendingCount === 0) this.#states.delete(gw.id);
  }

  /**
   * Whether `binding` may call the factory now: `undefined` lets it, an error
   * refuses it fast. A circuit breaker: while the window is open every create
   * is refused with the time left; once it ended (half-open) exactly one trial
   * create goes through and the others are refused until it ends. A trial's
   * success closes the breaker at once; its failure opens the next window.
   * End every admitted create with {@link Gateways.endTrial}.
   */
  admit(gw: GatewayState<C>, binding: Binding<C>, now: number): CreateFailedError | undefined {
    if (gw.backoffUntil === 0) return undefined;
    if (gw.backoffUntil <= now && gw.trial === undefined) {
      gw.trial = binding;
      return undefined;
    }
    // While the trial runs, the shortest window is the honest hint.
    const retryAfterMs = gw.backoffUntil > now ? gw.backoffUntil - now : (this.#core.options.backoff?.initialMs ?? 0);
    return new CreateFailedError(
      gw.id,
      `Creates for gateway ${JSON.stringify(gw.id)} are backing off after ${gw.consecutiveFailures} consecutive failures; retry in ${retryAfterMs} ms`,
      gw.lastError,
      retryAfterMs,
    );
  }

  /** An admitted create ended (any way, retirement included): a trial frees the half-open slot. */
  endTrial(gw: GatewayState<C>, binding: Binding<C>): void {
    if (gw.trial === binding) gw.trial = undefined;
  }

  succeeded(gw: GatewayState<C>): void {
    gw.consecutiveFailures = 0;
    gw.backoffUntil = 0;
    gw.lastError = undefined;
  }

  /** Counts a failure; opens (or widens) the backoff window once `afterFailures` is reached. */
  failed(gw: GatewayState<C>, cause: unknown): void {
    gw.consecutiveFailures++;
    gw.lastError = cause;
    const { options, clock, logger, events } = this.#core;
    const backoff = options.backoff;
    if (backoff === undefined || gw.consecutiveFailures < backoff.afterFailures) return;
    const exponent = Math.min(gw.consecutiveFailures - backoff.afterFailures, 30);
    const backoffMs = Math.min(backoff.maxMs, backoff.initialMs * 2 ** exponent);
    gw.backoffUntil = clock.now() + backoffMs;
    logger.warn({ gatewayId: gw.id, consecutiveFailures: gw.consecutiveFailures, backoffMs }, 'gateway create backoff');
    events.emit('gateway:backoff', { gatewayId: gw.id, consecutiveFailures: gw.consecutiveFailures, backoffMs });
    this.#core.telemetry?.backoff(gw.id, gw.consecutiveFailures, backoffMs);
  }

  clear(): void {
    this.#states.clear();
  }
}
