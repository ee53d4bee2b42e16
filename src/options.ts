import type { Affinity } from './affinity.js';
import type { Clock } from './clock.js';
import { InvalidOptionsError } from './errors.js';
import type { SessionLostPolicy } from './events.js';
import type { SessionFactory } from './factory.js';
import type { Logger } from './logger.js';
import type { ProbeChain, ProbeableClient } from './probe.js';
import { showValue } from './show-value.js';

/** What happens at `maxSessions` / `maxSessionsPerGateway` when a new key arrives. */
export type OverflowPolicy = 'reject' | 'evict-idle';

/**
 * Reconnect-storm guard: after `afterFailures` consecutive create failures on a
 * gateway, creates for it fail fast with `CreateFailedError` for a window that
 * starts at `initialMs`, doubles with each further failure up to `maxMs`, and
 * resets on the first success.
 */
export interface CreateBackoffOptions {
  /** Consecutive failures that open the first window. Default 2. */
  afterFailures?: number;
  /** First window, in ms. Default 500. */
  initialMs?: number;
  /** Largest window, in ms. Default 30 000. */
  maxMs?: number;
}

/** Options of {@link UpstreamSessionRegistry}. Every key is optional; unknown keys are an error. */
export interface RegistryOptions<C extends ProbeableClient = ProbeableClient> {
  /** Makes upstream connections. Default: `mcpSessionFactory()`. */
  factory?: SessionFactory<C>;
  /** Decides which worker owns a downstream session. Default: `new LocalAffinity()`. */
  affinity?: Affinity;
  /** A connection idle this long is probed before it is handed out. Default 60 000; `Infinity` turns probing off. */
  idleValidationMs?: number;
  /** Probe steps, in order. Default `defaultProbeChain`. */
  probeChain?: ProbeChain<C>;
  /** Deadline of each probe step. Default 5 000. */
  probeTimeoutMs?: number;
  /** Deadline of one create when the request has no `connectTimeoutMs`; also bounds affinity claims. Default 30 000. */
  createTimeoutMs?: number;
  /** Deadline of each close phase (drain, graceful, forced). Default 5 000. */
  closeTimeoutMs?: number;
  /** Sessions idle this long are retired by the sweeper. Default 30 minutes; 0 turns it off. */
  idleTtlMs?: number;
  /** Cap on sessions (live + being created). Default 10 000. */
  maxSessions?: number;
  /** Cap on sessions per gateway. Default: no cap beyond `maxSessions`. */
  maxSessionsPerGateway?: number;
  /** At a cap: reject the new key, or retire the least-recently-used idle session. Default 'reject'. */
  overflow?: OverflowPolicy;
  /** What a lost upstream session does. Default 'reconnect'. */
  onSessionLost?: SessionLostPolicy;
  /**
   * Under `onSessionLost: 'fail'`: most lost marks kept at once. Past it, the
   * oldest mark's downstream session is forgotten (its upstream sessions
   * retired, ownership released). Default: `maxSessions`.
   */
  maxLostSessions?: number;
  /**
   * Under `onSessionLost: 'fail'`: a lost mark older than this is dropped with
   * its downstream session, as with `maxLostSessions`. Default 30 minutes.
   */
  lostSessionTtlMs?: number;
  /** Creates in progress at once per gateway. Default 16. */
  createConcurrencyPerGateway?: number;
  /** Reconnect-storm guard; `false` turns it off. */
  createBackoff?: CreateBackoffOptions | false;
  /**
   * Warm spares per gateway id, e.g. `{ files: 2 }`: keep that many upstream
   * sessions connected and initialized that belong to no downstream session,
   * so a new downstream session of the gateway takes one instead of waiting
   * for connect + initialize (or a stdio spawn). A gateway's pool starts with
   * its first create and uses that create's configuration; a spare is used
   * only for a request with the same fingerprint. Spares count against the
   * caps, are closed after `idleTtlMs` unused, by `evictGateway` and by
   * `closeAll`. Default: none. See docs/performance.md.
   */
  spares?: Readonly<Record<string, number>>;
  /** Time source. Default `systemClock`. */
  clock?: Clock;
  /** pino- or console-compatible logger. Default: silent. */
  logger?: Logger;
}

