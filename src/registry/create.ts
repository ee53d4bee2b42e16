/**
 * Creating sessions: the factory call under one deadline (which covers the
 * wait for a `createConcurrencyPerGateway` slot), the one retry after a lost
 * re-attach, and the end of a create in `ready` or `failed`.
 *
 * @module
 */
import { isSessionGone } from '../classify.js';
import { CreateFailedError, SessionLostError, SessionRetiredError } from '../errors.js';
import type { FactoryContext, UpstreamConnection } from '../factory.js';
import { raceSignal } from '../internal/abort.js';
import { deferred } from '../internal/deferred.js';
import type { ProbeableClient } from '../probe.js';
import { redactUrl } from '../redact.js';
import type { SessionCreateRequest } from '../request.js';
import { type AcquireSpan, Binding, type CreateJob, retirementOf } from './binding.js';
import type { RegistryCore } from './core.js';
import type { GatewayState } from './gateways.js';
import { transition } from './lifecycle.js';
import type { DownstreamState } from './ownership.js';

/** `ctx.signal` once a create succeeded: never aborts. Made on first use (no AbortController at module scope). */
let settledSignal: AbortSignal | undefined;

/**
 * The factory's `ctx`. Factories keep it (to call `onBroken` later), so its
 * `signal` is a getter and the create's AbortController is dropped once the
 * create succeeded: a kept `ctx` keeps no AbortSignal (~760 B) alive. A class,
 * because an object literal with a getter stays in dictionary mode.
 */
class CreateContext<C> implements FactoryContext {
  #job: CreateJob<C> | undefined;
  readonly onBroken: (reason: unknown) => void;

  constructor(job: CreateJob<C>, onBroken: (reason: unknown) => void) {
    this.#job = job;
    this.onBroken = onBroken;
  }

  get signal(): AbortSignal {
    if (this.#job !== undefined) return this.#job.control.signal;
    settledSignal ??= new AbortController().signal;
    return settledSignal;
  }

  /** The create succeeded: let go of its AbortController. */
  settle(): void {
    this.#job = undefined;
  }
}

export class Creator<C extends ProbeableClient> {
  readonly #core: RegistryCore<C>;
  readonly #safeUrls = new Map<string, string>();

  constructor(core: RegistryCore<C>) {
    this.#core = core;
  }

