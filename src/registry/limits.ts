/**
 * Bounds: the session caps (`maxSessions`, `maxSessionsPerGateway`) with LRU
 * idle eviction, and the sweeper that retires idle sessions and expires lost marks.
 *
 * @module
 */
import type { ClockTimer } from '../clock.js';
import { CapacityError } from '../errors.js';
import type { ProbeableClient } from '../probe.js';
import type { Binding } from './binding.js';
import type { RegistryCore } from './core.js';
import type { GatewayState } from './gateways.js';

export class Limits<C extends ProbeableClient> {
  readonly #core: RegistryCore<C>;
  #sweeper: ClockTimer | undefined;

  constructor(core: RegistryCore<C>) {
    this.#core = core;
  }

  /**
   * Makes room for one more session of `gatewayId`: rejects with `CapacityError`,
   * or retires the least-recently-active idle session (`overflow: 'evict-idle'`).
   * Every victim is picked before anything changes, so a refusal changes nothing
   * (not even a gateway entry).
   *
   * Counted against `maxSessions`: sessions creating, live and draining (a
   * draining session still holds a connection with calls in flight). Sessions
   * closing are bounded apart: at most `maxSessions` at once, so connections
   * never exceed 2 x `maxSessions` however fast sessions churn.
   */
  makeRoom(gatewayId: string): void {
    const { options, counts, bindings, idle } = this.#core;
    const { maxSessions, maxSessionsPerGateway } = options;
    const evict = options.overflow === 'evict-idle';
    const gw = this.#core.gateways.get(gatewayId);
    const spares = this.#core.spares;
    const gatewayFull = (gw?.bindings.size ?? 0) + spares.countOf(gatewayId) >= maxSessionsPerGateway;
    const registryFull = bindings.size + counts.draining + spares.size >= maxSessions;
    // Warm spares hold no one's state: they give their room up first.
    // A full gateway gains room only from its own spares; a full registry from any gateway's.
    if ((gatewayFull || registryFull) && spares.yieldRoom(gatewayId, gatewayFull)) {
      this.makeRoom(gatewayId);
      return;
    }
    const gatewayVictim = gatewayFull && evict && gw !== undefined ? this.#idlestOf(gw) : undefined;
    if (gatewayFull && gatewayVictim === undefined) throw new CapacityError('gateway', maxSessionsPerGateway, gatewayId);
    const registryVictim = registryFull && gatewayVictim === undefined && evict ? idle.first() : undefined;
    if (registryFull && gatewayVictim === undefined && registryVictim === undefined) {
      throw new CapacityError('registry', maxSessions);
    }
    if (counts.closing >= maxSessions) throw new CapacityError('registry', maxSessions);
    const victim = gatewayVictim ?? registryVictim;
    if (victim !== undefined) void this.#core.retirer.retire(victim, 'capacity');
  }

  #idlestOf(gw: GatewayState<C>): Binding<C> | undefined {
    let idlest: Binding<C> | undefined;
    for (const b of gw.bindings) {
      if (!b.idleListed) continue;
      if (idlest === undefined || b.activeAt < idlest.activeAt) idlest = b;
    }
    return idlest;
  }

  /** Starts the sweeper when it has something to do: idle sessions to expire or lost marks to age. */
  startSweeper(): void {
    const { options, closed, bindings, ownership } = this.#core;
    if (this.#sweeper !== undefined || closed) return;
    const idleTtl = options.idleTtlMs === 0 ? Number.POSITIVE_INFINITY : options.idleTtlMs;
    const sessionsToSweep = options.idleTtlMs > 0 && bindings.size > 0;
    if (!sessionsToSweep && ownership.lostMarks === 0) return;
    const interval = Math.max(1, Math.min(Math.ceil(Math.min(idleTtl, options.lostSessionTtlMs) / 2), 60_000));
    this.#sweeper = this.#core.clock.setTimeout(() => this.#sweep(), interval, { unref: true });
  }

  stopSweeper(): void {
    if (this.#sweeper === undefined) return;
    this.#core.clock.clearTimeout(this.#sweeper);
    this.#sweeper = undefined;
  }

  /** O(expired): the idle list is ordered by last activity. */
  #sweep(): void {
    this.#sweeper = undefined;
    const { options, clock, idle, retirer, ownership } = this.#core;
    const now = clock.now();
    if (options.idleTtlMs > 0) {
      const cutoff = now - options.idleTtlMs;
      for (const binding of idle) {
        if (binding.activeAt > cutoff) break;
        void retirer.retire(binding, 'idle-expired');
      }
    }
    ownership.expireLostMarks(now);
    this.startSweeper();
  }
}
