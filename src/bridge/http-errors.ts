/**
 * How registry errors reach a downstream client: as an HTTP response before the
 * MCP transport sees the request, or as a JSON-RPC error inside a response.
 *
 * @module
 */

import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { CreateFailedError, RegistryError, type RegistryErrorCode } from '../errors.js';

/** Log text of an error, safe to log; one implementation for the whole library. */
export { describeError } from '../redact.js';

/** A JSON-RPC error object (`error` member of an error response). */
export interface JsonRpcErrorObject {
  readonly code: number;
  readonly message: string;
  readonly data?: unknown;
}

/** An HTTP response for a request the proxy refuses before its MCP transport sees it. */
export interface HttpErrorResponse {
  readonly status: number;
  /** Lower-case header names, e.g. `retry-after`. */
  readonly headers: Readonly<Record<string, string>>;
  /** A JSON-RPC error response with `id: null`; send it as `application/json`. */
  readonly body: { readonly jsonrpc: '2.0'; readonly id: null; readonly error: JsonRpcErrorObject };
}

/** Options of {@link httpStatusForError}. */
export interface HttpErrorOptions {
  /** `Retry-After` seconds for 503 answers (capacity, closing registry). Default 5. */
  retryAfterSeconds?: number;
}

/** JSON-RPC code the bridge uses for registry errors (implementation-defined server error range). */
export const REGISTRY_ERROR_JSONRPC_CODE = -32000;
/** JSON-RPC code of "Session not found", as the SDK's server transports use it with HTTP 404. */
export const SESSION_NOT_FOUND_JSONRPC_CODE = -32001;

const DEFAULT_RETRY_AFTER_SECONDS = 5;

interface Mapping {
  readonly status: number;
  readonly retry: boolean;
  readonly message: string;
}

/**
 * Client-facing messages are fixed per code: an error's own message can name
 * infrastructure (Redis, worker addresses, upstream URLs), so it stays in the log.
 */
const MAPPINGS: Readonly<Record<RegistryErrorCode, Mapping>> = {
  ERR_SESSION_LOST: { status: 404, retry: false, message: 'Session not found' },
  ERR_CAPACITY: { status: 503, retry: true, message: 'Server at capacity, retry later' },
  ERR_REGISTRY_CLOSED: { status: 503, retry: true, message: 'Server shutting down, retry later' },
  ERR_AFFINITY_UNAVAILABLE: { status: 503, retry: true, message: 'Session ownership unavailable, retry later' },
  ERR_SESSION_RETIRED: { status: 503, retry: true, message: 'Upstream session replaced, retry' },
  ERR_NOT_OWNER: { status: 421, retry: false, message: 'This session is served by another worker' },
  ERR_CREATE_FAILED: { status: 502, retry: false, message: 'Upstream server unavailable' },
  ERR_INVALID_REQUEST: { status: 500, retry: false, message: 'Proxy configuration error' },
  ERR_INVALID_OPTIONS: { status: 500, retry: false, message: 'Proxy configuration error' },
};
const UNKNOWN_CODE: Mapping = { status: 500, retry: false, message: 'Internal error' };

function retryAfter(options: HttpErrorOptions | undefined): string {
  const seconds = options?.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
  return String(Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds) : DEFAULT_RETRY_AFTER_SECONDS);
}

/**
 * The HTTP answer for a registry error met before the MCP transport handled the
 * request, with a short fixed message per code (log the error itself for details): `SessionLostError` → 404 (the client re-initializes),
 * `CapacityError`, `RegistryClosedError`, `AffinityUnavailableError`,
 * `SessionRetiredError` → 503 with `Retry-After`, `NotOwnerError` → 421 (when
 * the proxy does not forward to the owner), `CreateFailedError` → 502, or 503
 * with `Retry-After` (the remaining window, in seconds rounded up) when it was
 * refused during the gateway's create backoff (`retryAfterMs` set),
 * invalid configuration → 500. Returns `undefined` for anything that is not a
 * `RegistryError`.
 *
 * @example
 * ```ts
 * const answer = httpStatusForError(error);
 * if (answer) return res.status(answer.status).set(answer.headers).json(answer.body);
 * ```
 */
