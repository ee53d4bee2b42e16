/**
 * W3C Trace Context through an MCP proxy: read `traceparent`/`tracestate` from
 * a downstream request's `params._meta` (or its HTTP headers) and write the
 * current span's into the upstream request's `params._meta`, as the MCP
 * semantic conventions ask (unprefixed keys in `_meta`). Implemented on
 * `@opentelemetry/api` alone, so it works whatever propagator the app
 * configured (or none).
 *
 * @module
 */

import {
  type Context,
  type SpanContext,
  TraceFlags,
  context,
  createTraceState,
  isSpanContextValid,
  trace,
} from '@opentelemetry/api';

/** HTTP headers to read trace context from: a `Headers` or a Node-style header record (lower-case names). */
export type TraceHeaders = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

/** Where {@link extractTraceContext} looks for a remote parent, in this order. */
export interface TraceCarrier {
  /** The downstream request's `params._meta`. */
  readonly meta?: Readonly<Record<string, unknown>> | undefined;
  /** The downstream HTTP request's headers (`traceparent`, `tracestate`). */
  readonly headers?: TraceHeaders | undefined;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[^\s]*)?$/;
/** A tracestate longer than this is dropped rather than parsed (W3C: 32 members of at most 256 chars each). */
const MAX_TRACESTATE_LENGTH = 8192;

/**
 * Parses a W3C `traceparent` value into a remote span context; `undefined`
 * for anything that is not a valid one (wrong shape, version `ff`, all-zero ids).
 *
 * @example
 * ```ts
 * parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
 * // { traceId: '4bf9…', spanId: '00f0…', traceFlags: 1, isRemote: true }
 * ```
 */
export function parseTraceparent(value: unknown, tracestate?: unknown): SpanContext | undefined {
  if (typeof value !== 'string') return undefined;
  const match = TRACEPARENT.exec(value.trim());
  if (match === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [string, string, string, string, string, string?];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  const spanContext: SpanContext = {
    traceId,
    spanId,
    traceFlags: Number.parseInt(flags, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  };
  if (!isSpanContextValid(spanContext)) return undefined;
  if (typeof tracestate === 'string' && tracestate.length > 0 && tracestate.length <= MAX_TRACESTATE_LENGTH) {
    spanContext.traceState = createTraceState(tracestate);
  }
  return spanContext;
}

/** Formats a span context as a W3C `traceparent` value (version 00). */
export function formatTraceparent(spanContext: SpanContext): string {
  const flags = (spanContext.traceFlags & TraceFlags.SAMPLED).toString(16).padStart(2, '0');
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
}

function header(headers: TraceHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const value = (headers as Readonly<Record<string, string | readonly string[] | undefined>>)[name];
  if (typeof value === 'string') return value;
  // W3C: several traceparent headers make it invalid; several tracestate headers join with commas.
  if (Array.isArray(value)) return name === 'traceparent' ? (value.length === 1 ? value[0] : undefined) : value.join(',');
  return undefined;
}

/**
 * The remote parent a downstream request carries: its `params._meta`
 * `traceparent` (with `tracestate`) when valid, else its HTTP `traceparent`
 * header, else none. Returns `base` (default: the active context) with that
 * parent set, or `base` unchanged when there is none.
 *
 * @example
 * ```ts
 * const parent = extractTraceContext({ meta: request.params?._meta, headers: req.headers });
 * const span = tracer.startSpan('tools/call forecast', { kind: SpanKind.CLIENT }, parent);
 * ```
 */
export function extractTraceContext(carrier: TraceCarrier, base: Context = context.active()): Context {
  const remote = remoteParent(carrier);
  return remote === undefined ? base : trace.setSpanContext(base, remote);
}

function remoteParent(carrier: TraceCarrier): SpanContext | undefined {
  const meta = carrier.meta;
  if (meta !== undefined && meta !== null && typeof meta === 'object') {
    const fromMeta = parseTraceparent(meta.traceparent, meta.tracestate);
    if (fromMeta !== undefined) return fromMeta;
  }
  const headers = carrier.headers;
  if (headers === undefined || headers === null) return undefined;
  return parseTraceparent(header(headers, 'traceparent'), header(headers, 'tracestate'));
}

/**
 * Writes the span context of `ctx` (default: the active context) into an
 * upstream request's `params._meta` as `traceparent` and `tracestate`
 * (a stale `tracestate` is removed). Does nothing when `ctx` has no valid span
 * context, so a `traceparent` copied from the downstream request stays as it was.
 *
 * @example
 * ```ts
 * const meta = { ...request.params?._meta };
 * injectTraceContext(meta, trace.setSpan(context.active(), clientSpan));
 * await client.request({ method, params: { ...request.params, _meta: meta } }, ResultSchema);
 * ```
 */
export function injectTraceContext(meta: Record<string, unknown>, ctx: Context = context.active()): void {
  const spanContext = trace.getSpanContext(ctx);
  if (spanContext === undefined || !isSpanContextValid(spanContext)) return;
  meta.traceparent = formatTraceparent(spanContext);
  const state = spanContext.traceState?.serialize();
  if (state !== undefined && state.length > 0) meta.tracestate = state;
  else delete meta.tracestate;
}