  /** A new session for `request`, creating; throws `CapacityError` (changing nothing) when there is no room. */
  create(request: SessionCreateRequest, ds: DownstreamState<C>, parent?: AcquireSpan): Binding<C> {
    const core = this.#core;
    core.limits.makeRoom(request.gatewayId);
    const gw = core.gateways.stateFor(request.gatewayId);
    const now = core.clock.now();
    const job: CreateJob<C> = {
      control: new AbortController(),
      ready: deferred<void>(),
      timer: undefined,
      call: undefined,
      started: now,
      broken: undefined,
    };
    const binding = new Binding<C>(request, core.nextConnectionId++, now, this.#safeUrl(request.url), job);
    core.counts.creating++;
    core.bindings.set(request.key, binding);
    ds.bindings.set(request.gatewayId, binding);
    gw.bindings.add(binding);
    core.limits.startSweeper();
    const deadlineMs = request.connectTimeoutMs ?? core.options.createTimeoutMs;
    job.timer = core.clock.setTimeout(() => this.#deadline(binding, job, gw, deadlineMs), deadlineMs);
    gw.limit(() => this.#run(binding, job, gw, parent)).then(
      () => job.ready.resolve(),
      (error: unknown) => job.ready.reject(error),
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

  /** The create deadline passed: a running factory sees its signal abort; a queued create fails now. */
  #deadline(binding: Binding<C>, job: CreateJob<C>, gw: GatewayState<C>, deadlineMs: number): void {
    job.timer = undefined;
    job.control.abort(new DOMException(`Create timed out after ${deadlineMs} ms`, 'TimeoutError'));
    if (job.call !== undefined || binding.phase.state !== 'creating') return;
    this.#fail(binding, job, this.#createError(binding, gw, job, job.control.signal.reason));
  }

  async #run(binding: Binding<C>, job: CreateJob<C>, gw: GatewayState<C>, parent: AcquireSpan | undefined): Promise<void> {
    if (binding.phase.state !== 'creating') return;
    const span = this.#core.telemetry?.createStart(binding.info, parent);
    const started = this.#core.clock.now();
    job.started = started;
    const refusal = this.#core.gateways.admit(gw, binding, started);
    if (refusal !== undefined) {
      // Logged once when the window opened (gateway:backoff), not per caller.
      span?.end('backoff', refusal);
      this.#fail(binding, job, refusal, true);
      throw refusal;
    }
    const ctx = this.#contextFor(binding, job);
    let connection: UpstreamConnection<C>;
    try {
      connection = await this.#call(binding, job, ctx, true);
    } catch (cause) {
      if (binding.phase.state !== 'creating') {
        span?.end('retired');
        throw cause;
      }
      span?.end(job.control.signal.aborted ? 'timeout' : 'error', cause);
      const error = this.#createError(binding, gw, job, cause);
      this.#fail(binding, job, error);
      throw error;
    } finally {
      this.#core.gateways.endTrial(gw, binding);
    }
    // Retired while the factory answered: the retirement closes what it made.
    if (binding.phase.state !== 'creating') {
      span?.end('retired');
      throw new SessionRetiredError(retirementOf(binding.phase)?.reason ?? 'lost');
    }
    span?.end('ok');
    this.#succeed(binding, job, gw, connection, ctx);
  }

  /**
   * Built in its own scope: V8 gives the closures of one function a shared
   * context, so `onBroken` must not share one with anything that holds the job.
   */
  #contextFor(binding: Binding<C>, job: CreateJob<C>): CreateContext<C> {
    return new CreateContext(job, (reason) => this.#core.retirer.onBroken(binding, reason));
  }

  /** Calls the factory; when the upstream lost a session we tried to re-attach to, 'reconnect' tries once more. */
  async #call(binding: Binding<C>, job: CreateJob<C>, ctx: FactoryContext, mayRetry: boolean): Promise<UpstreamConnection<C>> {
    try {
      const call = Promise.resolve().then(() => this.#core.factory(binding.request, ctx));
      job.call = call;
      // A factory that ignores its signal must not hold the waiters: race it, and
      // close whatever it returns late.
      return await raceSignal(call, job.control.signal);
    } catch (cause) {
      if (!mayRetry || !isSessionGone(cause) || binding.phase.state !== 'creating') throw cause;
      this.#core.retirer.emitLost(binding, 'lost');
      if (this.#core.options.onSessionLost === 'fail') {
        const safe = this.#core.redact(cause, binding.request);
        this.#core.ownership.markLost(binding.request.downstreamSessionId, safe);
        throw new SessionLostError(binding.request.downstreamSessionId, safe);
      }
      // A session:lost listener may have evicted it meanwhile.
      if (binding.phase.state !== 'creating') throw cause;
      return this.#call(binding, job, ctx, false);
    }
  }

  /** The create's error; its cause is a redacted copy (it reaches events, logs and callers). */
  #createError(binding: Binding<C>, gw: GatewayState<C>, job: CreateJob<C>, cause: unknown): Error {
    if (cause instanceof SessionLostError) return cause;
    const safe = this.#core.redact(cause, binding.request);
    this.#core.gateways.failed(gw, safe);
    const what = job.control.signal.aborted ? 'timed out' : 'failed';
    return new CreateFailedError(
      gw.id,
      `Creating the upstream session for gateway ${JSON.stringify(gw.id)} ${what}: ${this.#core.describe(safe)}`,
      safe,
    );
  }

  #succeed(binding: Binding<C>, job: CreateJob<C>, gw: GatewayState<C>, connection: UpstreamConnection<C>, ctx: CreateContext<C>): void {
    const core = this.#core;
    this.#clearDeadline(job);
    core.gateways.succeeded(gw);
    ctx.settle();
    const now = core.clock.now();
    binding.lastUsedAt = now;
    binding.activeAt = now;
    transition(core, binding, { state: 'ready', connection });
    core.leases.markIdleIfUnused(binding);
    if (job.broken !== undefined) core.retirer.onBroken(binding, job.broken.reason);
  }

  #fail(binding: Binding<C>, job: CreateJob<C>, error: Error, quiet = false): void {
    const core = this.#core;
    this.#clearDeadline(job);
    core.unindex(binding);
    transition(core, binding, { state: 'failed', error }, { quiet });
    job.ready.reject(error);
    // A factory that ignored its deadline may still deliver: close it on arrival.
    if (job.call !== undefined) core.retirer.closeAfterFailedCreate(binding, job.call);
    core.ownership.forgetDownstreamOf(binding);
  }

  #clearDeadline(job: CreateJob<C>): void {
    if (job.timer === undefined) return;
    this.#core.clock.clearTimeout(job.timer);
    job.timer = undefined;
  }

  /** Retired while creating: stop the deadline and tell the factory. */
  abandon(job: CreateJob<C>, reason: unknown): void {
    this.#clearDeadline(job);
    job.control.abort(reason);
  }
}
