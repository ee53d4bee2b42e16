/**
 * Downstream sessions: affinity claims and releases, and lost marks.
 *
 * A downstream session's state lives while it has upstream sessions, an
 * acquire in progress, a claim in flight or a lost mark. Lost marks are
 * bounded in count (`maxLostSessions`) and age (`lostSessionTtlMs`).
 *
 * @module
 */
import type { ClaimResult } from '../affinity.js';
import { AffinityUnavailableError, NotOwnerError, RegistryClosedError, SessionRetiredError } from '../errors.js';
import { raceSignal } from '../internal/abort.js';
import { waitWithin } from '../internal/close.js';
import { type Deferred, deferred } from '../internal/deferred.js';
import type { ProbeableClient } from '../probe.js';
import type { ClockTimer } from '../clock.js';
import type { ClaimOutcome, TelemetrySpan } from '../telemetry.js';
import type { AcquireSpan, Binding } from './binding.js';
import type { RegistryCore } from './core.js';

/** An affinity claim in flight, shared by every acquire of its downstream session. */
interface Claim {
  readonly done: Deferred<void>;
  readonly timer: ClockTimer;
  /** Its telemetry span, ended when the claim settles. */
  readonly span: TelemetrySpan<ClaimOutcome> | undefined;
}

/** The telemetry outcome of a settled claim. */
function claimOutcome(error: unknown): ClaimOutcome {
  if (error === undefined) return 'owned';
  if (error instanceof NotOwnerError) return 'not-owner';
  if (error instanceof AffinityUnavailableError) return 'unavailable';
  return 'error';
}

export interface DownstreamState<C> {
  readonly id: string;
  /** True once the affinity said this worker owns the session; never asked again. */
  owned: boolean;
  claim: Claim | undefined;
  /** Acquires of this downstream session in progress on the slow path. */
  pending: number;
  /** Under `onSessionLost: 'fail'`: every acquire rejects until `evictSession` (or the mark expires). */
  lost: { readonly cause: unknown; readonly at: number } | undefined;
  readonly bindings: Map<string, Binding<C>>;
}

export class Ownership<C extends ProbeableClient> {
  readonly #core: RegistryCore<C>;
  readonly #states = new Map<string, DownstreamState<C>>();
  /** Downstream sessions with a lost mark, oldest mark first. */
  readonly #lost = new Map<string, DownstreamState<C>>();
  /** Affinity releases in progress, kept apart from session closes. */
  readonly releasing = new Set<Promise<void>>();

  constructor(core: RegistryCore<C>) {
    this.#core = core;
  }

  get size(): number {
    return this.#states.size;
  }

  get lostMarks(): number {
    return this.#lost.size;
  }

  get(id: string): DownstreamState<C> | undefined {
    return this.#states.get(id);
  }

  stateFor(id: string): DownstreamState<C> {
    let ds = this.#states.get(id);
    if (ds === undefined) {
      ds = { id, owned: false, claim: undefined, lost: undefined, pending: 0, bindings: new Map() };
      this.#states.set(id, ds);
    }
    return ds;
  }

