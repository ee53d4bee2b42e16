/**
 * The session state machine: the one function that changes a session's phase,
 * keeps the per-state counts, logs and emits the transition's event.
 *
 * ```
 * creating -> ready | failed | closing
 * ready    -> probing | draining | closing
 * probing  -> ready | draining | closing
 * draining -> closing
 * closing  -> closed | orphaned
 * ```
 *
 * @module
 */
import type { CloseOutcome } from '../internal/close.js';
import type { SessionIdentity } from '../events.js';
import type { ProbeableClient } from '../probe.js';
import { silentLogger } from '../logger.js';
import type { SessionState } from '../session.js';
import type { Binding, Phase } from './binding.js';
import type { RegistryCore } from './core.js';

const NEXT: Readonly<Record<SessionState, readonly SessionState[]>> = {
  creating: ['ready', 'failed', 'closing'],
  ready: ['probing', 'draining', 'closing'],
  probing: ['ready', 'draining', 'closing'],
  draining: ['closing'],
  closing: ['closed', 'orphaned'],
  closed: [],
  failed: [],
  orphaned: [],
};

/** What a probe found; carried by the transition it ends with. */
export interface ProbeOutcome {
  readonly healthy: boolean;
  readonly step: string;
  readonly durationMs: number;
}

/** Extra facts a transition reports in its event. */
export interface TransitionDetail {
  /** The probe that ended a `probing` phase. */
  readonly probe?: ProbeOutcome;
  /** How the close ended (to `closed`). */
  readonly close?: CloseOutcome;
  /** Log a failed create at debug, not warn (a backoff refusal is logged once per window). */
  readonly quiet?: boolean;
}

/** The identity events and logs carry; never headers or URLs. */
export function identity(binding: Binding<unknown>): SessionIdentity {
  const { downstreamSessionId, gatewayId, transport, connectionId } = binding.info;
  return { downstreamSessionId, gatewayId, transport, connectionId };
}

/**
 * Moves `binding` to `next`. The only writer of `binding.phase`. Throws on a
 * transition the machine does not have (a registry bug, never user input).
 */
export function transition<C extends ProbeableClient>(core: RegistryCore<C>, binding: Binding<C>, next: Phase<C>, detail: TransitionDetail = {}): void {
  const previous = binding.phase;
  if (!NEXT[previous.state].includes(next.state)) {
    throw new Error(`Invalid session transition ${previous.state} -> ${next.state}`);
  }
  binding.phase = next;
  core.counts[previous.state]--;
  core.counts[next.state]++;
  if (previous.state === 'creating' && next.state === 'ready') countLive(core, binding);
  announce(core, binding, previous, next, detail);
}

/** A create finished: its gateway has one more live session (a retirement takes it back in `unindex()`). */
function countLive<C extends ProbeableClient>(core: RegistryCore<C>, binding: Binding<C>): void {
  const gw = core.gateways.get(binding.info.gatewayId);
  if (gw?.bindings.has(binding) === true) gw.live++;
}

function announce<C extends ProbeableClient>(core: RegistryCore<C>, binding: Binding<C>, previous: Phase<C>, next: Phase<C>, detail: TransitionDetail): void {
  const { events, logger, clock } = core;
  // No payload is built for a silent logger or an event without listener: closeAll() of 100k sessions would build 400k.
  const logs = logger !== silentLogger;
  const now = clock.now();
  if (detail.probe !== undefined) events.emit('session:probed', { ...identity(binding), ...detail.probe });
  switch (next.state) {
    case 'ready':
      if (previous.state !== 'creating') return;
      core.totals.created++;
      logger.debug(identity(binding), 'upstream session created');
      events.emit('session:created', { ...identity(binding), durationMs: now - previous.job.started });
      return;
    case 'failed': {
      const log = detail.quiet === true ? logger.debug : logger.warn;
      log.call(logger, { ...identity(binding), error: next.error.message }, 'upstream session create failed');
      const started = previous.state === 'creating' ? previous.job.started : binding.info.createdAt;
      events.emit('session:create-failed', { ...identity(binding), error: next.error, durationMs: now - started });
      return;
    }
    case 'draining':
    case 'closing': {
      if (previous.state === 'draining') return;
      const { reason } = next.retirement;
      core.totals.retired[reason]++;
      if (logs) logger.debug({ ...identity(binding), reason }, 'upstream session retired');
      if (events.listens('session:retired')) events.emit('session:retired', { ...identity(binding), reason, inFlight: binding.inFlight });
      core.telemetry?.retired(binding.info, reason, now - binding.info.createdAt);
      return;
    }
    case 'closed': {
      const close = detail.close ?? { outcome: 'closed', forced: false };
      const durationMs = now - next.retirement.at;
      if (close.error === undefined) {
        if (events.listens('session:closed')) events.emit('session:closed', { ...identity(binding), forced: close.forced, durationMs });
        return;
      }
      // The close error may quote the URL or a header: only a redacted copy leaves.
      const error = core.redact(close.error, binding.request);
      if (logs) logger.warn({ ...identity(binding), error: core.describe(error) }, 'upstream close failed');
      events.emit('session:closed', { ...identity(binding), forced: close.forced, durationMs, error });
      return;
    }
    case 'orphaned': {
      const durationMs = now - next.retirement.at;
      if (logs) logger.warn({ ...identity(binding), durationMs }, 'upstream session did not close in time; orphaned');
      if (events.listens('session:orphaned')) events.emit('session:orphaned', { ...identity(binding), durationMs });
      return;
    }
    case 'probing':
      return;
  }
}
