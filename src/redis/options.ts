/**
 * Options of {@link RedisAffinity}: types, defaults and validation.
 *
 * @module
 */

import { randomUUID } from 'node:crypto';
import { type Clock, systemClock } from '../clock.js';
import { InvalidOptionsError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import { assertKnownKeys, isRecord, milliseconds, oneOf, withMethods } from '../internal/validate.js';
import { redactUrl } from '../redact.js';
import { showValue } from '../show-value.js';
import { isRedisClient, type RedisConnection } from './client.js';

/**
 * What `claim` does when Redis fails or does not answer within `commandTimeoutMs`.
 *
 * - `'fail-closed'` (default): `claim` rejects with `AffinityUnavailableError`,
 *   and sessions whose ownership could not be renewed before their TTL ran
 *   out are reported lost. No two workers can then serve one downstream session.
 * - `'serve-locally'`: `claim` answers "owned" and logs a warning; sessions are
 *   kept through an outage. Availability first: during an outage two workers
 *   may each build an upstream session for the same downstream session.
 */
export type RedisErrorPolicy = 'fail-closed' | 'serve-locally';

/** Options of {@link RedisAffinity}. Unknown keys throw `InvalidOptionsError`. */
export interface RedisAffinityOptions {
  /**
   * An ioredis client you made (never quit by the affinity), or a `redis://`
   * URL or ioredis options, from which the affinity makes (and later quits) its own.
   */
  redis: RedisConnection;
  /** Unique id of this worker among live workers. Default: a random UUID. */
  workerId?: string;
  /** Internal base URL other workers forward requests to, e.g. `http://10.0.0.7:3001`. */
  address?: string;
  /**
   * Prefix of every key. Default `'mcp-upstream:'`. Leave hash tags out of it on
   * Redis Cluster: each session's keys carry their own, so sessions spread over every node.
   */
  keyPrefix?: string;
  /** How often the heartbeat and the ownership TTLs are renewed, in one batch. Default 1 000 ms. */
  heartbeatIntervalMs?: number;
  /**
   * TTL of the heartbeat and of each ownership key: how long after a worker
   * dies its sessions can be taken over. Must exceed `heartbeatIntervalMs +
   * commandTimeoutMs`. Default 5 000 ms.
   */
  ownershipTtlMs?: number;
  /**
   * TTL of the upstream session records of `RedisSessionStore`, renewed with
   * ownership: how long after the owner died a new owner can still re-attach.
   * At least `ownershipTtlMs`. Default 1 800 000 ms (30 minutes).
   */
  recordTtlMs?: number;
  /** Upper bound of every Redis call. Default 1 000 ms. */
  commandTimeoutMs?: number;
  /** What to do when Redis fails or is slow. Default `'fail-closed'`. */
  onRedisError?: RedisErrorPolicy;
  /** Where warnings go (pino- and console-compatible). Default: silent. */
  logger?: Logger;
  /**
   * Drives the heartbeat schedule and the local estimate of when ownership
   * runs out. Redis calls are bounded in real time whatever the clock. Default: the system clock.
   */
  clock?: Clock;
}

/** {@link RedisAffinityOptions} after defaults and validation. */
export interface ResolvedRedisAffinityOptions {
  readonly redis: RedisConnection;
  readonly workerId: string;
  readonly address: string | undefined;
  readonly keyPrefix: string;
  readonly heartbeatIntervalMs: number;
  readonly ownershipTtlMs: number;
  readonly recordTtlMs: number;
  readonly commandTimeoutMs: number;
  readonly onRedisError: RedisErrorPolicy;
  readonly logger: Logger;
  readonly clock: Clock;
}

const KNOWN = new Set([
  'redis',
  'workerId',
  'address',
  'keyPrefix',
  'heartbeatIntervalMs',
  'ownershipTtlMs',
  'recordTtlMs',
  'commandTimeoutMs',
  'onRedisError',
  'logger',
  'clock',
]);

const MAX_ID_LENGTH = 128;
const MAX_PREFIX_LENGTH = 256;

// Redis takes TTLs as whole milliseconds (PX).
function millis(name: string, value: unknown, fallback: number): number {
  return milliseconds(name, value, { integer: true }) ?? fallback;
}

function isVisibleAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

function workerId(value: unknown): string {
  if (value === undefined) return randomUUID();
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_LENGTH || !isVisibleAscii(value)) {
    throw new InvalidOptionsError(
      'workerId',
      `expected 1..${MAX_ID_LENGTH} visible ASCII characters, got ${showValue(value)}`,
    );
  }
  return value;
}

