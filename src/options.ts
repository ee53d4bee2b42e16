import type { Affinity } from './affinity.js';
import type { Clock } from './clock.js';
import { InvalidOptionsError } from './errors.js';
import type { SessionLostPolicy } from './events.js';
import type { SessionFactory } from './factory.js';
import type { Logger } from './logger.js';
import type { ProbeChain, ProbeableClient } from './probe.js';
import {
  assertKnownKeys,
  count,
  type MillisecondsAllow,
  milliseconds,
  oneOf,
  optionalFunction,
  optionsObject,
  withMethods,
} from './internal/validate.js';
import { showValue } from './show-value.js';
import type { RegistryTelemetry } from './telemetry.js';

/** What happens at `maxSessions` / `maxSessionsPerGateway` when a new key arrives. */
export type OverflowPolicy = 'reject' | 'evict-idle';

/**
 * Reconnect-storm guard: after `afterFailures` consecutive create failures on a
 * gateway, creates for it fail fast with `CreateFailedError` (`retryAfterMs`:
 * the time left) for a window that starts at `initialMs` and doubles with each
 * further failure up to `maxMs`. When a window ends, exactly one trial create
 * goes through (half-open); its success ends the backoff at once, its failure
 * opens the next window.
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
  /** Time source. Default `systemClock`. */
  clock?: Clock;
  /** pino- or console-compatible logger. Default: silent. */
  logger?: Logger;
  /**
   * Metrics and tracing hooks, called on slow paths only (create, probe, claim,
   * retire, close); e.g. `otelTelemetry()` from `mcp-upstream-registry/otel`.
   * Default: none (no extra work anywhere).
   */
  telemetry?: RegistryTelemetry;
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
  'clock',
  'logger',
  'telemetry',
]);

/** The hooks a `telemetry` option must have (`attach` is optional). */
const TELEMETRY_HOOKS: readonly string[] = [
  'acquireStart',
  'claimStart',
  'createStart',
  'backoff',
  'probeStart',
  'retired',
  'lost',
  'closeStart',
  'closeAllStart',
];

function duration(name: string, value: unknown, fallback: number, allow: MillisecondsAllow): number {
  return milliseconds(name, value, allow) ?? fallback;
}

function resolveBackoff(value: unknown): Required<CreateBackoffOptions> | undefined {
  if (value === false) return undefined;
  const defaults = { afterFailures: 2, initialMs: 500, maxMs: 30_000 };
  if (value === undefined) return defaults;
  if (typeof value !== 'object' || value === null) {
    throw new InvalidOptionsError('createBackoff', `expected an object or false, got ${showValue(value)}`);
  }
  const init = value as Record<string, unknown>;
  assertKnownKeys(init, new Set(Object.keys(defaults)), 'createBackoff.');
  const initialMs = duration('createBackoff.initialMs', init.initialMs, defaults.initialMs, {});
  const maxMs = duration('createBackoff.maxMs', init.maxMs, Math.max(defaults.maxMs, initialMs), {});
  if (maxMs < initialMs) {
    throw new InvalidOptionsError('createBackoff.maxMs', `must be >= initialMs (${initialMs}), got ${maxMs}`);
  }
  return {
    afterFailures: count('createBackoff.afterFailures', init.afterFailures) ?? defaults.afterFailures,
    initialMs,
    maxMs,
  };
}

/**
 * Validates registry options and fills in defaults. Throws {@link InvalidOptionsError}
 * naming the first bad option; nothing is created on error.
 */
export function resolveOptions(options: unknown): ResolvedOptions {
  const o = optionsObject('options', options);
  assertKnownKeys(o, KNOWN_KEYS);
  optionalFunction('factory', o.factory);
  withMethods('affinity', o.affinity, ['claim', 'release', 'close']);
  withMethods('clock', o.clock, ['now', 'setTimeout', 'clearTimeout']);
  withMethods('logger', o.logger, ['debug', 'info', 'warn', 'error']);
  withMethods('telemetry', o.telemetry, TELEMETRY_HOOKS);
  const attach = (o.telemetry as { attach?: unknown } | undefined)?.attach;
  if (attach !== undefined && typeof attach !== 'function') {
    throw new InvalidOptionsError('telemetry', `expected attach to be a function, got ${showValue(attach)}`);
  }
  if (o.probeChain !== undefined) validateChain(o.probeChain);
  const maxSessions = count('maxSessions', o.maxSessions) ?? 10_000;
  return {
    idleValidationMs: duration('idleValidationMs', o.idleValidationMs, 60_000, { zero: true, infinity: true }),
    probeTimeoutMs: duration('probeTimeoutMs', o.probeTimeoutMs, 5_000, {}),
    createTimeoutMs: duration('createTimeoutMs', o.createTimeoutMs, 30_000, {}),
    closeTimeoutMs: duration('closeTimeoutMs', o.closeTimeoutMs, 5_000, {}),
    idleTtlMs: duration('idleTtlMs', o.idleTtlMs, 30 * 60_000, { zero: true }),
    maxSessions,
    maxSessionsPerGateway: count('maxSessionsPerGateway', o.maxSessionsPerGateway, { infinity: true }) ?? Number.POSITIVE_INFINITY,
    overflow: oneOf('overflow', o.overflow, ['reject', 'evict-idle'], 'reject'),
    onSessionLost: oneOf('onSessionLost', o.onSessionLost, ['reconnect', 'fail'], 'reconnect'),
    maxLostSessions: count('maxLostSessions', o.maxLostSessions) ?? maxSessions,
    lostSessionTtlMs: duration('lostSessionTtlMs', o.lostSessionTtlMs, 30 * 60_000, {}),
    createConcurrencyPerGateway: count('createConcurrencyPerGateway', o.createConcurrencyPerGateway) ?? 16,
    backoff: resolveBackoff(o.createBackoff),
  };
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