/** Options after validation and defaults. */
export interface ResolvedOptions {
  readonly idleValidationMs: number;
  readonly probeTimeoutMs: number;
  readonly createTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly idleTtlMs: number;
  readonly maxSessions: number;
  readonly maxSessionsPerGateway: number;
  readonly overflow: OverflowPolicy;
  readonly onSessionLost: SessionLostPolicy;
  readonly maxLostSessions: number;
  readonly lostSessionTtlMs: number;
  readonly createConcurrencyPerGateway: number;
  readonly backoff: Required<CreateBackoffOptions> | undefined;
  readonly spares: ReadonlyMap<string, number>;
}

const KNOWN_KEYS: ReadonlySet<string> = new Set([
  'factory',
  'affinity',
  'idleValidationMs',
  'probeChain',
  'probeTimeoutMs',
  'createTimeoutMs',
  'closeTimeoutMs',
  'idleTtlMs',
  'maxSessions',
  'maxSessionsPerGateway',
  'overflow',
  'onSessionLost',
  'maxLostSessions',
  'lostSessionTtlMs',
  'createConcurrencyPerGateway',
  'createBackoff',
  'spares',
  'clock',
  'logger',
]);

/** Largest delay a timer can hold (2^31 - 1 ms); longer ones fire at once in Node. */
const MAX_TIMER_MS = 2_147_483_647;

function duration(name: string, value: unknown, fallback: number, allow: { zero?: boolean; infinity?: boolean }): number {
  if (value === undefined) return fallback;
  const ok =
    typeof value === 'number' &&
    !Number.isNaN(value) &&
    (value > 0 || (allow.zero === true && value === 0)) &&
    (Number.isFinite(value) ? value <= MAX_TIMER_MS : allow.infinity === true && value > 0);
  if (!ok) {
    const range = `${allow.zero === true ? '>= 0' : '> 0'}${allow.infinity === true ? ' or Infinity' : `, at most ${MAX_TIMER_MS}`}`;
    throw new InvalidOptionsError(name, `expected a number of milliseconds ${range}, got ${showValue(value)}`);
  }
  return value;
}

function count(name: string, value: unknown, fallback: number, allowInfinity = false): number {
  if (value === undefined) return fallback;
  const ok =
    typeof value === 'number' &&
    ((Number.isSafeInteger(value) && value >= 1) || (allowInfinity && value === Number.POSITIVE_INFINITY));
  if (!ok) throw new InvalidOptionsError(name, `expected a whole number >= 1, got ${showValue(value)}`);
  return value;
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new InvalidOptionsError(name, `expected one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${showValue(value)}`);
}

function requireShape(name: string, value: unknown, methods: readonly string[]): void {
  if (value === undefined) return;
  if (typeof value !== 'object' || value === null) {
    throw new InvalidOptionsError(name, `expected an object, got ${showValue(value)}`);
  }
  for (const method of methods) {
    if (typeof (value as Record<string, unknown>)[method] !== 'function') {
      throw new InvalidOptionsError(name, `expected a ${method}() method`);
    }
  }
}

function resolveBackoff(value: unknown): Required<CreateBackoffOptions> | undefined {
  if (value === false) return undefined;
  const defaults = { afterFailures: 2, initialMs: 500, maxMs: 30_000 };
  if (value === undefined) return defaults;
  if (typeof value !== 'object' || value === null) {
    throw new InvalidOptionsError('createBackoff', `expected an object or false, got ${showValue(value)}`);
  }
  const init = value as Record<string, unknown>;
  for (const key of Object.keys(init)) {
    if (!(key in defaults)) throw new InvalidOptionsError(`createBackoff.${key}`, 'unknown option');
  }
  const initialMs = duration('createBackoff.initialMs', init.initialMs, defaults.initialMs, {});
  const maxMs = duration('createBackoff.maxMs', init.maxMs, Math.max(defaults.maxMs, initialMs), {});
  if (maxMs < initialMs) {
    throw new InvalidOptionsError('createBackoff.maxMs', `must be >= initialMs (${initialMs}), got ${maxMs}`);
  }
  return {
    afterFailures: count('createBackoff.afterFailures', init.afterFailures, defaults.afterFailures),
    initialMs,
    maxMs,
  };
}