export function httpStatusForError(error: unknown, options?: HttpErrorOptions): HttpErrorResponse | undefined {
  if (!(error instanceof RegistryError)) return undefined;
  const backingOff = backoffRetryAfterMs(error);
  if (backingOff !== undefined) {
    return responseFor(error.code, CREATE_BACKING_OFF, { retryAfterSeconds: Math.max(1, Math.ceil(backingOff / 1000)) });
  }
  return responseFor(error.code, MAPPINGS[error.code] ?? UNKNOWN_CODE, options);
}

/** A create refused during the gateway's backoff: 503 with the time left as `Retry-After`. */
const CREATE_BACKING_OFF: Mapping = { status: 503, retry: true, message: 'Upstream server unavailable, retry later' };

/** The remaining backoff window of a `CreateFailedError` refused during backoff, if it is one. */
function backoffRetryAfterMs(error: RegistryError): number | undefined {
  if (!(error instanceof CreateFailedError)) return undefined;
  const ms = error.retryAfterMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

function responseFor(code: RegistryErrorCode, mapping: Mapping, options: HttpErrorOptions | undefined): HttpErrorResponse {
  const headers: Record<string, string> = mapping.retry ? { 'retry-after': retryAfter(options) } : {};
  const jsonRpcCode = mapping.status === 404 ? SESSION_NOT_FOUND_JSONRPC_CODE : REGISTRY_ERROR_JSONRPC_CODE;
  return Object.freeze({
    status: mapping.status,
    headers: Object.freeze(headers),
    body: Object.freeze({
      jsonrpc: '2.0' as const,
      id: null,
      error: Object.freeze({ code: jsonRpcCode, message: mapping.message, data: Object.freeze({ code }) }),
    }),
  });
}

/** @internal The 503 of a downstream session table at its `maxSessions` (`data.code` `ERR_CAPACITY`). */
export function downstreamCapacityResponse(options?: HttpErrorOptions): HttpErrorResponse {
  return responseFor('ERR_CAPACITY', MAPPINGS.ERR_CAPACITY, options);
}

/** The message an upstream sent, without the `MCP error <code>: ` prefix the SDK client adds. */
function upstreamMessage(error: McpError): string {
  const prefix = `MCP error ${error.code}: `;
  return error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
}

/**
 * The error a bridge handler throws so that the downstream client receives it:
 * an upstream JSON-RPC error (`McpError`) keeps its code, message and data; a
 * `RegistryError` becomes code -32000 (-32001 for a lost session) with
 * `data.code` set to its stable code (and `data.retryAfterSeconds` when retrying
 * makes sense); anything else (a network failure, an HTTP error of the
 * upstream) becomes a fixed internal error, `data.code` `ERR_UPSTREAM_FAILED`:
 * its own message may name hosts or carry an upstream body, so log it instead.
 */
export function toJsonRpcError(error: unknown, options?: HttpErrorOptions): JsonRpcErrorObject {
  if (error instanceof McpError) {
    return { code: error.code, message: upstreamMessage(error), ...(error.data !== undefined && { data: error.data }) };
  }
  const http = httpStatusForError(error, options);
  if (http) {
    const retry = http.headers['retry-after'];
    const data = retry === undefined ? http.body.error.data : { code: (error as RegistryError).code, retryAfterSeconds: Number(retry) };
    return { code: http.body.error.code, message: http.body.error.message, data };
  }
  return UPSTREAM_FAILED;
}

/** What the client sees for an error that is neither an upstream answer nor a registry error (log `describeError` of it). */
const UPSTREAM_FAILED: JsonRpcErrorObject = Object.freeze({
  code: ErrorCode.InternalError,
  message: 'Upstream request failed',
  data: Object.freeze({ code: 'ERR_UPSTREAM_FAILED' }),
});


/** An `Error` carrying a JSON-RPC error object; the SDK's protocol layer sends its `code`, `message` and `data` as they are. */
export class ForwardedJsonRpcError extends Error {
  readonly code: number;
  readonly data: unknown;

  constructor(error: JsonRpcErrorObject) {
    super(error.message);
    this.name = 'ForwardedJsonRpcError';
    this.code = error.code;
    this.data = error.data;
  }
}
