/**
 * The per-call options of the registry's methods, and their checks: a bad
 * value is an `InvalidRequestError` that shows it, and changes nothing.
 *
 * @module
 */

import { InvalidRequestError } from '../errors.js';
import { showValue } from '../show-value.js';

/** Per-call options of {@link UpstreamSessionRegistry.acquire} and {@link UpstreamSessionRegistry.use}. */
export interface AcquireOptions {
  /** Aborting rejects this caller only, with `signal.reason`; a shared create goes on for the others. */
  signal?: AbortSignal;
}

/** Options of {@link UpstreamSessionRegistry.closeAll}. */
export interface CloseAllOptions {
  /**
   * Hand the upstream sessions over to other workers instead of ending them
   * (a rolling restart): stop taking work, let calls in flight finish (at most
   * `closeTimeoutMs`), close each local client without ending its upstream
   * session (no HTTP DELETE, stored records kept), then close the affinity,
   * which gives ownership up at once. Default false: end every upstream session.
   */
  handover?: boolean;
}

export function validateCloseAllOptions(opts: unknown): boolean {
  if (opts === undefined) return false;
  if (typeof opts !== 'object' || opts === null) {
    throw new InvalidRequestError('options', `expected an object, got ${showValue(opts)}`);
  }
  for (const key of Object.keys(opts)) {
    if (key !== 'handover') throw new InvalidRequestError(`options.${key.slice(0, 64)}`, 'unknown option');
  }
  const handover = (opts as CloseAllOptions).handover;
  if (handover !== undefined && typeof handover !== 'boolean') {
    throw new InvalidRequestError('options.handover', `expected a boolean, got ${showValue(handover)}`);
  }
  return handover === true;
}

export function validateAcquireOptions(opts: unknown): AbortSignal | undefined {
  if (opts === undefined) return undefined;
  if (typeof opts !== 'object' || opts === null) {
    throw new InvalidRequestError('options', `expected an object, got ${showValue(opts)}`);
  }
  const signal = (opts as AcquireOptions).signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidRequestError('options.signal', `expected an AbortSignal, got ${showValue(signal)}`);
  }
  return signal;
}

export function requireString(name: string, value: unknown): string {
  if (typeof value !== 'string') throw new InvalidRequestError(name, `expected a string, got ${showValue(value)}`);
  return value;
}

export function requireFunction(name: string, value: unknown): void {
  if (typeof value !== 'function') throw new InvalidRequestError(name, `expected a function, got ${showValue(value)}`);
}
