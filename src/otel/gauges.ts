import type { BatchObservableResult, Meter, ObservableGauge } from '@opentelemetry/api';
import type { GatewaySnapshot } from '../snapshot.js';
import type * as T from '../telemetry.js';
import { ATTR, METRIC } from './names.js';

/** Sums the counts of every attached registry per gateway (two registries may share a gateway id). */
function sumCounts(sources: ReadonlySet<T.RegistryTelemetrySource>): Map<string, GatewaySnapshot> {
  const sums = new Map<string, GatewaySnapshot>();
  for (const source of sources) {
    for (const [gatewayId, c] of source.gatewayCounts()) {
      const seen = sums.get(gatewayId);
      sums.set(
        gatewayId,
        seen === undefined
          ? c
          : {
              live: seen.live + c.live,
              creating: seen.creating + c.creating,
              queuedCreates: seen.queuedCreates + c.queuedCreates,
              consecutiveFailures: Math.max(seen.consecutiveFailures, c.consecutiveFailures),
              backoffRemainingMs: Math.max(seen.backoffRemainingMs, c.backoffRemainingMs),
            },
      );
    }
  }
  return sums;
}

/** What a gateway that vanished reports once. */
const ZERO: GatewaySnapshot = { live: 0, creating: 0, queuedCreates: 0, consecutiveFailures: 0, backoffRemainingMs: 0 };

/** The observable gauges, read together in one batch callback. */
interface Gauges {
  readonly sessions: ObservableGauge;
  readonly queue: ObservableGauge;
  readonly backoff: ObservableGauge;
}

/** Registers the gauges that read attached registries when a reader collects. */
export function observeSources(meter: Meter, sources: ReadonlySet<T.RegistryTelemetrySource>): void {
  const gauges: Gauges = {
    sessions: meter.createObservableGauge(METRIC.sessions, { description: 'Upstream sessions by gateway and state.', unit: '{session}' }),
    queue: meter.createObservableGauge(METRIC.createQueueDepth, { description: 'Creates waiting for a concurrency slot.', unit: '{create}' }),
    backoff: meter.createObservableGauge(METRIC.createBackoffRemaining, { description: 'Time left in the create backoff window.', unit: 's' }),
  };
  // A gateway that disappears (evicted, registry closed) reads 0 once: an SDK keeps
  // reporting the last value of a series it no longer sees, which would show ghosts.
  let reported = new Set<string>();
  meter.addBatchObservableCallback(
    (result) => {
      const sums = sumCounts(sources);
      for (const [gatewayId, c] of sums) observeGateway(result, gauges, gatewayId, c);
      for (const gatewayId of reported) if (!sums.has(gatewayId)) observeGateway(result, gauges, gatewayId, ZERO);
      reported = new Set(sums.keys());
    },
    [gauges.sessions, gauges.queue, gauges.backoff],
  );
}

/** Observes one gateway's counts on every gauge. */
function observeGateway(
  result: BatchObservableResult,
  gauges: Gauges,
  gatewayId: string,
  c: GatewaySnapshot,
): void {
  result.observe(gauges.sessions, c.live, { [ATTR.gatewayId]: gatewayId, [ATTR.state]: 'ready' });
  result.observe(gauges.sessions, c.creating, { [ATTR.gatewayId]: gatewayId, [ATTR.state]: 'creating' });
  result.observe(gauges.queue, c.queuedCreates, { [ATTR.gatewayId]: gatewayId });
  result.observe(gauges.backoff, c.backoffRemainingMs / 1000, { [ATTR.gatewayId]: gatewayId });
}
