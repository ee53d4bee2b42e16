/**
 * Error classes. Every error the library throws on purpose extends
 * {@link RegistryError} and carries a stable `code` that callers can switch on;
 * messages are for humans and may change.
 *
 * @module
 */

import type { WorkerInfo } from './affinity.js';
import type { RetireReason } from './events.js';

/**
 * The brand every {@link RegistryError} carries. `Symbol.for`, so that the ESM
 * and the CommonJS copy of this library (or two installed copies) recognise
 * each other's errors: `instanceof` checks the brand and the code, not the
 * prototype chain.
 */
const BRAND: unique symbol = Symbol.for('mcp-upstream-registry.RegistryError');

/** The code each library error class stands for; filled below the classes. */
const CODE_OF_CLASS = new Map<unknown, RegistryErrorCode>();

function isBranded(value: unknown): value is RegistryError {
  return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
}

/** Stable codes of every {@link RegistryError}. */
export type RegistryErrorCode =
  | 'ERR_INVALID_REQUEST'
  | 'ERR_INVALID_OPTIONS'
  | 'ERR_REGISTRY_CLOSED'
  | 'ERR_CAPACITY'
  | 'ERR_CREATE_FAILED'
  | 'ERR_NOT_OWNER'
  | 'ERR_SESSION_LOST'
  | 'ERR_SESSION_RETIRED'
  | 'ERR_AFFINITY_UNAVAILABLE';

/**
 * Base class of every error the library throws on purpose.
 *
 * @example
 * ```ts
 * try {
 *   await registry.acquire(request);
 * } catch (error) {
 *   if (error instanceof RegistryError && error.code === 'ERR_CAPACITY') respond503();
 * }
 * ```
 */
export class RegistryError extends Error {
  /** Stable, machine-readable code. */
  readonly code: RegistryErrorCode;

