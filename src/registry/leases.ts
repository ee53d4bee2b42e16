/**
 * Handing sessions out: leases, the wait for a create or a probe, and
 * probe-after-idle.
 *
 * @module
 */
import { classifyError, isSessionGone } from '../classify.js';
import { RegistryClosedError, SessionRetiredError } from '../errors.js';
import type { RetireReason } from '../events.js';
import type { UpstreamConnection } from '../factory.js';
import { raceSignal } from '../internal/abort.js';
import { deferred } from '../internal/deferred.js';
import { Lease, type LeaseOwner, type SessionLease } from '../lease.js';
import { type ProbeableClient, runProbeChain } from '../probe.js';
import type { SessionCreateRequest } from '../request.js';
import { type AcquireSpan, type Binding, type Phase, isLive, retirementOf } from './binding.js';
import type { RegistryCore } from './core.js';
import { type ProbeOutcome, identity, transition } from './lifecycle.js';

/** Retirements a waiter may retry after: the connection broke, a new one may work. */
const RETRYABLE: ReadonlySet<RetireReason> = new Set(['lost', 'transport-error', 'probe-failed']);

export class Leases<C extends ProbeableClient> {
  readonly #core: RegistryCore<C>;
  /** Where leases report their end; kept off the public surface. */
  readonly #owner: LeaseOwner = { endLease: (binding, error) => this.#end(binding as Binding<C>, error) };

  constructor(core: RegistryCore<C>) {
    this.#core = core;
  }

  lease(binding: Binding<C>, connection: UpstreamConnection<C>): SessionLease<C> {
    binding.inFlight++;
    binding.useCount++;
    this.#core.idle.delete(binding);
    if (binding.useCount > 1) {
      this.#core.totals.reused++;
      const events = this.#core.events;
      if (events.active) {
        const { downstreamSessionId, gatewayId, transport, connectionId } = binding.info;
        events.emit('session:reused', { downstreamSessionId, gatewayId, transport, connectionId, useCount: binding.useCount });
      }
    }
    return new Lease<C>(this.#owner, binding, connection.client, binding.info);
  }

  #end(binding: Binding<C>, error: unknown): void {
    binding.inFlight--;
    const now = this.#core.clock.now();
    binding.lastUsedAt = now;
    binding.activeAt = now;
    const phase = binding.phase;
    if (error !== undefined && phase.state === 'ready' && classifyError(error) === 'transport') {
      void this.#core.retirer.retire(binding, isSessionGone(error) ? 'lost' : 'transport-error');
    }
    if (binding.inFlight > 0) return;
    if (binding.phase.state === 'ready') this.markIdleIfUnused(binding);
    else this.#core.retirer.drained(binding);
  }

  markIdleIfUnused(binding: Binding<C>): void {
    if (binding.phase.state === 'ready' && binding.inFlight === 0 && binding.waiters === 0) this.#core.idle.add(binding);
  }

  /**
   * Whether `binding` can serve `request`'s credentials: they are equal, or the
   * session takes new ones in place (DESIGN invariant 16). A session still
   * creating gets them once ready; a live connection without
   * `updateCredentials` cannot, and is rebuilt ('config-changed').
   */
  credentialsFit(binding: Binding<C>, request: SessionCreateRequest): boolean {
    if (binding.request.credentialsKey === request.credentialsKey) return true;
    const phase = binding.phase;
    return !isLive(phase) || phase.connection.updateCredentials !== undefined;
  }

