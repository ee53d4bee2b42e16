/**
 * Taking sessions out of service: retire (at once), drain (bounded), close
 * (bounded), orphan; a create that finishes late is closed on arrival; and
 * `closeAll()`.
 *
 * @module
 */
import type { RetireReason } from '../events.js';
import { SessionRetiredError } from '../errors.js';
import type { UpstreamConnection } from '../factory.js';
import { type CloseOutcome, type CloseSchedule, closeWithin, sharedPhaseEnds, waitWithin } from '../internal/close.js';
import { type Deferred, deferred } from '../internal/deferred.js';
import { yieldToEventLoop } from '../internal/yield.js';
import type { ProbeableClient } from '../probe.js';
import type { ConnectionCloseOutcome, TelemetrySpan } from '../telemetry.js';
import type { Binding, CreateJob, Retirement } from './binding.js';
import type { RegistryCore } from './core.js';
import { type ProbeOutcome, identity, transition } from './lifecycle.js';

/**
 * Retirements that lose upstream state the downstream session would notice:
 * they emit `session:lost` and, under `onSessionLost: 'fail'`, mark the
 * downstream session lost (DESIGN invariant 15).
 */
const LOSES_STATE: ReadonlySet<RetireReason> = new Set([
  'lost',
  'transport-error',
  'probe-failed',
  'idle-expired',
  'capacity',
]);

const DONE: Promise<void> = Promise.resolve();
/** `closeAll()` lets the closes started so far progress after retiring this many sessions. */
const YIELD_EVERY = 1_000;

/** The telemetry outcome of one connection close. */
function closeOutcome(result: CloseOutcome): ConnectionCloseOutcome {
  if (result.outcome === 'orphaned') return 'orphaned';
  if (result.error !== undefined) return 'error';
  return result.forced ? 'forced' : 'closed';
}

export class Retirer<C extends ProbeableClient> {
  readonly #core: RegistryCore<C>;
  /** Closes of connections that arrived after their create failed: not sessions, tracked for `closeAll()` only. */
  readonly #lateCloses = new Set<Promise<void>>();
  /** Set by `closeAll()` once every session is retired: resolves when none is retiring any more. */
  #noneRetiring: Deferred<void> | undefined;

  constructor(core: RegistryCore<C>) {
    this.#core = core;
  }

  /** The factory reported the connection broken. */
  onBroken(binding: Binding<C>, reason: unknown): void {
    const phase = binding.phase;
    if (phase.state === 'creating') {
      phase.job.broken ??= { reason };
      return;
    }
    if (phase.state !== 'ready' && phase.state !== 'probing') return;
    this.#core.logger.debug({ ...identity(binding), reason: this.#core.describe(reason, binding.request) }, 'upstream connection reported broken');
    void this.retire(binding, 'lost', reason);
  }

  /**
   * Takes the session out of service at once and closes it once its leases end
   * (or `closeTimeoutMs` passes). Idempotent. Resolves when it is closed or orphaned.
   */
  retire(binding: Binding<C>, reason: RetireReason, cause?: unknown, schedule?: CloseSchedule, probe?: ProbeOutcome): Promise<void> {
    const phase = binding.phase;
    switch (phase.state) {
      case 'draining':
      case 'closing':
      case 'closed':
      case 'orphaned':
        return phase.retirement.done ?? DONE;
      case 'failed':
        return DONE;
    }
    const core = this.#core;
    const plan = schedule ?? core.perPhase;
    const retirement: Retirement = { reason, at: core.clock.now(), done: undefined, drained: undefined };
    core.unindex(binding);
    core.retiring.add(binding);
    if (phase.state === 'creating') {
      transition(core, binding, { state: 'closing', retirement });
      const error = new SessionRetiredError(reason);
      core.creator.abandon(phase.job, error);
      phase.job.ready.reject(core.leases.waiterError(binding) ?? error);
      retirement.done = this.#closeAfterCreate(binding, phase.job, retirement, plan);
    } else {
      if (phase.state === 'probing') phase.control.abort(new SessionRetiredError(reason));
      transition(core, binding, { state: binding.inFlight > 0 ? 'draining' : 'closing', retirement }, { probe });
      retirement.done = this.#drainAndClose(binding, phase.connection, retirement, plan);
    }
    if (LOSES_STATE.has(reason)) this.#sessionLost(binding, reason, cause);
    core.ownership.forgetDownstreamOf(binding);
    return retirement.done;
  }

