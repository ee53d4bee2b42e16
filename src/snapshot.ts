import type { RetireReason } from './events.js';
import type { TransportType } from './request.js';
import type { SessionState } from './session.js';

/** One upstream session in a {@link RegistrySnapshot}. No header values, no credentials, no query strings. */
export interface SessionSnapshot {
  readonly downstreamSessionId: string;
  readonly gatewayId: string;
  readonly transport: TransportType;
  /** Origin and path only. */
  readonly url: string;
  readonly connectionId: number;
  readonly state: SessionState;
  /** Since the create started. */
  readonly ageMs: number;
  /** Since the last lease ended; 0 while a lease is in flight. */
  readonly idleMs: number;
  /** Leases handed out. */
  readonly useCount: number;
  /** Leases not yet released. */
  readonly inFlight: number;
}

/** Per-gateway counts in a {@link RegistrySnapshot}. */
export interface GatewaySnapshot {
  readonly live: number;
  readonly creating: number;
  /** Creates waiting for a slot of `createConcurrencyPerGateway`. */
  readonly queuedCreates: number;
  readonly consecutiveFailures: number;
  /** Time left in the create backoff window; 0 when creates are allowed. */
  readonly backoffRemainingMs: number;
}

/** Counters since the registry was constructed. */
export interface RegistryTotals {
  readonly created: number;
  readonly reused: number;
  readonly probes: number;
  readonly probeFailures: number;
  readonly createFailures: number;
  readonly closed: number;
  readonly orphaned: number;
  readonly retired: Readonly<Record<RetireReason, number>>;
}

/** Frozen plain data returned by `registry.snapshot()`. Safe to serve on an admin endpoint. */
export interface RegistrySnapshot {
  readonly closed: boolean;
  readonly uptimeMs: number;
  /** Live upstream sessions, ready or probing (same as `registry.size`). */
  readonly live: number;
  /** Upstream sessions being created. */
  readonly creating: number;
  /** Retired upstream sessions still draining or closing (nothing else). */
  readonly retiring: number;
  /** Downstream sessions the registry keeps state for. */
  readonly downstreamSessions: number;
  readonly gateways: Readonly<Record<string, GatewaySnapshot>>;
  readonly totals: RegistryTotals;
  /** Upstream sessions in service: creating, ready or probing (retiring ones are counted in `retiring`). */
  readonly sessions: readonly SessionSnapshot[];
}

/** Options of `registry.snapshot()`. */
export interface SnapshotOptions {
  /**
   * `false`: counts only. `sessions` is empty and no session is walked, so the
   * cost is O(gateways) however many sessions there are (for metrics and health
   * endpoints). Default `true`. Page through sessions with `registry.sessions()`.
   */
  readonly sessions?: boolean;
}

/** Options of `registry.sessions()`: one page of the sessions in service. */
export interface SessionPageOptions {
  /** Where to go on: the `nextCursor` of the previous page. Default: the first page. */
  readonly cursor?: string;
  /** Sessions per page, 1 to 1 000. Default 100. */
  readonly limit?: number;
}

/** One page of sessions in service (creating, ready or probing), oldest connection first. Frozen plain data. */
export interface SessionPage {
  readonly sessions: readonly SessionSnapshot[];
  /** Pass as `cursor` for the next page; absent on the last page. Opaque. */
  readonly nextCursor?: string;
}
