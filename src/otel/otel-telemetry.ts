import {
  type Attributes,
  type Histogram,
  type Meter,
  type MeterProvider,
  SpanKind,
  type Tracer,
  type TracerProvider,
  context,
  metrics,
  trace,
} from '@opentelemetry/api';
import { InvalidOptionsError } from '../errors.js';
import type { RetireReason, SessionLostPolicy } from '../events.js';
import { assertKnownKeys } from '../internal/validate.js';
import type { SessionInfo } from '../session.js';
import { showValue } from '../show-value.js';
import type * as T from '../telemetry.js';
import { mcpSpanName, networkTransport, operationAttributes, sessionSpanAttributes, subjectAttributes } from './attributes.js';
import { observeSources } from './gauges.js';
import { type Instruments, createInstruments } from './instruments.js';
import { ATTR, INSTRUMENTATION_SCOPE, SPAN } from './names.js';
import { CloseAllSpan, ForwardSpan, OperationSpan, ProbeSpan, TimedSpan, parentContext } from './spans.js';
import { extractTraceContext } from './trace-context.js';

/** Options of {@link otelTelemetry}. */
export interface OtelTelemetryOptions {
  /** Where instruments are created. Default: the global meter provider (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider;
  /** Where spans are created. Default: the global tracer provider (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider;
}

/** The OpenTelemetry implementation of the registry's and the proxy's telemetry hooks. */
export interface OtelTelemetry extends T.RegistryTelemetry, T.ProxyTelemetry {}

/** Retirements that lose the upstream state: the session ended with an error. */
const INVOLUNTARY: ReadonlySet<RetireReason> = new Set(['lost', 'transport-error', 'probe-failed']);

class OtelTelemetryImpl implements OtelTelemetry {
  readonly #tracer: Tracer;
  readonly #i: Instruments;
  readonly #sources = new Set<T.RegistryTelemetrySource>();

  constructor(meter: Meter, tracer: Tracer) {
    this.#tracer = tracer;
    this.#i = createInstruments(meter);
    observeSources(meter, this.#sources);
  }

  attach(source: T.RegistryTelemetrySource): () => void {
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

  acquireStart(subject: T.TelemetrySubject): T.TelemetrySpan<T.AcquireOutcome> {
    const attributes = subjectAttributes(subject);
    return this.#timed(SPAN.acquire(subject.gatewayId), this.#i.acquire, attributes, attributes, undefined);
  }

  claimStart(parent?: T.TelemetrySpan<T.AcquireOutcome>): T.TelemetrySpan<T.ClaimOutcome> {
    return this.#timed(SPAN.claim, this.#i.claim, {}, {}, parent);
  }

  createStart(session: SessionInfo, parent?: T.TelemetrySpan<T.AcquireOutcome>): T.TelemetrySpan<T.CreateOutcome> {
    return this.#timed(SPAN.create(session.gatewayId), this.#i.create, subjectAttributes(session), sessionSpanAttributes(session), parent);
  }

  backoff(gatewayId: string, _consecutiveFailures: number, _backoffMs: number): void {
    this.#i.backoffs.add(1, { [ATTR.gatewayId]: gatewayId });
  }

  probeStart(session: SessionInfo, parent?: T.TelemetrySpan<T.AcquireOutcome>): T.ProbeTelemetrySpan {
    const timed = this.#timed<T.ProbeOutcome>(
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

  closeStart(session: SessionInfo): T.TelemetrySpan<T.ConnectionCloseOutcome> {
    return this.#timed(
      SPAN.close(session.gatewayId),
      this.#i.close,
      subjectAttributes(session),
      sessionSpanAttributes(session),
      undefined,
    );
  }

  closeAllStart(): T.CloseAllTelemetrySpan {
    return new CloseAllSpan(this.#timed<'ok'>(SPAN.closeAll, this.#i.closeAll, {}, {}, undefined), this.#i.orphans);
  }

  operationStart(op: T.McpOperation): T.McpOperationSpan {
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

  forwardStart(): T.ForwardTelemetrySpan {
    return new ForwardSpan(this.#timed<T.ForwardOutcome>(SPAN.forward, this.#i.forward, {}, {}, undefined, SpanKind.CLIENT));
  }
}

function traceHeaders(op: T.McpOperation): Record<string, string> {
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
  assertKnownKeys(options, KNOWN_OPTIONS);
  const { meterProvider, tracerProvider } = options as Record<string, unknown>;
  if (meterProvider !== undefined && typeof (meterProvider as MeterProvider).getMeter !== 'function') {
    throw new InvalidOptionsError('meterProvider', `expected a MeterProvider, got ${showValue(meterProvider)}`);
  }
  if (tracerProvider !== undefined && typeof (tracerProvider as TracerProvider).getTracer !== 'function') {
    throw new InvalidOptionsError('tracerProvider', `expected a TracerProvider, got ${showValue(tracerProvider)}`);
  }
  return options as OtelTelemetryOptions;
}