  constructor(code: RegistryErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /**
   * `error instanceof RegistryError` (or a subclass) holds for errors of any
   * copy of this library, ESM or CommonJS: it checks the `Symbol.for` brand and
   * the class's `code`. Classes you derive yourself keep the usual prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class on the right of `instanceof`.
    // biome-ignore lint/complexity/noUselessThisAlias: one name for it, typed unknown for the Map lookup.
    const target: unknown = this;
    if (target === RegistryError) return isBranded(value);
    const code = CODE_OF_CLASS.get(target);
    if (code === undefined) return Function.prototype[Symbol.hasInstance].call(target, value);
    return isBranded(value) && value.code === code;
  }
}

/** A {@link SessionCreateRequestInit} field is missing or malformed. Nothing was changed. */
export class InvalidRequestError extends RegistryError {
  /** Name of the offending field, e.g. `"downstreamSessionId"` or `"headers.x-api-key"`. */
  readonly field: string;

  constructor(field: string, message: string) {
    super('ERR_INVALID_REQUEST', `Invalid request: ${field}: ${message}`);
    this.field = field;
  }
}

/** A constructor or factory option is unknown or malformed. Nothing was created. */
export class InvalidOptionsError extends RegistryError {
  /** Name of the offending option, e.g. `"maxSessions"`. */
  readonly option: string;

  constructor(option: string, message: string) {
    super('ERR_INVALID_OPTIONS', `Invalid option: ${option}: ${message}`);
    this.option = option;
  }
}

/** The registry was closed with `closeAll()`; it accepts no more work. */
export class RegistryClosedError extends RegistryError {
  constructor(message = 'The registry is closed') {
    super('ERR_REGISTRY_CLOSED', message);
  }
}

/** Which cap was hit by a {@link CapacityError}. */
export type CapacityScope = 'registry' | 'gateway';

/** A session cap was reached and no idle session could be evicted to make room. */
export class CapacityError extends RegistryError {
  /** Which cap was reached. */
  readonly scope: CapacityScope;
  /** The cap's value. */
  readonly limit: number;
  /** The gateway whose cap was reached; `undefined` when `scope` is `'registry'`. */
  readonly gatewayId: string | undefined;

  constructor(scope: CapacityScope, limit: number, gatewayId?: string) {
    const where = scope === 'gateway' ? `gateway ${JSON.stringify(gatewayId)}` : 'the registry';
    super('ERR_CAPACITY', `Session capacity of ${where} reached (${limit} sessions)`);
    this.scope = scope;
    this.limit = limit;
    this.gatewayId = scope === 'gateway' ? gatewayId : undefined;
  }
}

/** The session factory failed, timed out, or the gateway is in its create backoff window. `cause` holds the underlying error. */
export class CreateFailedError extends RegistryError {
  /** Gateway whose upstream session could not be created. */
  readonly gatewayId: string;
  /**
   * Set when the create was refused because the gateway backs off: how long
   * (ms) until a create may be tried again. The bridge answers HTTP 503 with
   * `Retry-After` from it. `undefined` for a create that was tried and failed.
   */
  readonly retryAfterMs: number | undefined;

  constructor(gatewayId: string, message: string, cause: unknown, retryAfterMs?: number) {
    super('ERR_CREATE_FAILED', message, { cause });
    this.gatewayId = gatewayId;
    this.retryAfterMs = retryAfterMs;
  }
}

/** Another live worker owns this downstream session; forward the request to `owner`. */
export class NotOwnerError extends RegistryError {
  /** The worker that owns the downstream session. */
  readonly owner: WorkerInfo;
  /** The downstream session in question. */
  readonly downstreamSessionId: string;

  constructor(downstreamSessionId: string, owner: WorkerInfo) {
    super('ERR_NOT_OWNER', `Downstream session is owned by worker ${JSON.stringify(owner.workerId)}`);
    this.owner = owner;
    this.downstreamSessionId = downstreamSessionId;
  }
}

/**
 * The upstream session of this downstream session was lost and the registry runs
 * with `onSessionLost: 'fail'`. Answer the downstream client with HTTP 404 so it
 * re-initializes, then call `evictSession(downstreamSessionId)`.
 */
export class SessionLostError extends RegistryError {
  /** The downstream session whose upstream state is gone. */
  readonly downstreamSessionId: string;

  constructor(downstreamSessionId: string, cause?: unknown) {
    super('ERR_SESSION_LOST', 'The upstream session of this downstream session was lost; the client must re-initialize', {
      cause,
    });
    this.downstreamSessionId = downstreamSessionId;
  }
}

/**
 * The upstream session this caller was waiting for (being created or probed) was
 * retired before it could be handed out, e.g. by `evictSession` or a configuration change.
 */
export class SessionRetiredError extends RegistryError {
  /** Why the session was retired. */
  readonly reason: RetireReason;

  constructor(reason: RetireReason) {
    super('ERR_SESSION_RETIRED', `The upstream session was retired before it was handed out (${reason})`);
    this.reason = reason;
  }
}

/** The {@link Affinity} backend (e.g. Redis) did not answer in time or failed; the registry fails closed. */
export class AffinityUnavailableError extends RegistryError {
  constructor(message: string, cause?: unknown) {
    super('ERR_AFFINITY_UNAVAILABLE', message, { cause });
  }
}

for (const [errorClass, code] of [
  [InvalidRequestError, 'ERR_INVALID_REQUEST'],
  [InvalidOptionsError, 'ERR_INVALID_OPTIONS'],
  [RegistryClosedError, 'ERR_REGISTRY_CLOSED'],
  [CapacityError, 'ERR_CAPACITY'],
  [CreateFailedError, 'ERR_CREATE_FAILED'],
  [NotOwnerError, 'ERR_NOT_OWNER'],
  [SessionLostError, 'ERR_SESSION_LOST'],
  [SessionRetiredError, 'ERR_SESSION_RETIRED'],
  [AffinityUnavailableError, 'ERR_AFFINITY_UNAVAILABLE'],
] as const) {
  CODE_OF_CLASS.set(errorClass, code);
}
