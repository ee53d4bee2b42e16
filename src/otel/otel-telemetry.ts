import {
  type Attributes,
  type Context,
  type Histogram,
  type Meter,
  type MeterProvider,
  type ObservableGauge,
  type BatchObservableResult,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  context,
  metrics,
  trace,
} from '@opentelemetry/api';
import { InvalidOptionsError } from '../errors.js';
import type { RetireReason, SessionLostPolicy } from '../events.js';
import { showValue } from '../show-value.js';
import type { TransportType } from '../request.js';
import type { SessionInfo } from '../session.js';
import type { GatewaySnapshot } from '../snapshot.js';
import type {
  AcquireOutcome,
  ClaimOutcome,
  CloseAllTelemetrySpan,
  ConnectionCloseOutcome,
  CreateOutcome,
  ForwardOutcome,
  ForwardTelemetrySpan,
  McpOperation,
  McpOperationSpan,
  ProbeOutcome,
  ProbeTelemetrySpan,
  ProxyTelemetry,
  RegistryTelemetry,
  RegistryTelemetrySource,
  TelemetrySpan,
  TelemetrySubject,
} from '../telemetry.js';
import { errorType } from './error-type.js';
import {
  ATTR,
  INSTRUMENTATION_SCOPE,
  METRIC,
  OPERATION_BUCKETS,
  REGISTRY_BUCKETS,
  SESSION_BUCKETS,
  SPAN,
} from './names.js';
import { extractTraceContext, injectTraceContext } from './trace-context.js';

