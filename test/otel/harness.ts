import type { Attributes } from '@opentelemetry/api';
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  MeterProvider,
  MetricReader,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { otelTelemetry } from '../../src/otel/index.js';

/** A pull reader: `collect()` when the test wants to read. */
class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** otelTelemetry on an SDK meter provider and tracer provider with in-memory readers. */
export function otelHarness() {
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const telemetry = otelTelemetry({ meterProvider, tracerProvider });

  async function metrics(): Promise<MetricData[]> {
    const { resourceMetrics, errors } = await reader.collect();
    if (errors.length > 0) throw errors[0];
    return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  }

  /** The data points of one instrument. */
  async function points(name: string): Promise<DataPoint<unknown>[]> {
    const metric = (await metrics()).find((m) => m.descriptor.name === name);
    return (metric?.dataPoints ?? []) as DataPoint<unknown>[];
  }

  /** The one data point of `name` whose attributes include `match`. */
  async function point(name: string, match: Attributes): Promise<DataPoint<unknown> | undefined> {
    return (await points(name)).find((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v));
  }

  function spans(): ReadableSpan[] {
    return exporter.getFinishedSpans();
  }

  function span(name: string): ReadableSpan {
    const found = spans().find((s) => s.name === name);
    if (found === undefined) throw new Error(`no span ${name}; have ${spans().map((s) => s.name).join(', ')}`);
    return found;
  }

  async function shutdown(): Promise<void> {
    await Promise.all([meterProvider.shutdown(), tracerProvider.shutdown()]);
  }

  return { telemetry, metrics, points, point, spans, span, shutdown };
}

/** The count of a histogram data point. */
export function countOf(p: DataPoint<unknown> | undefined): number {
  return (p?.value as Histogram | undefined)?.count ?? 0;
}
