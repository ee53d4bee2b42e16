import type { TransportType } from './request.js';

/**
 * Lifecycle state of one upstream session (see `docs/lifecycle.md`).
 *
 * - `creating`: the factory is running (or queued behind `createConcurrencyPerGateway`).
 * - `ready`: live, with a connection; leases are handed out.
 * - `probing`: live, being health-probed after idle; acquires wait for the probe.
 * - `draining`: retired, waiting (bounded) for its leases in flight to end.
 * - `closing`: retired, its connection is being closed (bounded).
 * - `closed`: closed; terminal.
 * - `failed`: the create failed; terminal, never cached.
 * - `orphaned`: the close did not finish in time and the registry stopped waiting; terminal.
 */
export type SessionState = 'creating' | 'ready' | 'probing' | 'draining' | 'closing' | 'closed' | 'failed' | 'orphaned';

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
