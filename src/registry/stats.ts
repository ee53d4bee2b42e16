/**
 * Counters and the snapshot: what the registry tells an operator.
 *
 * @module
 */
import type { RetireReason } from '../events.js';
import type { ProbeableClient } from '../probe.js';
import type { GatewaySnapshot, RegistrySnapshot, SessionPage, SessionSnapshot } from '../snapshot.js';
import type { Binding } from './binding.js';
import type { RegistryCore } from './core.js';

/**
 * One zero per retire reason. An object literal typed by the union: the
 * compiler rejects a missing reason and an unknown one, so the snapshot's
 * `retired` counters always cover `RetireReason` exactly.
 */
const NO_RETIREMENTS: Readonly<Record<RetireReason, 0>> = {
  'downstream-evicted': 0,
  'gateway-evicted': 0,
  'config-changed': 0,
  'probe-failed': 0,
  'transport-error': 0,
  'idle-expired': 0,
  capacity: 0,
  lost: 0,
  'ownership-lost': 0,
  'registry-closed': 0,
  handover: 0,
};

/** Counters that are not per-state counts (those live in `RegistryCore.counts`). */
export interface Totals {
  created: number;
  reused: number;
  probes: number;
  probeFailures: number;
  retired: Record<RetireReason, number>;
}

export function newTotals(): Totals {
  return {
    created: 0,
    reused: 0,
    probes: 0,
    probeFailures: 0,
    retired: { ...NO_RETIREMENTS },
  };
}

function sessionSnapshot(b: Binding<unknown>, now: number): SessionSnapshot {
  return {
    downstreamSessionId: b.info.downstreamSessionId,
    gatewayId: b.info.gatewayId,
    transport: b.info.transport,
    url: b.safeUrl,
    connectionId: b.info.connectionId,
    state: b.phase.state,
    ageMs: now - b.info.createdAt,
    idleMs: b.inFlight > 0 ? 0 : now - b.lastUsedAt,
    useCount: b.useCount,
    inFlight: b.inFlight,
  };
}

/** Per-gateway counts from the gateways' counters: O(gateways), no session is walked. */
export function gatewaySnapshots<C extends ProbeableClient>(core: RegistryCore<C>, now: number): [string, GatewaySnapshot][] {
  const gateways: [string, GatewaySnapshot][] = [];
  for (const gw of core.gateways.all()) {
    gateways.push([
      gw.id,
      {
        live: gw.live,
        creating: gw.bindings.size - gw.live,
        queuedCreates: gw.limit.pendingCount,
        consecutiveFailures: gw.consecutiveFailures,
        backoffRemainingMs: Math.max(0, gw.backoffUntil - now),
      },
    ]);
  }
  return gateways;
}

/**
 * Frozen plain data: sessions in service (creating, ready, probing) each with
 * its state, unless `withSessions` is false; retiring ones by count.
 */
export function buildSnapshot<C extends ProbeableClient>(core: RegistryCore<C>, withSessions = true): RegistrySnapshot {
  const now = core.clock.now();
  const sessions = withSessions ? sessionRows(core, now) : [];
  const { counts, totals } = core;
  return freezeSnapshot({
    closed: core.closed,
    uptimeMs: now - core.startedAt,
    live: core.live,
    creating: counts.creating,
    retiring: counts.draining + counts.closing,
    downstreamSessions: core.ownership.size,
    // fromEntries defines own properties, so a gateway named "__proto__" stays data.
    gateways: Object.fromEntries(gatewaySnapshots(core, now)),
    totals: {
      created: totals.created,
      reused: totals.reused,
      probes: totals.probes,
      probeFailures: totals.probeFailures,
      createFailures: counts.failed,
      closed: counts.closed,
      orphaned: counts.orphaned,
      retired: { ...totals.retired },
    },
    sessions,
  });
}

/**
 * Every session in service, each row frozen as it is made. The array is sized
 * up front and filled in one pass: at 100k sessions a growing array and a
 * second pass to freeze the rows cost a third of the snapshot (bench P4).
 */
function sessionRows<C extends ProbeableClient>(core: RegistryCore<C>, now: number): SessionSnapshot[] {
  const rows = new Array<SessionSnapshot>(core.bindings.size);
  let i = 0;
  for (const b of core.bindings.values()) rows[i++] = Object.freeze(sessionSnapshot(b, now));
  return rows;
}

/** Deep-freezes a snapshot built from fresh plain objects whose session rows are frozen already. */
function freezeSnapshot(snapshot: RegistrySnapshot): RegistrySnapshot {
  Object.freeze(snapshot.sessions);
  for (const gateway of Object.values(snapshot.gateways)) Object.freeze(gateway);
  Object.freeze(snapshot.gateways);
  Object.freeze(snapshot.totals.retired);
  Object.freeze(snapshot.totals);
  return Object.freeze(snapshot);
}

/**
 * One page of sessions in service, in connection order (the order of
 * `core.bindings`: a session enters it with a new, higher connection id). The
 * cursor is the last connection id shown, so a page stays right while sessions
 * come and go. O(sessions before the cursor) to skip, O(limit) to build.
 */
export function buildSessionPage<C extends ProbeableClient>(core: RegistryCore<C>, after: number, limit: number): SessionPage {
  const now = core.clock.now();
  const sessions: SessionSnapshot[] = [];
  let more = false;
  for (const b of core.bindings.values()) {
    if (b.info.connectionId <= after) continue;
    if (sessions.length === limit) {
      more = true;
      break;
    }
    sessions.push(Object.freeze(sessionSnapshot(b, now)));
  }
  const last = sessions[sessions.length - 1];
  Object.freeze(sessions);
  return Object.freeze(more && last !== undefined ? { sessions, nextCursor: String(last.connectionId) } : { sessions });
}
