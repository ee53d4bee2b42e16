import { type Attributes, type Context, type Histogram, type Span, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { redactText } from '../redact.js';
import type * as T from '../telemetry.js';
import { errorType } from './error-type.js';
import type { Instruments } from './instruments.js';
import { ATTR } from './names.js';
import { injectTraceContext } from './trace-context.js';

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

/** Monotonic milliseconds where the runtime has them. */
const now: () => number =
  typeof globalThis.performance?.now === 'function' ? () => globalThis.performance.now() : () => Date.now();

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
export class TimedSpan<O extends string> implements T.TelemetrySpan<O> {
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
export function parentContext(parent: unknown): Context {
  const active = context.active();
  return parent instanceof TimedSpan ? trace.setSpan(active, parent.span) : active;
}

/** Longest span status description kept. */
const MAX_STATUS_MESSAGE = 256;

/**
 * The span status description: the error's message (as the conventions ask for
 * JSON-RPC errors) with URL credentials and query strings removed and cut short,
 * else `error.type`.
 */
function statusMessage(error: unknown, type: string): string {
  if (!(error instanceof Error) || error.message === '') return type;
  const message = redactText(error.message);
  return message.length > MAX_STATUS_MESSAGE ? `${message.slice(0, MAX_STATUS_MESSAGE)}…` : message;
}

/** The MCP client span of one forwarded operation; records `mcp.client.operation.duration` when ended. */
export class OperationSpan implements T.McpOperationSpan {
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
      // JSON-RPC error codes are negative; a positive `code` is an HTTP status (already in error.type).
      if (typeof code === 'number' && code < 0) this.#span.setAttribute(ATTR.rpcResponseStatusCode, String(code));
      this.#span.setStatus({ code: SpanStatusCode.ERROR, message: statusMessage(error, type) });
    }
    this.#histogram.record((now() - this.#started) / 1000, attributes);
    this.#span.end();
  }
}

/** A probe's handle: a timed span that also records the deciding step. */
export class ProbeSpan implements T.ProbeTelemetrySpan {
  readonly #timed: TimedSpan<T.ProbeOutcome>;

  constructor(timed: TimedSpan<T.ProbeOutcome>) {
    this.#timed = timed;
  }

  end(outcome: T.ProbeOutcome, step: string, error?: unknown): void {
    this.#timed.end(outcome, error, { [ATTR.probeStep]: step });
  }
}

/** A forward's handle: a timed span that also records the HTTP status. */
export class ForwardSpan implements T.ForwardTelemetrySpan {
  readonly #timed: TimedSpan<T.ForwardOutcome>;

  constructor(timed: TimedSpan<T.ForwardOutcome>) {
    this.#timed = timed;
  }

  end(outcome: T.ForwardOutcome, status?: number, error?: unknown): void {
    this.#timed.end(outcome, error, status === undefined ? undefined : { [ATTR.httpResponseStatusCode]: status });
  }
}

/** `closeAll()`'s handle: a timed span that also counts the orphans. */
export class CloseAllSpan implements T.CloseAllTelemetrySpan {
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
