import type { RetireReason } from './events.js';
import type { UpstreamConnection } from './factory.js';
import type { IdleLinks } from './idle-list.js';
import type { SessionCreateRequest, TransportType } from './request.js';

/** Lifecycle state of one upstream binding. */
export type SessionState = 'creating' | 'ready' | 'retired';

/** Identity of the upstream session a lease is bound to. Frozen; the same object for every lease of one connection. */
export interface SessionInfo {
  readonly downstreamSessionId: string;
  readonly gatewayId: string;
  readonly transport: TransportType;
  /** `SessionCreateRequest.key` of the binding. */
  readonly key: string;
  /** Registry-unique number of the upstream connection; a rebuilt connection gets a new one. */
  readonly connectionId: number;
  /** Clock time at which the create started. */
  readonly createdAt: number;
}

/** A settle-once promise with its resolvers. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Waiters attach their own handlers; an unobserved rejection is not a bug here.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/**
 * One upstream binding: the identity of a (downstream session, gateway) pair, its
 * connection once created, and the bookkeeping the registry needs (leases,
 * idle time, retirement). Internal; callers see {@link SessionInfo}.
 */
export class Binding<C> implements IdleLinks<Binding<C>> {
  readonly request: SessionCreateRequest;
  readonly info: SessionInfo;
  /** The URL without credentials or query, for snapshots. */
  readonly safeUrl: string;
  state: SessionState = 'creating';
  connection: UpstreamConnection<C> | undefined;
  /**
   * Settles when the create finished (resolve) or failed / was retired first
   * (reject); dropped once settled, since only creating bindings are waited on.
   */
  ready: Deferred<void> | undefined = deferred<void>();
  /**
   * The factory's `ctx.signal`: aborted when the create times out or the binding
   * is retired while creating, never after the create finished, so a factory may
   * tie cleanup to it without tearing down a connection that is still draining.
   * Dropped once the create succeeded.
   */
  createControl: AbortController | undefined = new AbortController();
  /** Aborts the probe in progress when the binding is retired. */
  probeControl: AbortController | undefined;
  /** The factory's own promise while the create is in progress or failed (to close a late arrival). */
  factoryCall: Promise<UpstreamConnection<C>> | undefined;
  /** A probe in progress, shared by every acquire that waits for it. */
  probing: Promise<void> | undefined;
  /** Set when the factory reported the connection broken before it was ready. */
  brokenBeforeReady: { reason: unknown } | undefined;
  retireReason: RetireReason | undefined;
  retiredAt = 0;
  /** Settles once the connection is closed or orphaned. */
  retired: Promise<void> | undefined;
  /** Resolves the drain wait when the last lease ends after retirement. */
  drained: Deferred<void> | undefined;
  lastUsedAt: number;
  useCount = 0;
  inFlight = 0;
  /** Acquires waiting for this binding's create or probe. */
  waiters = 0;
  /** Links of the registry's idle list (see {@link IdleList}); O(1) where a Set degrades under churn. */
  idlePrev: Binding<C> | undefined = undefined;
  idleNext: Binding<C> | undefined = undefined;
  idleListed = false;

  constructor(request: SessionCreateRequest, connectionId: number, now: number, safeUrl: string) {
    this.request = request;
    this.safeUrl = safeUrl;
    this.lastUsedAt = now;
    this.info = Object.freeze({
      downstreamSessionId: request.downstreamSessionId,
      gatewayId: request.gatewayId,
      transport: request.transport,
      key: request.key,
      connectionId,
      createdAt: now,
    });
  }
}