function address(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new InvalidOptionsError('address', `expected a URL string, got ${showValue(value)}`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidOptionsError('address', `not a valid URL: ${redactUrl(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidOptionsError('address', `expected an http: or https: URL, got ${JSON.stringify(url.protocol)}`);
  }
  // The address is published in Redis for every worker to read; it must not carry secrets.
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new InvalidOptionsError('address', `must not contain credentials, a query or a fragment: ${redactUrl(url)}`);
  }
  return value;
}

function keyPrefix(value: unknown): string {
  if (value === undefined) return 'mcp-upstream:';
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_PREFIX_LENGTH) {
    throw new InvalidOptionsError('keyPrefix', `expected 1..${MAX_PREFIX_LENGTH} characters, got ${showValue(value)}`);
  }
  return value;
}

function redis(value: unknown): RedisConnection {
  if (typeof value === 'string' && value.length > 0) return value;
  if (isRedisClient(value)) return value;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as RedisConnection;
  const got = value === '' ? 'an empty string' : value === null ? 'null' : typeof value;
  throw new InvalidOptionsError('redis', `expected an ioredis client, a redis:// URL or ioredis options, got ${got}`);
}

/** Validates `options` and applies defaults. Throws `InvalidOptionsError` naming the bad option. */
export function resolveRedisAffinityOptions(options: unknown): ResolvedRedisAffinityOptions {
  if (!isRecord(options)) throw new InvalidOptionsError('options', `expected an object, got ${showValue(options)}`);
  const o = options;
  assertKnownKeys(o, KNOWN);
  const heartbeatIntervalMs = millis('heartbeatIntervalMs', o.heartbeatIntervalMs, 1_000);
  const commandTimeoutMs = millis('commandTimeoutMs', o.commandTimeoutMs, 1_000);
  const ownershipTtlMs = millis('ownershipTtlMs', o.ownershipTtlMs, 5_000);
  // A renewal starts at most one interval after the last one and may take a full command timeout.
  if (ownershipTtlMs <= heartbeatIntervalMs + commandTimeoutMs) {
    throw new InvalidOptionsError(
      'ownershipTtlMs',
      `must exceed heartbeatIntervalMs + commandTimeoutMs (${heartbeatIntervalMs} + ${commandTimeoutMs}), got ${ownershipTtlMs}`,
    );
  }
  const recordTtlMs = millis('recordTtlMs', o.recordTtlMs, Math.max(1_800_000, ownershipTtlMs));
  if (recordTtlMs < ownershipTtlMs) {
    throw new InvalidOptionsError('recordTtlMs', `must be at least ownershipTtlMs (${ownershipTtlMs}), got ${recordTtlMs}`);
  }
  return Object.freeze({
    redis: redis(o.redis),
    workerId: workerId(o.workerId),
    address: address(o.address),
    keyPrefix: keyPrefix(o.keyPrefix),
    heartbeatIntervalMs,
    ownershipTtlMs,
    recordTtlMs,
    commandTimeoutMs,
    onRedisError: oneOf('onRedisError', o.onRedisError, ['fail-closed', 'serve-locally'], 'fail-closed'),
    logger: withMethods<Logger>('logger', o.logger, ['debug', 'info', 'warn', 'error']) ?? silentLogger,
    clock: withMethods<Clock>('clock', o.clock, ['now', 'setTimeout', 'clearTimeout']) ?? systemClock,
  });
}
