/**
 * Health probes: the chain of cheap requests the registry sends to an upstream
 * connection that has been idle, before handing it out again.
 *
 * @module
 */

import { classifyError, isCapabilityNotAdvertised } from './classify.js';
import { type Clock, systemClock } from './clock.js';
import { InvalidOptionsError } from './errors.js';

/** Per-request options a probe passes to the client; a subset of the SDK's `RequestOptions`. */
export interface ProbeRequestOptions {
  /** Aborts the request. */
  signal?: AbortSignal;
  /** Request timeout in milliseconds. */
  timeout?: number;
}

/**
 * The subset of the SDK `Client` that probes use. An SDK `Client` is one; so is
 * the `FakeClient` of `mcp-upstream-registry/testing`.
 */
export interface ProbeableClient {
  /** MCP `ping`. */
  ping(options?: ProbeRequestOptions): Promise<unknown>;
  /** MCP `tools/list`. */
  listTools(params?: unknown, options?: ProbeRequestOptions): Promise<unknown>;
  /** MCP `prompts/list`. */
  listPrompts(params?: unknown, options?: ProbeRequestOptions): Promise<unknown>;
  /** MCP `resources/list`. */
  listResources(params?: unknown, options?: ProbeRequestOptions): Promise<unknown>;
}

/** What {@link runProbeChain} hands each step. */
export interface ProbeStepOptions {
  /** Aborts when the step's deadline passes or the caller gives up; pass it to the request. */
  readonly signal: AbortSignal;
  /** The step's deadline in milliseconds; pass it to the request as its timeout. */
  readonly timeout: number;
}

/**
 * One probe: a request whose answer proves the connection is alive.
 *
 * @example
 * ```ts
 * const listToolsOnly: ProbeChain = [
 *   { name: 'tools/list', run: (client, { signal, timeout }) => client.listTools(undefined, { signal, timeout }) },
 * ];
 * ```
 */
export interface ProbeStep<C = ProbeableClient> {
  /** Shown in {@link ProbeResult.step} and in `session:probed` events. */
  readonly name: string;
  /** Sends the request. Resolve on any answer; reject with the client's error. */
  run(client: C, options: ProbeStepOptions): Promise<unknown>;
}

/** Probe steps, tried in order until one decides. */
export type ProbeChain<C = ProbeableClient> = readonly ProbeStep<C>[];

/** Outcome of {@link runProbeChain}. Frozen. */
export interface ProbeResult {
  /** Whether the connection may be handed out. */
  readonly healthy: boolean;
  /**
   * The step that decided; `'exhausted'` when every step was skipped as
   * method-not-found (or timed out, with at least one server answer);
   * `'none'` for an empty chain.
   */
  readonly step: string;
  /** The error behind an unhealthy result. */
  readonly error?: unknown;
}

/** Options of {@link runProbeChain}. */
export interface RunProbeChainOptions {
  /** Deadline of each step, in milliseconds (finite, > 0). */
  timeoutMs: number;
  /** Aborting it rejects the run at once with `signal.reason`. */
  signal?: AbortSignal;
  /** Source of the step timers. Default: `systemClock`. */
  clock?: Clock;
}

function step(name: string, run: ProbeStep['run']): ProbeStep {
  return Object.freeze({ name, run });
}

/**
 * `ping` → `tools/list` → `prompts/list` → `resources/list`. Frozen.
 *
 * `ping` comes first because every MCP server must answer it and it costs the
 * server nothing; the list methods follow for servers that do not implement
 * `ping` (they answer method-not-found).
 */
export const defaultProbeChain: ProbeChain = Object.freeze([
  step('ping', (client, { signal, timeout }) => client.ping({ signal, timeout })),
  step('tools/list', (client, { signal, timeout }) => client.listTools(undefined, { signal, timeout })),
  step('prompts/list', (client, { signal, timeout }) => client.listPrompts(undefined, { signal, timeout })),
  step('resources/list', (client, { signal, timeout }) => client.listResources(undefined, { signal, timeout })),
]);

