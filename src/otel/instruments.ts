import type { Histogram, Meter } from '@opentelemetry/api';
import { METRIC, OPERATION_BUCKETS, REGISTRY_BUCKETS, SESSION_BUCKETS } from './names.js';

/** Every synchronous instrument, created once per `otelTelemetry()`. */
export interface Instruments {
  readonly operation: Histogram;
  readonly session: Histogram;
  readonly acquire: Histogram;
  readonly create: Histogram;
  readonly probe: Histogram;
  readonly close: Histogram;
  readonly closeAll: Histogram;
  readonly claim: Histogram;
  readonly forward: Histogram;
  readonly retirements: ReturnType<Meter['createCounter']>;
  readonly losses: ReturnType<Meter['createCounter']>;
  readonly backoffs: ReturnType<Meter['createCounter']>;
  readonly orphans: ReturnType<Meter['createCounter']>;
}

/** A duration histogram in seconds, with bucket advice. */
function seconds(meter: Meter, name: string, description: string, buckets: number[]): Histogram {
  return meter.createHistogram(name, { description, unit: 's', advice: { explicitBucketBoundaries: buckets } });
}

/** Creates the instruments of {@link Instruments} on `meter`. */
export function createInstruments(meter: Meter): Instruments {
  return {
    operation: seconds(meter, METRIC.operationDuration, 'Duration of MCP requests sent upstream, until the answer.', OPERATION_BUCKETS),
    session: seconds(meter, METRIC.sessionDuration, 'Lifetime of upstream MCP client sessions, from create to retirement.', SESSION_BUCKETS),
    acquire: seconds(meter, METRIC.acquireDuration, 'Acquires that had to claim, create or probe (warm acquires are not measured).', REGISTRY_BUCKETS),
    create: seconds(meter, METRIC.createDuration, 'Creates of upstream sessions (connect and initialize).', REGISTRY_BUCKETS),
    probe: seconds(meter, METRIC.probeDuration, 'Health probes of sessions idle past idleValidationMs.', REGISTRY_BUCKETS),
    close: seconds(meter, METRIC.closeDuration, 'Closes of retired upstream connections.', REGISTRY_BUCKETS),
    closeAll: seconds(meter, METRIC.closeAllDuration, 'Duration of closeAll().', REGISTRY_BUCKETS),
    claim: seconds(meter, METRIC.claimDuration, 'Affinity ownership claims of downstream sessions.', REGISTRY_BUCKETS),
    forward: seconds(meter, METRIC.forwardDuration, 'Requests forwarded to the worker that owns their session.', REGISTRY_BUCKETS),
    retirements: meter.createCounter(METRIC.retirements, { description: 'Upstream sessions retired, by reason.', unit: '{session}' }),
    losses: meter.createCounter(METRIC.losses, { description: 'Upstream sessions whose state was lost.', unit: '{session}' }),
    backoffs: meter.createCounter(METRIC.createBackoffs, { description: 'Create backoff windows opened.', unit: '{window}' }),
    orphans: meter.createCounter(METRIC.closeAllOrphans, { description: 'Connections closeAll() stopped waiting for.', unit: '{session}' }),
  };
}
