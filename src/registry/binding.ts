/**
 * The per-session object: one upstream session of a (downstream session,
 * gateway) pair, its lifecycle phase and its lease bookkeeping.
 *
 * @module
 */
import type { ClockTimer } from '../clock.js';
import type { RetireReason } from '../events.js';
import type { UpstreamConnection } from '../factory.js';
import type { Deferred } from '../internal/deferred.js';
import type { IdleLinks } from '../internal/idle-list.js';
import type { SessionCreateRequest } from '../request.js';
import type { SessionInfo, SessionState } from '../session.js';
import type { AcquireOutcome, TelemetrySpan } from '../telemetry.js';

/** The telemetry span of an acquire that left the warm path; the parent of the claim, create or probe it causes. */
export type AcquireSpan = TelemetrySpan<AcquireOutcome>;

/** A create in progress: dropped once the session is ready, so a live session keeps none of it. */
export interface CreateJob<C> {
  /** The factory's `ctx.signal`: aborted on the create deadline or a retirement while creating. */
  readonly control: AbortController;
  /** Settles when the create finished (resolve) or failed / was retired first (reject). */
  readonly ready: Deferred<void>;
  /** The create deadline; it covers the wait for a `createConcurrencyPerGateway` slot too. */
  timer: ClockTimer | undefined;
  /** The factory's own promise once it was called (to close a late arrival). */
  call: Promise<UpstreamConnection<C>> | undefined;
  /** Clock time the factory was first called; the `durationMs` of `session:created`. */
  started: number;
  /** Set when the factory reported the connection broken before it was ready. */
  broken: { readonly reason: unknown } | undefined;
}

/** Why and when a session left service; shared by its draining, closing and final phases. */
export interface Retirement {
  readonly reason: RetireReason;
  readonly at: number;
  /** Settles once the connection is closed or orphaned. */
  done: Promise<void> | undefined;
  /** Resolves the drain wait when the last lease ends. */
  drained: Deferred<void> | undefined;
}

/**
 * The lifecycle phase: the state and exactly the data that state has. A live
 * (`ready` or `probing`) session always has its connection; nothing else does.
 */
export type Phase<C> =
  | { readonly state: 'creating'; readonly job: CreateJob<C> }
  | { readonly state: 'ready'; readonly connection: UpstreamConnection<C> }
  | {
      readonly state: 'probing';
      readonly connection: UpstreamConnection<C>;
      /** The probe in progress, shared by every acquire that waits for it. */
      readonly probe: Promise<void>;
      /** Aborts the probe when the session is retired. */
      readonly control: AbortController;
    }
  | { readonly state: 'draining' | 'closing' | 'closed' | 'orphaned'; readonly retirement: Retirement }
  | { readonly state: 'failed'; readonly error: Error };

/** Phases of a session in service (handed out, or about to be). */
export type LivePhase<C> = Extract<Phase<C>, { readonly state: 'ready' | 'probing' }>;

/** True while the session serves leases (ready or probing). */
export function isLive<C>(phase: Phase<C>): phase is LivePhase<C> {
  return phase.state === 'ready' || phase.state === 'probing';
}

/** The retirement of a retired session, if it is one. */
export function retirementOf<C>(phase: Phase<C>): Retirement | undefined {
  return 'retirement' in phase ? phase.retirement : undefined;
}

/**
 * One upstream session. Its `phase` changes only through `transition()` (see
 * `lifecycle.ts`). Internal; callers see {@link SessionInfo}.
 */
export class Binding<C> implements IdleLinks<Binding<C>> {
  /**
   * The latest request served: same key and fingerprint as the first, but
   * credentials rotate in place (DESIGN invariant 16), so it is replaced when
   * they change; comparing `credentialsKey` with it is one string compare.
   */
  request: SessionCreateRequest;
  readonly info: SessionInfo;
  /** The URL without credentials or query, for snapshots. */
  readonly safeUrl: string;
  /** Written only by `transition()`. */
  phase: Phase<C>;
  /** Last use (lease end, create, probe): decides probe-after-idle. */
  lastUsedAt: number;
  /** Last sign of life (use, or `touch()`): decides idle expiry and LRU eviction. */
  activeAt: number;
  useCount = 0;
  inFlight = 0;
  /** Acquires waiting for this session's create or probe. */
  waiters = 0;
  /** Links of the registry's idle list (see `IdleList`); O(1) where a Set degrades under churn. */
  idlePrev: Binding<C> | undefined = undefined;
  idleNext: Binding<C> | undefined = undefined;
  idleListed = false;

  constructor(request: SessionCreateRequest, connectionId: number, now: number, safeUrl: string, job: CreateJob<C>) {
    this.request = request;
    this.safeUrl = safeUrl;
    this.lastUsedAt = now;
    this.activeAt = now;
    this.phase = { state: 'creating', job };
    this.info = Object.freeze({
      downstreamSessionId: request.downstreamSessionId,
      gatewayId: request.gatewayId,
      transport: request.transport,
      key: request.key,
      connectionId,
      createdAt: now,
    });
  }

  /** Shortcut for `phase.state`. */
  get state(): SessionState {
    return this.phase.state;
  }
}
