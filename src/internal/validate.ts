/**
 * The options validation kit: every option checker of the library reports a
 * bad value the same way (an {@link InvalidOptionsError} naming the option and
 * showing the value through {@link showValue}, never more), and the timer
 * maximum is defined here once.
 *
 * @module
 */

import { InvalidOptionsError } from '../errors.js';
import { showValue } from '../show-value.js';

/** Largest delay a timer can hold (2^31 − 1 ms); longer ones fire at once on Node. */
export const MAX_TIMER_MS = 2_147_483_647;

/** A plain object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `value` as an options object; `undefined` becomes `{}`. */
export function optionsObject(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isRecord(value)) throw new InvalidOptionsError(name, `expected an object, got ${showValue(value)}`);
  return value;
}

/**
 * Throws on the first key of `options` not in `known`, named `prefix + key`
 * (e.g. `createBackoff.typo`); a key that is not a plain name is shown, not echoed.
 */
export function assertKnownKeys(options: object, known: ReadonlySet<string>, prefix = ''): void {
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new InvalidOptionsError(prefix + (/^[\w.$-]{1,64}$/.test(key) ? key : showValue(key)), 'unknown option');
  }
}

/** Which extra values a milliseconds option accepts besides `(0, MAX_TIMER_MS]`, and whether fractions are refused. */
export interface MillisecondsAllow {
  /** `0` (e.g. "off"). */
  zero?: boolean;
  /** `Infinity` (e.g. "never"). */
  infinity?: boolean;
  /** Only whole milliseconds (e.g. a Redis `PX` argument). */
  integer?: boolean;
}

/** A delay for a timer: `undefined` stays `undefined`, anything else must fit a timer. */
export function milliseconds(name: string, value: unknown, allow: MillisecondsAllow = {}): number | undefined {
  if (value === undefined) return undefined;
  const ok =
    typeof value === 'number' &&
    (value > 0 || (allow.zero === true && value === 0)) &&
    (Number.isFinite(value) ? value <= MAX_TIMER_MS && (allow.integer !== true || Number.isInteger(value)) : allow.infinity === true);
  if (ok) return value;
  const kind = allow.integer === true ? 'a whole number of milliseconds' : 'a number of milliseconds';
  const range = `${allow.zero === true ? '>= 0' : '> 0'}, at most ${MAX_TIMER_MS}${allow.infinity === true ? ', or Infinity' : ''}`;
  throw new InvalidOptionsError(name, `expected ${kind} ${range}, got ${showValue(value)}`);
}

/** Bounds of a {@link count}. */
export interface CountRange {
  /** Smallest count. Default 1. */
  min?: number;
  /** Largest count. Default `Number.MAX_SAFE_INTEGER`. */
  max?: number;
  /** `Infinity` (e.g. "no cap"). */
  infinity?: boolean;
}

/** An integer count in `[min, max]` (default `[1, MAX_SAFE_INTEGER]`); `undefined` stays `undefined`. */
export function count(name: string, value: unknown, range: CountRange = {}): number | undefined {
  if (value === undefined) return undefined;
  const { min = 1, max = Number.MAX_SAFE_INTEGER } = range;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max) return value;
  if (range.infinity === true && value === Number.POSITIVE_INFINITY) return value;
  const upper = max === Number.MAX_SAFE_INTEGER ? '' : `, at most ${max}`;
  throw new InvalidOptionsError(name, `expected an integer >= ${min}${upper}${range.infinity === true ? ', or Infinity' : ''}, got ${showValue(value)}`);
}

/** A finite number in `[min, max]`, fractions allowed; `undefined` stays `undefined`. */
export function numberIn(name: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && value >= min && value <= max) return value;
  throw new InvalidOptionsError(name, `expected a number from ${min} to ${max}, got ${showValue(value)}`);
}

/** A boolean; `undefined` becomes `fallback`. */
export function flag(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidOptionsError(name, `expected a boolean, got ${showValue(value)}`);
  return value;
}

/** One of `allowed`; `undefined` becomes `fallback`. */
export function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if ((allowed as readonly unknown[]).includes(value)) return value as T;
  const list = allowed.map((a) => `'${a}'`).join(', ');
  throw new InvalidOptionsError(name, `expected one of ${list}, got ${showValue(value)}`);
}

/** A function, or `undefined`. */
export function optionalFunction<F>(name: string, value: unknown): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw new InvalidOptionsError(name, `expected a function, got ${showValue(value)}`);
  return value as F;
}

/** A string, or `undefined`. */
export function optionalString(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new InvalidOptionsError(name, `expected a string, got ${showValue(value)}`);
  return value;
}

/** An object (e.g. capabilities), or `undefined`. */
export function optionalRecord<T extends object>(name: string, value: unknown): T | undefined {
  if (value === undefined) return undefined;
  if (!isRecord(value)) throw new InvalidOptionsError(name, `expected an object, got ${showValue(value)}`);
  return value as T;
}

/**
 * An object with the given methods (an affinity, a clock, a logger, a store),
 * or `undefined`. The message names the first missing method; the value itself
 * is shown only when it is not an object.
 */
export function withMethods<T extends object>(name: string, value: unknown, methods: readonly string[]): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) {
    throw new InvalidOptionsError(name, `expected an object with ${methods.map((m) => `${m}()`).join(', ')}, got ${showValue(value)}`);
  }
  for (const method of methods) {
    if (typeof (value as Record<string, unknown>)[method] !== 'function') {
      throw new InvalidOptionsError(name, `expected an object with a ${method}() method`);
    }
  }
  return value as T;
}