/**
 * Runs `chain` against `client`, one step at a time, each with its own
 * deadline of `timeoutMs` (the step's signal aborts and the step counts as
 * timed out, even if it ignores its signal).
 *
 * - An answer ends the run: `{ healthy: true, step }`.
 * - `'method-not-found'` or `'timeout'` (see {@link classifyError}) moves to the next step.
 * - `'transport'` ends the run: `{ healthy: false, step, error }`.
 * - `'application'` rejects the returned promise with that error: a bug is
 *   not a dead connection, and replacing the connection would only loop.
 * - Chain exhausted: unhealthy (`step` and `error` of the last timeout) if
 *   some step timed out and no step reached the server, so a hung upstream
 *   never passes; healthy with `step: 'exhausted'` otherwise. The SDK
 *   client's local "Server does not support X" refusal does not count as
 *   reaching the server: it sends nothing.
 * - Empty chain: `{ healthy: true, step: 'none' }`.
 * - `opts.signal` aborting rejects at once with `signal.reason`.
 *
 * @throws {InvalidOptionsError} when `timeoutMs` is not a finite number > 0.
 *
 * @example
 * ```ts
 * const result = await runProbeChain(client, defaultProbeChain, { timeoutMs: 5_000 });
 * if (!result.healthy) console.warn(`probe ${result.step} failed`, result.error);
 * ```
 */
export async function runProbeChain<C>(
  client: C,
  chain: ProbeChain<C>,
  opts: RunProbeChainOptions,
): Promise<ProbeResult> {
  validateOptions(opts);
  const clock = opts.clock ?? systemClock;
  const signal = opts.signal;
  let lastTimeout: { step: string; error: unknown } | undefined;
  let reachedServer = false;

  for (const probe of chain) {
    signal?.throwIfAborted();
    const outcome = await runStep(client, probe, opts.timeoutMs, clock, signal);
    if (outcome.ok) return result(true, probe.name);
    const kind = classifyError(outcome.error);
    if (kind === 'transport') return result(false, probe.name, outcome.error);
    if (kind === 'application') throw outcome.error;
    if (kind === 'timeout') {
      lastTimeout = { step: probe.name, error: outcome.error };
    } else if (!isCapabilityNotAdvertised(outcome.error)) {
      reachedServer = true;
    }
  }

  if (chain.length === 0) return result(true, 'none');
  if (lastTimeout !== undefined && !reachedServer) return result(false, lastTimeout.step, lastTimeout.error);
  return result(true, 'exhausted');
}

type StepOutcome = { readonly ok: true } | { readonly ok: false; readonly error: unknown };

/**
 * Races one step against its deadline and the caller's signal. Resolves with
 * the step's outcome (a timeout is an outcome); rejects only when the caller
 * aborts. Whatever settles first wins; the timer and listener are always removed.
 */
function runStep<C>(
  client: C,
  probe: ProbeStep<C>,
  timeoutMs: number,
  clock: Clock,
  outer: AbortSignal | undefined,
): Promise<StepOutcome> {
  return new Promise<StepOutcome>((resolve, reject) => {
    const controller = new AbortController();
    let settled = false;
    const finish = (settle: () => void): boolean => {
      if (settled) return false;
      settled = true;
      clock.clearTimeout(timer);
      outer?.removeEventListener('abort', onOuterAbort);
      settle();
      return true;
    };
    const onOuterAbort = (): void => {
      const reason: unknown = outer?.reason;
      if (finish(() => reject(reason))) controller.abort(reason);
    };
    const timer = clock.setTimeout(() => {
      const error = stepTimeoutError(probe.name, timeoutMs);
      if (finish(() => resolve({ ok: false, error }))) controller.abort(error);
    }, timeoutMs);
    outer?.addEventListener('abort', onOuterAbort, { once: true });

    // The step may settle after the race is decided; its late rejection is consumed here.
    startStep(client, probe, { signal: controller.signal, timeout: timeoutMs }).then(
      () => finish(() => resolve({ ok: true })),
      (error: unknown) => finish(() => resolve({ ok: false, error })),
    );
  });
}

function startStep<C>(client: C, probe: ProbeStep<C>, options: ProbeStepOptions): Promise<unknown> {
  try {
    return Promise.resolve(probe.run(client, options));
  } catch (error) {
    return Promise.reject(error);
  }
}

function stepTimeoutError(stepName: string, timeoutMs: number): DOMException {
  // Same shape as AbortSignal.timeout()'s reason, so classifyError calls it 'timeout'.
  return new DOMException(`Probe step "${stepName}" timed out after ${timeoutMs} ms`, 'TimeoutError');
}

function result(healthy: boolean, step: string, error?: unknown): ProbeResult {
  return Object.freeze(error === undefined ? { healthy, step } : { healthy, step, error });
}

function validateOptions(opts: RunProbeChainOptions): void {
  if (typeof opts !== 'object' || opts === null) {
    throw new InvalidOptionsError('opts', `expected an object, got ${describe(opts)}`);
  }
  const { timeoutMs } = opts;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new InvalidOptionsError('timeoutMs', `expected a finite number > 0, got ${describe(timeoutMs)}`);
  }
}

function describe(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
