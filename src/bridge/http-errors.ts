/**
 * How registry errors reach a downstream client: as an HTTP response before the
 * MCP transport sees the request, or as a JSON-RPC error inside a response.
 *
 * @module
 */

import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { RegistryError, type RegistryErrorCode } from '../errors.js';
import { redactText } from '../redact.js';

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
const MAX_MESSAGE = 500;

interface Mapping {
  readonly status: number;
  readonly retry: boolean;
  readonly message?: string;
}

const MAPPINGS: Readonly<Record<RegistryErrorCode, Mapping>> = {
  ERR_SESSION_LOST: { status: 404, retry: false, message: 'Session not found' },
  ERR_CAPACITY: { status: 503, retry: true },
  ERR_REGISTRY_CLOSED: { status: 503, retry: true },
  ERR_AFFINITY_UNAVAILABLE: { status: 503, retry: true },
  ERR_SESSION_RETIRED: { status: 503, retry: true },
  // The owner's address is internal: never tell the client.
  ERR_NOT_OWNER: { status: 421, retry: false, message: 'This session is served by another worker' },
  ERR_CREATE_FAILED: { status: 502, retry: false },
  ERR_INVALID_REQUEST: { status: 500, retry: false },
  ERR_INVALID_OPTIONS: { status: 500, retry: false },
};

function retryAfter(options: HttpErrorOptions | undefined): string {
  const seconds = options?.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
  return String(Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds) : DEFAULT_RETRY_AFTER_SECONDS);
}

/**
 * The HTTP answer for a registry error met before the MCP transport handled the
 * request: `SessionLostError` → 404 (the client re-initializes),
 * `CapacityError`, `RegistryClosedError`, `AffinityUnavailableError`,
 * `SessionRetiredError` → 503 with `Retry-After`, `NotOwnerError` → 421 (when
 * the proxy does not forward to the owner), `CreateFailedError` → 502,
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
  const mapping = MAPPINGS[error.code] ?? { status: 500, retry: false };
  const headers: Record<string, string> = mapping.retry ? { 'retry-after': retryAfter(options) } : {};
  const code = mapping.status === 404 ? SESSION_NOT_FOUND_JSONRPC_CODE : REGISTRY_ERROR_JSONRPC_CODE;
  return Object.freeze({
    status: mapping.status,
    headers: Object.freeze(headers),
    body: Object.freeze({
      jsonrpc: '2.0' as const,
      id: null,
      error: Object.freeze({ code, message: mapping.message ?? error.message, data: { code: error.code } }),
    }),
  });
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
 * makes sense); anything else becomes an internal error with a redacted message.
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
  const text = error instanceof Error ? error.message : String(error);
  return { code: ErrorCode.InternalError, message: redactText(text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text) };
}


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