  /**
   * Puts `request`'s credentials into use on the live connection and keeps
   * `request` on the session, so the next compare is one string compare. A
   * connection that cannot take them (it was still creating when they changed)
   * serves this lease as it is; the next acquire with them rebuilds it.
   */
  #rotateCredentials(binding: Binding<C>, connection: UpstreamConnection<C>, request: SessionCreateRequest): void {
    if (binding.request.credentialsKey === request.credentialsKey || connection.updateCredentials === undefined) return;
    connection.updateCredentials(request.credentials);
    binding.request = request;
    this.#core.logger.debug(identity(binding), 'upstream credentials rotated');
  }

  /** Waits for the session to be ready and probed, with `request`'s credentials; `undefined` means it was retired meanwhile. */
  async whenReady(
    binding: Binding<C>,
    signal: AbortSignal | undefined,
    request: SessionCreateRequest,
    span?: AcquireSpan,
  ): Promise<SessionLease<C> | undefined> {
    // A session someone waits for is not idle: neither the sweeper nor evict-idle may take it.
    binding.waiters++;
    this.#core.idle.delete(binding);
    // One probe per wait: a session just probed is handed out, whatever idleValidationMs says.
    let probed = false;
    try {
      for (;;) {
        const phase: Phase<C> = binding.phase;
        if (phase.state === 'creating') {
          try {
            await raceSignal(phase.job.ready.promise, signal);
          } catch (error) {
            if (signal?.aborted === true || binding.phase.state === 'failed') throw error;
            return undefined;
          }
        } else if (phase.state === 'probing') {
          await raceSignal(phase.probe, signal);
          probed = true;
        } else if (phase.state === 'ready') {
          // Before a probe too: an expired token must not fail the probe of a live session.
          this.#rotateCredentials(binding, phase.connection, request);
          if (probed || !this.needsProbe(binding)) return this.lease(binding, phase.connection);
          this.#startProbe(binding, phase.connection, span);
        } else {
          return undefined;
        }
      }
    } finally {
      binding.waiters--;
      this.markIdleIfUnused(binding);
    }
  }

  /** Why a waiter cannot retry after its session was retired; `undefined` means retry. */
  waiterError(binding: Binding<C>): Error | undefined {
    const reason = retirementOf(binding.phase)?.reason;
    if (reason === 'registry-closed' || this.#core.closed) return new RegistryClosedError();
    if (reason !== undefined && RETRYABLE.has(reason)) return undefined;
    return new SessionRetiredError(reason ?? 'lost');
  }

  needsProbe(binding: Binding<C>): boolean {
    const { idleValidationMs } = this.#core.options;
    // Never probing needs no clock read: one less per acquire.
    if (binding.inFlight > 0 || this.#core.probeChain.length === 0 || idleValidationMs === Number.POSITIVE_INFINITY) return false;
    return this.#core.clock.now() - binding.lastUsedAt >= idleValidationMs;
  }

  /** ready -> probing; the probe ends in ready (healthy, or an application error) or a retirement. */
  #startProbe(binding: Binding<C>, connection: UpstreamConnection<C>, parent: AcquireSpan | undefined): void {
    const done = deferred<void>();
    const phase = { state: 'probing', connection, probe: done.promise, control: new AbortController() } as const;
    transition(this.#core, binding, phase);
    this.#probe(binding, phase, parent).then(done.resolve, done.reject);
  }

  async #probe(binding: Binding<C>, phase: Extract<Phase<C>, { state: 'probing' }>, parent: AcquireSpan | undefined): Promise<void> {
    const core = this.#core;
    const span = core.telemetry?.probeStart(binding.info, parent);
    const started = core.clock.now();
    core.totals.probes++;
    let outcome: ProbeOutcome;
    try {
      const result = await runProbeChain(phase.connection.client, core.probeChain, {
        timeoutMs: core.options.probeTimeoutMs,
        signal: phase.control.signal,
        clock: core.clock,
      });
      outcome = { healthy: result.healthy, step: result.step, durationMs: core.clock.now() - started };
      if (binding.phase === phase) span?.end(result.healthy ? 'healthy' : 'unhealthy', result.step, result.error);
    } catch (error) {
      // Retired while probing: the waiters see the state. Anything else is an
      // application error: it reaches the caller and the session stays.
      if (binding.phase !== phase) {
        span?.end('retired', 'none');
        return;
      }
      span?.end('error', 'none', error);
      this.#backToReady(binding, phase.connection);
      throw error;
    }
    if (binding.phase !== phase) {
      span?.end('retired', 'none');
      return;
    }
    if (outcome.healthy) {
      this.#backToReady(binding, phase.connection, outcome);
      return;
    }
    core.totals.probeFailures++;
    void core.retirer.retire(binding, 'probe-failed', undefined, undefined, outcome);
  }

  #backToReady(binding: Binding<C>, connection: UpstreamConnection<C>, probe?: ProbeOutcome): void {
    const now = this.#core.clock.now();
    binding.lastUsedAt = now;
    binding.activeAt = now;
    transition(this.#core, binding, { state: 'ready', connection }, { probe });
    this.markIdleIfUnused(binding);
  }
}
