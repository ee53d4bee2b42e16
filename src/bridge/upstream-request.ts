/**
 * Sending one forwarded request upstream: inside a client span when the bridge
 * has telemetry (its trace context goes in the upstream request's `_meta`), and
 * with the downstream caller's trace context passed on as it came when not.
 *
 * @module
 */

import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { type Result, ResultSchema } from '@modelcontextprotocol/sdk/types.js';
import type { SessionCreateRequest } from '../request.js';
import type { ProxyTelemetry } from '../telemetry.js';
import type { DownstreamExtra } from './session-bridge.js';

/** Params of a forwarded request. */
export type ForwardedParams = { _meta?: Record<string, unknown>; [key: string]: unknown } | undefined;

/** Sends `method` with `params` to the upstream; `target` names the tool or prompt, for the span name. */
export type SendUpstream = (method: string, params: ForwardedParams, target?: string) => Promise<Result>;

/** The one value of a header, as the SDK's `requestInfo.headers` has it. */
function header(extra: DownstreamExtra, name: string): string | undefined {
  const value = extra.requestInfo?.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The params with the downstream HTTP request's `traceparent` (and `tracestate`)
 * in `_meta` when `_meta` has none: MCP carries trace context in `_meta`, and a
 * client that only set the HTTP header should still reach the upstream's trace.
 */
function withHeaderTraceContext(params: ForwardedParams, extra: DownstreamExtra): ForwardedParams {
  const traceparent = header(extra, 'traceparent');
  if (traceparent === undefined || params?._meta?.traceparent !== undefined) return params;
  const tracestate = header(extra, 'tracestate');
  const meta: Record<string, unknown> = { ...params?._meta, traceparent };
  if (tracestate !== undefined) meta.tracestate = tracestate;
  return { ...params, _meta: meta };
}

/** The sender of one forwarded call on `client`. */
export function upstreamSender(
  client: Client,
  request: SessionCreateRequest,
  extra: DownstreamExtra,
  options: RequestOptions,
  telemetry: ProxyTelemetry | undefined,
): SendUpstream {
  if (telemetry === undefined) {
    return (method, params) => client.request({ method, params: withHeaderTraceContext(params, extra) }, ResultSchema, options);
  }
  return async (method, params, target) => {
    const traceparent = header(extra, 'traceparent');
    const tracestate = header(extra, 'tracestate');
    const span = telemetry.operationStart({
      gatewayId: request.gatewayId,
      transport: request.transport,
      method,
      ...(target !== undefined && { target }),
      ...(params?._meta !== undefined && { downstreamMeta: params._meta }),
      ...(traceparent !== undefined && { traceparent }),
      ...(tracestate !== undefined && { tracestate }),
    });
    // The upstream continues this span's trace, not the caller's directly.
    const meta: Record<string, unknown> = { ...params?._meta };
    span.inject(meta);
    try {
      const result = await client.request({ method, params: { ...params, _meta: meta } }, ResultSchema, options);
      span.end(undefined, method === 'tools/call' && result.isError === true);
      return result;
    } catch (error) {
      span.end(error);
      throw error;
    }
  };
}