/** Options of {@link otelTelemetry}. */
export interface OtelTelemetryOptions {
  /** Where instruments are created. Default: the global meter provider (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider;
  /** Where spans are created. Default: the global tracer provider (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider;
}

/** The OpenTelemetry implementation of the registry's and the proxy's telemetry hooks. */
export interface OtelTelemetry extends RegistryTelemetry, ProxyTelemetry {}

/** Retirements that lose the upstream state: the session ended with an error. */
const INVOLUNTARY: ReadonlySet<RetireReason> = new Set(['lost', 'transport-error', 'probe-failed']);
/** Outcomes that mark a span as failed. */
const FAILED: ReadonlySet<string> = new Set([
  'error',
  'timeout',
  'backoff',
  'unhealthy',
  'orphaned',
  'not-owner',
  'unavailable',
  'refused',
]);

const now: () => number =
  typeof globalThis.performance?.now === 'function' ? () => globalThis.performance.now() : () => Date.now();

/** `network.transport` of an MCP transport: `pipe` for stdio, `tcp` for the HTTP ones. */
function networkTransport(transport: TransportType | string): string {
  return transport === 'stdio' ? 'pipe' : 'tcp';
}

function subjectAttributes(subject: TelemetrySubject): Attributes {
  return {
    [ATTR.gatewayId]: subject.gatewayId,
    [ATTR.transport]: subject.transport,
    [ATTR.networkTransport]: networkTransport(subject.transport),
  };
}

/** Span attributes of one upstream session: the subject plus its connection number, never the downstream id. */
function sessionSpanAttributes(session: SessionInfo): Attributes {
  return { ...subjectAttributes(session), [ATTR.connectionId]: session.connectionId };
}

interface Instruments {
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

function seconds(meter: Meter, name: string, description: string, buckets: number[]): Histogram {
  return meter.createHistogram(name, { description, unit: 's', advice: { explicitBucketBoundaries: buckets } });
}

function createInstruments(meter: Meter): Instruments {
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

/** `error.type` of a failed hook: from the error, else the failure outcome itself; `undefined` on success. */
function failureType(outcome: string, error: unknown): string | undefined {
  if (error !== undefined) return errorType(error);
  return FAILED.has(outcome) ? outcome : undefined;
}

/** Ends `span` with `outcome`, marking it failed (with `error.type`) when the outcome is a failure. */
function finishSpan(span: Span, outcome: string, error: unknown, extra?: Attributes): void {
  span.setAttribute(ATTR.outcome, outcome);
  if (extra !== undefined) span.setAttributes(extra);
  const type = failureType(outcome, error);
  if (type !== undefined) {
    span.setAttribute(ATTR.errorType, type);
    span.setStatus({ code: SpanStatusCode.ERROR, message: type });
  }
  span.end();
}

/**
 * One timed hook: a span plus a start time; `end` records the histogram with
 * the base attributes, the outcome and (on failure) `error.type`.
 */
class TimedSpan<O extends string> implements TelemetrySpan<O> {
  readonly span: Span;
  readonly #started = now();
  readonly #histogram: Histogram;
  readonly #attributes: Attributes;
  #ended = false;

  constructor(span: Span, histogram: Histogram, attributes: Attributes) {
    this.span = span;
    this.#histogram = histogram;
    this.#attributes = attributes;
  }

  end(outcome: O, error?: unknown, extra?: Attributes): void {
    if (this.#ended) return;
    this.#ended = true;
    const attributes: Attributes = { ...this.#attributes, ...extra, [ATTR.outcome]: outcome };
    const type = failureType(outcome, error);
    if (type !== undefined) attributes[ATTR.errorType] = type;
    this.#histogram.record((now() - this.#started) / 1000, attributes);
    finishSpan(this.span, outcome, error, extra);
  }
}

/** The active context with `parent`'s span set, when `parent` is one of ours. */
function parentContext(parent: unknown): Context {
  const active = context.active();
  return parent instanceof TimedSpan ? trace.setSpan(active, parent.span) : active;
}

/** Sums the counts of every attached registry per gateway (two registries may share a gateway id). */
function sumCounts(sources: ReadonlySet<RegistryTelemetrySource>): Map<string, GatewaySnapshot> {
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

const ZERO: GatewaySnapshot = { live: 0, creating: 0, queuedCreates: 0, consecutiveFailures: 0, backoffRemainingMs: 0 };

interface Gauges {
  readonly sessions: ObservableGauge;
  readonly queue: ObservableGauge;
  readonly backoff: ObservableGauge;
}

/** Registers the gauges that read attached registries when a reader collects. */
function observeSources(meter: Meter, sources: ReadonlySet<RegistryTelemetrySource>): void {
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

/** `{mcp.method.name} {target}`, or the method alone when there is no low-cardinality target. */
export function mcpSpanName(method: string, target?: string): string {
  return target === undefined || target === '' ? method : `${method} ${target}`;
}

/** Attributes of an MCP client operation, shared by its span and its `mcp.client.operation.duration` point. */
function operationAttributes(op: McpOperation): Attributes {
  const attributes: Attributes = {
    [ATTR.mcpMethodName]: op.method,
    [ATTR.networkTransport]: networkTransport(op.transport),
    [ATTR.gatewayId]: op.gatewayId,
  };
  if (op.target !== undefined && op.target !== '') {
    if (op.method === 'tools/call') attributes[ATTR.genAiToolName] = op.target;
    else if (op.method === 'prompts/get') attributes[ATTR.genAiPromptName] = op.target;
  }
  return attributes;
}

class OperationSpan implements McpOperationSpan {
  readonly #span: Span;
  readonly #context: Context;
  readonly #histogram: Histogram;
  readonly #attributes: Attributes;
  readonly #started = now();
  #ended = false;

  constructor(span: Span, parent: Context, histogram: Histogram, attributes: Attributes) {
    this.#span = span;
    this.#context = trace.setSpan(parent, span);
    this.#histogram = histogram;
    this.#attributes = attributes;
  }

  inject(meta: Record<string, unknown>): void {
    injectTraceContext(meta, this.#context);
  }

  end(error?: unknown, toolError?: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    const attributes: Attributes = { ...this.#attributes };
    const type = error !== undefined ? errorType(error) : toolError === true ? 'tool_error' : undefined;
    if (type !== undefined) {
      attributes[ATTR.errorType] = type;
      this.#span.setAttribute(ATTR.errorType, type);
      const code = (error as { code?: unknown } | undefined)?.code;
      if (typeof code === 'number') this.#span.setAttribute(ATTR.rpcResponseStatusCode, String(code));
      const message = error instanceof Error ? error.message : type;
      this.#span.setStatus({ code: SpanStatusCode.ERROR, message: type === 'tool_error' ? type : message });
    }
    this.#histogram.record((now() - this.#started) / 1000, attributes);
    this.#span.end();
  }
}

class ProbeSpan implements ProbeTelemetrySpan {
  readonly #timed: TimedSpan<ProbeOutcome>;

  constructor(timed: TimedSpan<ProbeOutcome>) {
    this.#timed = timed;
  }

  end(outcome: ProbeOutcome, step: string, error?: unknown): void {
    this.#timed.end(outcome, error, { [ATTR.probeStep]: step });
  }
}

class ForwardSpan implements ForwardTelemetrySpan {
  readonly #timed: TimedSpan<ForwardOutcome>;

  constructor(timed: TimedSpan<ForwardOutcome>) {
    this.#timed = timed;
  }

  end(outcome: ForwardOutcome, status?: number, error?: unknown): void {
    this.#timed.end(outcome, error, status === undefined ? undefined : { [ATTR.httpResponseStatusCode]: status });
  }
}

class CloseAllSpan implements CloseAllTelemetrySpan {
  readonly #timed: TimedSpan<'ok'>;
  readonly #orphans: Instruments['orphans'];

  constructor(timed: TimedSpan<'ok'>, orphans: Instruments['orphans']) {
    this.#timed = timed;
    this.#orphans = orphans;
  }

  end(orphans: number): void {
    if (orphans > 0) this.#orphans.add(orphans);
    this.#timed.end('ok', undefined, { [ATTR.orphans]: orphans });
  }
}

class OtelTelemetryImpl implements OtelTelemetry {
  readonly #tracer: Tracer;
  readonly #i: Instruments;
  readonly #sources = new Set<RegistryTelemetrySource>();

  constructor(meter: Meter, tracer: Tracer) {
    this.#tracer = tracer;
    this.#i = createInstruments(meter);
    observeSources(meter, this.#sources);
  }

  attach(source: RegistryTelemetrySource): () => void {
    this.#sources.add(source);
    return () => {
      this.#sources.delete(source);
    };
  }

  #timed<O extends string>(
    name: string,
    histogram: Histogram,
    metricAttributes: Attributes,
    spanAttributes: Attributes,
    parent: unknown,
    kind: SpanKind = SpanKind.INTERNAL,
  ): TimedSpan<O> {
    const span = this.#tracer.startSpan(name, { kind, attributes: spanAttributes }, parentContext(parent));
    return new TimedSpan<O>(span, histogram, metricAttributes);
  }

  acquireStart(subject: TelemetrySubject): TelemetrySpan<AcquireOutcome> {
    const attributes = subjectAttributes(subject);
    return this.#timed(SPAN.acquire(subject.gatewayId), this.#i.acquire, attributes, attributes, undefined);
  }

  claimStart(parent?: TelemetrySpan<AcquireOutcome>): TelemetrySpan<ClaimOutcome> {
    return this.#timed(SPAN.claim, this.#i.claim, {}, {}, parent);
  }

  createStart(session: SessionInfo, parent?: TelemetrySpan<AcquireOutcome>): TelemetrySpan<CreateOutcome> {
    return this.#timed(SPAN.create(session.gatewayId), this.#i.create, subjectAttributes(session), sessionSpanAttributes(session), parent);
  }

  backoff(gatewayId: string, _consecutiveFailures: number, _backoffMs: number): void {
    this.#i.backoffs.add(1, { [ATTR.gatewayId]: gatewayId });
  }

  probeStart(session: SessionInfo, parent?: TelemetrySpan<AcquireOutcome>): ProbeTelemetrySpan {
    const timed = this.#timed<ProbeOutcome>(
      SPAN.probe(session.gatewayId),
      this.#i.probe,
      subjectAttributes(session),
      sessionSpanAttributes(session),
      parent,
    );
    return new ProbeSpan(timed);
  }

  retired(session: SessionInfo, reason: RetireReason, lifetimeMs: number): void {
    const attributes = subjectAttributes(session);
    attributes[ATTR.retireReason] = reason;
    this.#i.retirements.add(1, attributes);
    const sessionAttributes: Attributes = {
      [ATTR.gatewayId]: session.gatewayId,
      [ATTR.networkTransport]: networkTransport(session.transport),
      [ATTR.retireReason]: reason,
    };
    if (INVOLUNTARY.has(reason)) sessionAttributes[ATTR.errorType] = reason;
    this.#i.session.record(Math.max(0, lifetimeMs) / 1000, sessionAttributes);
  }

  lost(session: SessionInfo, reason: RetireReason, policy: SessionLostPolicy): void {
    this.#i.losses.add(1, { [ATTR.gatewayId]: session.gatewayId, [ATTR.retireReason]: reason, [ATTR.lostPolicy]: policy });
  }

  closeStart(session: SessionInfo): TelemetrySpan<ConnectionCloseOutcome> {
    return this.#timed(
      SPAN.close(session.gatewayId),
      this.#i.close,
      subjectAttributes(session),
      sessionSpanAttributes(session),
      undefined,
    );
  }

  closeAllStart(): CloseAllTelemetrySpan {
    return new CloseAllSpan(this.#timed<'ok'>(SPAN.closeAll, this.#i.closeAll, {}, {}, undefined), this.#i.orphans);
  }

  operationStart(op: McpOperation): McpOperationSpan {
    const parent = extractTraceContext(
      { meta: op.downstreamMeta, headers: op.traceparent === undefined ? undefined : traceHeaders(op) },
      context.active(),
    );
    const attributes = operationAttributes(op);
    const spanAttributes: Attributes = { ...attributes, [ATTR.transport]: op.transport };
    if (op.transport !== 'stdio') spanAttributes[ATTR.networkProtocolName] = 'http';
    if (op.method === 'tools/call') spanAttributes[ATTR.genAiOperationName] = 'execute_tool';
    const span = this.#tracer.startSpan(
      mcpSpanName(op.method, op.target),
      { kind: SpanKind.CLIENT, attributes: spanAttributes },
      parent,
    );
    return new OperationSpan(span, parent, this.#i.operation, attributes);
  }

  forwardStart(): ForwardTelemetrySpan {
    return new ForwardSpan(this.#timed<ForwardOutcome>(SPAN.forward, this.#i.forward, {}, {}, undefined, SpanKind.CLIENT));
  }
}

function traceHeaders(op: McpOperation): Record<string, string> {
  const headers: Record<string, string> = { traceparent: op.traceparent as string };
  if (op.tracestate !== undefined) headers.tracestate = op.tracestate;
  return headers;
}

/**
 * OpenTelemetry metrics and traces for the registry, the session bridge and
 * `forwardToOwner`, through `@opentelemetry/api` only: the app brings the SDK
 * and its exporters. With no provider registered the API's no-op instruments
 * are used, so the cost is a few no-op calls on slow paths only.
 *
 * Instruments, spans and attributes are listed in `docs/observability.md`.
 * No metric attribute ever holds a downstream session id or a header value.
 *
 * @example
 * ```ts
 * import { otelTelemetry } from 'mcp-upstream-registry/otel';
 * const telemetry = otelTelemetry(); // global providers, set up by the app's OTel SDK
 * const registry = new UpstreamSessionRegistry({ telemetry });
 * ```
 */
export function otelTelemetry(options?: OtelTelemetryOptions): OtelTelemetry {
  const { meterProvider, tracerProvider } = validateOptions(options);
  return new OtelTelemetryImpl(
    (meterProvider ?? metrics.getMeterProvider()).getMeter(INSTRUMENTATION_SCOPE),
    (tracerProvider ?? trace.getTracerProvider()).getTracer(INSTRUMENTATION_SCOPE),
  );
}

const KNOWN_OPTIONS: ReadonlySet<string> = new Set(['meterProvider', 'tracerProvider']);

/** Throws `InvalidOptionsError` for an unknown key or a provider without its factory method. */
function validateOptions(options: unknown): OtelTelemetryOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionsError('options', `expected an object, got ${showValue(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw new InvalidOptionsError(key, 'unknown option');
  }
  const { meterProvider, tracerProvider } = options as Record<string, unknown>;
  if (meterProvider !== undefined && typeof (meterProvider as MeterProvider).getMeter !== 'function') {
    throw new InvalidOptionsError('meterProvider', `expected a MeterProvider, got ${showValue(meterProvider)}`);
  }
  if (tracerProvider !== undefined && typeof (tracerProvider as TracerProvider).getTracer !== 'function') {
    throw new InvalidOptionsError('tracerProvider', `expected a TracerProvider, got ${showValue(tracerProvider)}`);
  }
  return options as OtelTelemetryOptions;
}

