import type { TransportType } from './request.js';

/** Why an upstream session was retired. */
export type RetireReason =
  | 'downstream-evicted'
  | 'gateway-evicted'
  | 'config-changed'
  | 'probe-failed'
  | 'transport-error'
  | 'idle-expired'
  | 'capacity'
  | 'lost'
  | 'ownership-lost'
  | 'registry-closed'
  | 'handover';

/** Identity of one binding. Events carry this, never header values or URL credentials. */
export interface SessionIdentity {
  readonly downstreamSessionId: string;
  readonly gatewayId: string;
  readonly transport: TransportType;
  /** Registry-unique number of the upstream connection (increases with every create). */
  readonly connectionId: number;
}

/** Payload of `session:created`. */
export interface SessionCreatedEvent extends SessionIdentity {
  /** Time the factory took, in clock milliseconds. */
  readonly durationMs: number;
}

/** Payload of `session:reused`. */
export interface SessionReusedEvent extends SessionIdentity {
  /** Leases handed out on this connection so far, this one included. */
  readonly useCount: number;
}

/** Payload of `session:probed`. */
export interface SessionProbedEvent extends SessionIdentity {
  readonly healthy: boolean;
  /** The probe step that decided, e.g. `'ping'` or `'tools/list'`. */
  readonly step: string;
  readonly durationMs: number;
}

/** Payload of `session:retired`. */
export interface SessionRetiredEvent extends SessionIdentity {
  readonly reason: RetireReason;
  /** Leases still in flight; the close waits for them (bounded). */
  readonly inFlight: number;
}

/** Payload of `session:closed`. */
export interface SessionClosedEvent extends SessionIdentity {
  /** True when the graceful phase ran out and the close signal was aborted. */
  readonly forced: boolean;
  /** From retirement to closed, in clock milliseconds. */
  readonly durationMs: number;
  /** Set when the connection's `close()` rejected; the connection counts as closed anyway. */
  readonly error?: unknown;
}

/** Payload of `session:orphaned`: the registry stopped waiting for a close that never finished. */
export interface SessionOrphanedEvent extends SessionIdentity {
  readonly durationMs: number;
}

/** Payload of `session:create-failed`. */
export interface SessionCreateFailedEvent extends SessionIdentity {
  /** A `CreateFailedError`; its `cause` holds what the factory threw. */
  readonly error: Error;
  readonly durationMs: number;
}

/** Payload of `session:lost`. */
export interface SessionLostEvent extends SessionIdentity {
  /** The retirement reason that lost the upstream state. */
  readonly reason: RetireReason;
  /** The `onSessionLost` policy in force. */
  readonly policy: SessionLostPolicy;
}

/** Payload of `gateway:backoff`: creates for this gateway fail fast until `untilMs`. */
export interface GatewayBackoffEvent {
  readonly gatewayId: string;
  readonly consecutiveFailures: number;
  /** Length of this backoff window, in milliseconds. */
  readonly backoffMs: number;
}

/** What the registry does when an upstream session is lost. */
export type SessionLostPolicy = 'reconnect' | 'fail';

/**
 * Typed event map of {@link UpstreamSessionRegistry}.
 *
 * @example
 * ```ts
 * registry.on('session:retired', (e) => metrics.inc('retired', { reason: e.reason }));
 * ```
 */
export type RegistryEvents = {
  'session:created': SessionCreatedEvent;
  'session:reused': SessionReusedEvent;
  'session:probed': SessionProbedEvent;
  'session:retired': SessionRetiredEvent;
  'session:closed': SessionClosedEvent;
  'session:orphaned': SessionOrphanedEvent;
  'session:create-failed': SessionCreateFailedEvent;
  'session:lost': SessionLostEvent;
  'gateway:backoff': GatewayBackoffEvent;
};