/**
 * Validates registry options and fills in defaults. Throws {@link InvalidOptionsError}
 * naming the first bad option; nothing is created on error.
 */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionsError('options', `expected an object, got ${showValue(options)}`);
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN_KEYS.has(key)) throw new InvalidOptionsError(key, 'unknown option');
  }
  if (o.factory !== undefined && typeof o.factory !== 'function') {
    throw new InvalidOptionsError('factory', `expected a function, got ${showValue(o.factory)}`);
  }
  requireShape('affinity', o.affinity, ['claim', 'release', 'close']);
  requireShape('clock', o.clock, ['now', 'setTimeout', 'clearTimeout']);
  requireShape('logger', o.logger, ['debug', 'info', 'warn', 'error']);
  if (o.probeChain !== undefined) validateChain(o.probeChain);
  const maxSessions = count('maxSessions', o.maxSessions, 10_000);
  return {
    idleValidationMs: duration('idleValidationMs', o.idleValidationMs, 60_000, { zero: true, infinity: true }),
    probeTimeoutMs: duration('probeTimeoutMs', o.probeTimeoutMs, 5_000, {}),
    createTimeoutMs: duration('createTimeoutMs', o.createTimeoutMs, 30_000, {}),
    closeTimeoutMs: duration('closeTimeoutMs', o.closeTimeoutMs, 5_000, {}),
    idleTtlMs: duration('idleTtlMs', o.idleTtlMs, 30 * 60_000, { zero: true }),
    maxSessions,
    maxSessionsPerGateway: count('maxSessionsPerGateway', o.maxSessionsPerGateway, Number.POSITIVE_INFINITY, true),
    overflow: oneOf('overflow', o.overflow, ['reject', 'evict-idle'], 'reject'),
    onSessionLost: oneOf('onSessionLost', o.onSessionLost, ['reconnect', 'fail'], 'reconnect'),
    maxLostSessions: count('maxLostSessions', o.maxLostSessions, maxSessions),
    lostSessionTtlMs: duration('lostSessionTtlMs', o.lostSessionTtlMs, 30 * 60_000, {}),
    createConcurrencyPerGateway: count('createConcurrencyPerGateway', o.createConcurrencyPerGateway, 16),
    backoff: resolveBackoff(o.createBackoff),
    spares: resolveSpares(o.spares),
  };
}

/** Most spares one gateway may keep: a typo (10000) must not spawn thousands of children. */
const MAX_SPARES = 1_000;

function resolveSpares(value: unknown): ReadonlyMap<string, number> {
  const spares = new Map<string, number>();
  if (value === undefined) return spares;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionsError('spares', `expected an object of gateway id -> count, got ${showValue(value)}`);
  }
  for (const [gatewayId, n] of Object.entries(value)) {
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > MAX_SPARES) {
      throw new InvalidOptionsError(`spares[${showValue(gatewayId)}]`, `expected a whole number from 0 to ${MAX_SPARES}, got ${showValue(n)}`);
    }
    spares.set(gatewayId, n);
  }
  return spares;
}

function validateChain(chain: unknown): void {
  if (!Array.isArray(chain)) throw new InvalidOptionsError('probeChain', `expected an array, got ${showValue(chain)}`);
  chain.forEach((step: unknown, index) => {
    const s = step as { name?: unknown; run?: unknown } | null;
    if (typeof s !== 'object' || s === null || typeof s.name !== 'string' || typeof s.run !== 'function') {
      throw new InvalidOptionsError(`probeChain[${index}]`, 'expected { name: string, run(client, options) }');
    }
  });
}