  /** A retired session's close is over (closed or orphaned): it is no longer tracked. */
  #untrack(binding: Binding<C>): void {
    const { retiring } = this.#core;
    retiring.delete(binding);
    if (retiring.size === 0) this.#noneRetiring?.resolve();
  }

  #sessionLost(binding: Binding<C>, reason: RetireReason, cause: unknown): void {
    this.emitLost(binding, reason);
    if (this.#core.options.onSessionLost === 'fail') {
      this.#core.ownership.markLost(binding.request.downstreamSessionId, this.#core.redact(cause, binding.request));
    }
  }

  emitLost(binding: Binding<C>, reason: RetireReason): void {
    this.#core.events.emit('session:lost', { ...identity(binding), reason, policy: this.#core.options.onSessionLost });
    this.#core.telemetry?.lost(binding.info, reason, this.#core.options.onSessionLost);
  }

  /** A lease ended: a draining session whose last lease ended goes on to close. */
  drained(binding: Binding<C>): void {
    const phase = binding.phase;
    if (phase.state === 'draining') phase.retirement.drained?.resolve();
  }

  async #drainAndClose(binding: Binding<C>, connection: UpstreamConnection<C>, retirement: Retirement, schedule: CloseSchedule): Promise<void> {
    try {
      if (binding.phase.state === 'draining') {
        retirement.drained ??= deferred<void>();
        if (binding.inFlight > 0) await waitWithin(retirement.drained.promise, schedule.drain, this.#core.clock);
        transition(this.#core, binding, { state: 'closing', retirement });
      }
      const span = this.#core.telemetry?.closeStart(binding.info);
      this.#closed(binding, retirement, await this.#close(connection, retirement, schedule), span);
    } finally {
      this.#untrack(binding);
    }
  }

  /** Retired while creating: wait (bounded) for the factory, then close what it made. */
  async #closeAfterCreate(binding: Binding<C>, job: CreateJob<C>, retirement: Retirement, schedule: CloseSchedule): Promise<void> {
    try {
      await this.#closeCreated(binding, job, retirement, schedule);
    } finally {
      this.#untrack(binding);
    }
  }

  async #closeCreated(binding: Binding<C>, job: CreateJob<C>, retirement: Retirement, schedule: CloseSchedule): Promise<void> {
    const call = job.call;
    if (call === undefined) {
      // Still queued: the factory never ran, there is nothing to close.
      transition(this.#core, binding, { state: 'closed', retirement });
      return;
    }
    const settled = await waitWithin(call, schedule.drain, this.#core.clock);
    if (!settled) {
      transition(this.#core, binding, { state: 'orphaned', retirement });
      this.closeOnArrival(call, identity(binding));
      return;
    }
    const connection = await call.catch(() => undefined);
    if (connection === undefined) {
      transition(this.#core, binding, { state: 'closed', retirement });
      return;
    }
    const span = this.#core.telemetry?.closeStart(binding.info);
    this.#closed(binding, retirement, await this.#close(connection, retirement, schedule), span);
  }

  /** Closes the connection within the schedule: in its shared lane under `closeAll()`, else with its own timers. */
  #close(connection: UpstreamConnection<C>, retirement: Retirement, schedule: CloseSchedule): Promise<CloseOutcome> {
    // The upstream session lives on for another worker: close the local client only, keep its record.
    const detach = retirement.reason === 'ownership-lost' || retirement.reason === 'handover';
    const { lane } = schedule;
    if (lane !== undefined) return lane.close(connection, detach);
    return closeWithin((ctx) => connection.close(ctx), schedule, this.#core.clock, detach);
  }

  #closed(binding: Binding<C>, retirement: Retirement, result: CloseOutcome, span: TelemetrySpan<ConnectionCloseOutcome> | undefined): void {
    span?.end(closeOutcome(result), result.error);
    if (result.outcome === 'orphaned') transition(this.#core, binding, { state: 'orphaned', retirement });
    else transition(this.#core, binding, { state: 'closed', retirement }, { close: result });
  }

  /** A failed create whose factory may still deliver: wait (bounded), then close on arrival. */
  closeAfterFailedCreate(binding: Binding<C>, call: Promise<UpstreamConnection<C>>): void {
    const { clock, perPhase } = this.#core;
    const work = (async () => {
      if (!(await waitWithin(call, perPhase.drain, clock))) return this.closeOnArrival(call, identity(binding));
      const connection = await call.catch(() => undefined);
      if (connection !== undefined) await closeWithin((ctx) => connection.close(ctx), perPhase, clock);
    })();
    const tracked = work.finally(() => this.#lateCloses.delete(tracked));
    this.#lateCloses.add(tracked);
  }

  /**
   * A create that finishes after the registry stopped waiting (a session's or
   * a spare's) is closed on arrival; `fields` name it in the debug log line.
   */
  closeOnArrival(call: Promise<UpstreamConnection<C>>, fields: object): void {
    const { clock, perPhase, logger } = this.#core;
    call
      .then(
        (connection) => closeWithin((ctx) => connection.close(ctx), perPhase, clock),
        () => undefined,
      )
      .then(
        () => logger.debug(fields, 'late upstream connection closed on arrival'),
        () => undefined,
      );
  }

  /**
   * `closeAll()`: retires everything in parallel under one set of phase ends, so
   * however long retiring 100k sessions takes, none closes later than
   * 3 x `closeTimeoutMs` after it began. Ownership goes back meanwhile.
   */
  async shutdown(): Promise<void> {
    const core = this.#core;
    core.limits.stopSweeper();
    core.ownership.cancelClaims();
    const owned = core.ownership.owned();
    const shared = sharedPhaseEnds(core.options.closeTimeoutMs, core.clock);
    // Release (<= closeTimeoutMs) then affinity close (<= closeTimeoutMs) fit in the 3 x closeTimeoutMs of a retire.
    const releasing = core.ownership.releaseAll(owned, shared.ends[0]).then(() => this.#closeAffinity());
    const spares = core.spares.closeAll(shared.idle);
    // Straight off the map (retire() deletes the visited entry; nothing adds one
    // once closed), so a closed session is garbage at once, not kept by a copy.
    let retired = 0;
    for (const b of core.bindings.values()) {
      void this.retire(b, 'registry-closed', undefined, b.inFlight > 0 || b.phase.state === 'creating' ? shared.busy : shared.idle);
      // Let the closes started so far finish: at 100k sessions, keeping every
      // close in flight at once costs more in GC than the closes themselves.
      // The phase ends are shared, so the bound holds however long this takes.
      if (++retired % YIELD_EVERY === 0) await yieldToEventLoop();
    }
    // Every retirement, these and earlier ones, leaves `retiring` when its bounded close is over.
    if (core.retiring.size > 0) {
      this.#noneRetiring = deferred<void>();
      await this.#noneRetiring.promise;
    }
    await Promise.all([releasing, spares, ...this.#lateCloses, ...core.ownership.releasing]);
    shared.cancel();
    core.ownership.clear();
    core.gateways.clear();
  }

  /**
   * `closeAll({ handover: true })`: every session drains (its leases end, at most
   * `closeTimeoutMs`), then is detached, not ended: its local client closes, the
   * upstream session and its stored record stay. Then the affinity closes, which
   * gives ownership up at once (a `RedisAffinity` keeps the records), so the next
   * request of each downstream session is claimed by another worker and
   * re-attaches. No per-session `release` (it would delete the records).
   */
  async handover(): Promise<void> {
    const core = this.#core;
    core.limits.stopSweeper();
    core.ownership.cancelClaims();
    const shared = sharedPhaseEnds(core.options.closeTimeoutMs, core.clock);
    const [first, second, third] = shared.ends;
    const schedule: CloseSchedule = { drain: first, graceful: second, forced: third };
    // A spare belongs to no downstream session and has no record: it is ended, not handed over.
    const spares = core.spares.closeAll(shared.idle);
    const detaching = [...core.bindings.values()].map((b) => this.retire(b, 'handover', undefined, schedule));
    const already = [...core.retiring].map((b) => ('retirement' in b.phase ? b.phase.retirement.done : undefined) ?? DONE);
    await Promise.all([spares, ...detaching, ...already, ...this.#lateCloses, ...core.ownership.releasing]);
    shared.cancel();
    // Only once no call runs here any more: the next owner then never shares a live session with this one.
    await this.#closeAffinity();
    core.ownership.clear();
    core.gateways.clear();
  }

  async #closeAffinity(): Promise<void> {
    const { affinity, options, clock, logger } = this.#core;
    this.#core.unsubscribeOwnership?.();
    try {
      const closed = await waitWithin(Promise.resolve().then(() => affinity.close()), options.closeTimeoutMs, clock);
      if (!closed) logger.warn({}, 'affinity close timed out');
    } catch (error) {
      logger.warn({ error: this.#core.describe(error) }, 'affinity close failed');
    }
  }
}