  /** Drops the state (evict, ownership taken over); the caller retires its sessions. */
  detach(ds: DownstreamState<C>): void {
    if (this.#states.get(ds.id) === ds) this.#states.delete(ds.id);
    this.#unmarkLost(ds);
  }

  /** Claims the downstream session once; later acquires see `owned` and never await the affinity. */
  async ensureOwned(ds: DownstreamState<C>, signal: AbortSignal | undefined, parent?: AcquireSpan): Promise<void> {
    if (ds.owned) return;
    const claim = ds.claim ?? this.#startClaim(ds, parent);
    await raceSignal(claim.done.promise, signal);
    if (this.#core.closed) throw new RegistryClosedError();
    if (this.#states.get(ds.id) !== ds) throw new SessionRetiredError('downstream-evicted');
  }

  /**
   * The claim is the downstream state's, not its first acquirer's: it keeps the
   * state alive until it settles, so a grant that arrives after every acquirer
   * went away (aborted, timed out) is released rather than leaked.
   */
  #startClaim(ds: DownstreamState<C>, parent: AcquireSpan | undefined): Claim {
    const { clock, options, affinity, telemetry } = this.#core;
    const claim: Claim = {
      done: deferred<void>(),
      timer: clock.setTimeout(
        () => this.#settleClaim(ds, claim, new AffinityUnavailableError('The affinity did not answer the ownership claim in time')),
        options.createTimeoutMs,
      ),
      span: telemetry?.claimStart(parent),
    };
    ds.claim = claim;
    let answer: Promise<ClaimResult>;
    try {
      answer = Promise.resolve(affinity.claim(ds.id));
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then(
      (result) => {
        if (ds.claim !== claim) {
          if (result.owned) this.#releaseLateGrant(ds.id);
          return;
        }
        if (!result.owned) return this.#settleClaim(ds, claim, new NotOwnerError(ds.id, result.owner));
        ds.owned = true;
        this.#settleClaim(ds, claim, undefined);
      },
      (error: unknown) => this.#settleClaim(ds, claim, error),
    );
    return claim;
  }

  #settleClaim(ds: DownstreamState<C>, claim: Claim, error: unknown): void {
    if (ds.claim !== claim) return;
    ds.claim = undefined;
    this.#core.clock.clearTimeout(claim.timer);
    claim.span?.end(claimOutcome(error), error);
    if (error === undefined) claim.done.resolve();
    else claim.done.reject(error);
    this.forgetIfEmpty(ds);
  }

  /** A claim granted after the registry stopped waiting for it: give it back unless a newer state holds the id. */
  #releaseLateGrant(id: string): void {
    if (this.#core.closed) {
      // No timers after closeAll: a bare best-effort release.
      Promise.resolve()
        .then(() => this.#core.affinity.release(id))
        .catch(() => undefined);
      return;
    }
    if (this.#states.has(id)) return;
    this.release(id);
  }

  /** Gives ownership back (bounded by `closeTimeoutMs`); tracked for `closeAll()`. */
  release(id: string): Promise<void> {
    const { affinity, options, clock, logger } = this.#core;
    const work = (async () => {
      try {
        const released = await waitWithin(Promise.resolve().then(() => affinity.release(id)), options.closeTimeoutMs, clock);
        if (!released) logger.warn({ downstreamSessionId: id }, 'affinity release timed out');
      } catch (error) {
        logger.warn({ downstreamSessionId: id, error: this.#core.describe(error) }, 'affinity release failed');
      }
    })();
    const tracked = work.finally(() => this.releasing.delete(tracked));
    this.releasing.add(tracked);
    return tracked;
  }

  /**
   * `closeAll()`: gives every id back under one shared deadline (`end`)
   * instead of a timer and a race per release; a release still pending then
   * is logged as timed out and no longer waited for.
   */
  async releaseAll(ids: readonly string[], end: Promise<void>): Promise<void> {
    const { affinity, logger } = this.#core;
    // Like release(): the affinity is never called inside closeAll() itself.
    await Promise.resolve();
    const pending = new Set<string>();
    const allDone = deferred<void>();
    const settle = (id: string): void => {
      if (pending.delete(id) && pending.size === 0) allDone.resolve();
    };
    for (const id of ids) {
      pending.add(id);
      let answer: Promise<void>;
      try {
        answer = Promise.resolve(affinity.release(id));
      } catch (error) {
        answer = Promise.reject(error);
      }
      answer.then(
        () => settle(id),
        (error: unknown) => {
          logger.warn({ downstreamSessionId: id, error: this.#core.describe(error) }, 'affinity release failed');
          settle(id);
        },
      );
    }
    if (pending.size === 0) return;
    await Promise.race([allDone.promise, end]);
    for (const id of pending) logger.warn({ downstreamSessionId: id }, 'affinity release timed out');
  }

  /**
   * Drops a downstream session's bookkeeping once nothing needs it and gives
   * back its ownership. A session we do not own keeps no state: the next
   * acquire asks the affinity again.
   */
  forgetIfEmpty(ds: DownstreamState<C>): void {
    if (this.#core.closed) return;
    if (ds.bindings.size > 0 || ds.pending > 0 || ds.lost !== undefined || ds.claim !== undefined) return;
    const current = this.#states.get(ds.id);
    if (current === ds) this.#states.delete(ds.id);
    else if (current !== undefined) return;
    if (!ds.owned) return;
    ds.owned = false;
    void this.release(ds.id);
  }

  forgetDownstreamOf(binding: Binding<C>): void {
    const ds = this.#states.get(binding.request.downstreamSessionId);
    if (ds !== undefined) this.forgetIfEmpty(ds);
  }

  /** Under 'fail': every acquire of this downstream session rejects with `SessionLostError` until evicted. */
  markLost(id: string, cause: unknown): void {
    const ds = this.#states.get(id);
    if (ds === undefined || ds.lost !== undefined) return;
    ds.lost = { cause, at: this.#core.clock.now() };
    this.#lost.set(id, ds);
    const max = this.#core.options.maxLostSessions;
    for (const oldest of this.#lost.values()) {
      if (this.#lost.size <= max) break;
      this.#expire(oldest);
    }
    this.#core.limits.startSweeper();
  }

  #unmarkLost(ds: DownstreamState<C>): void {
    if (ds.lost === undefined) return;
    ds.lost = undefined;
    if (this.#lost.get(ds.id) === ds) this.#lost.delete(ds.id);
  }

  /** Drops lost marks older than `lostSessionTtlMs`. O(expired). */
  expireLostMarks(now: number): void {
    const cutoff = now - this.#core.options.lostSessionTtlMs;
    for (const ds of this.#lost.values()) {
      if ((ds.lost?.at ?? 0) > cutoff) break;
      this.#expire(ds);
    }
  }

  /**
   * A mark that outlived its bound takes its downstream session with it: its
   * other upstream sessions are retired and its ownership released, so a
   * client that comes back starts afresh instead of finding half its state.
   */
  #expire(ds: DownstreamState<C>): void {
    const lost = ds.lost;
    this.detach(ds);
    // Acquires already in progress hold this state: they still learn the session was lost.
    ds.lost = lost;
    for (const b of ds.bindings.values()) void this.#core.retirer.retire(b, 'downstream-evicted');
    if (ds.owned) {
      ds.owned = false;
      void this.release(ds.id);
    }
  }

  /** The registry is closing: claims in flight reject with `RegistryClosedError` now, and leave no timer. */
  cancelClaims(): void {
    for (const ds of this.#states.values()) {
      if (ds.claim !== undefined) this.#settleClaim(ds, ds.claim, new RegistryClosedError());
    }
  }

  /** Ids this worker owns, for `closeAll()`. */
  owned(): string[] {
    return [...this.#states.values()].filter((ds) => ds.owned).map((ds) => ds.id);
  }

  clear(): void {
    this.#states.clear();
    this.#lost.clear();
  }
}
