/**
 * Error classification: decides what an error from an upstream call means for
 * the connection it came from. The registry retires a connection on
 * `'transport'`, the probe chain advances on `'method-not-found'` and
 * `'timeout'`, and `'application'` errors are handed back to the caller
 * untouched.
 *
 * Every check is duck-typed (`name`, `code`, message shape) rather than
 * `instanceof`, because an application can end up with two copies of
 * `@modelcontextprotocol/sdk` (or of this library) and the classes of one copy
 * are not the classes of the other.
 *
 * @module
 */

/**
 * What an error means for the upstream connection it came from.
 *
 * - `'transport'`: there is evidence the connection (or the upstream session) is dead; replace it.
 * - `'method-not-found'`: the upstream does not implement the method; the connection is fine.
 * - `'timeout'`: no answer in time; says nothing certain about the connection.
 * - `'application'`: the upstream answered (a JSON-RPC error of any code, an
 *   HTTP error status other than 404), or anything else; the connection is fine.
 */
export type ErrorClass = 'transport' | 'method-not-found' | 'timeout' | 'application';

// JSON-RPC / MCP error codes, as in the SDK's `ErrorCode` enum.
const MCP_CONNECTION_CLOSED = -32000;
const MCP_REQUEST_TIMEOUT = -32001;
const MCP_METHOD_NOT_FOUND = -32601;

/**
 * The message of the SDK's own ConnectionClosed, made locally when its
 * transport closes. -32000 is also the first code of the server-defined range
 * (-32000 to -32099), so an upstream that *answers* -32000 is not this.
 */
const SDK_CONNECTION_CLOSED_MESSAGE = `MCP error ${MCP_CONNECTION_CLOSED}: Connection closed`;

/** Marks errors this library made locally because a connection died (any copy of the library). */
const LOCAL_TRANSPORT_BRAND: symbol = Symbol.for('mcp-upstream-registry.localTransportError');

/** Marks 404 answers to requests without an upstream session id (see `markNotFoundWithoutSession`). */
const NO_SESSION_BRAND: symbol = Symbol.for('mcp-upstream-registry.notFoundWithoutSession');

/** HTTP 404 is the one status that says the upstream session is gone; any other status is an answer from a live server. */
const SESSION_GONE_HTTP_STATUS = 404;
const TIMEOUT_HTTP_STATUSES: ReadonlySet<number> = new Set([408]);

/**
 * Error codes of connection-level failures: Node.js system errors, undici
 * (Node's fetch), and Bun's fetch.
 */
const TRANSPORT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'UND_ERR_CONNECT_TIMEOUT',
  'ConnectionRefused',
  'ConnectionClosed',
  'FailedToOpenSocket',
]);

/** undici timeouts on a connection that did connect: the request was slow, the socket was not dead. */
const TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** Messages of `TypeError`s that fetch implementations throw on network failure (Node/undici, Chrome, Firefox, Safari). */
const FETCH_FAILURE_MESSAGES: ReadonlySet<string> = new Set([
  'fetch failed',
  'Failed to fetch',
  'NetworkError when attempting to fetch resource.',
  'Load failed',
  'network error',
]);

// The SDK client's local capability check: `Server does not support tools (required for tools/list)`.
const NOT_ADVERTISED = /^Server does not support .+ \(required for .+\)$/;

const STREAMABLE_HTTP_PREFIX = 'Streamable HTTP error: ';
const SSE_PREFIX = 'SSE error: ';

// Bounds the walk down `cause` chains and AggregateError lists, which may be cyclic.
const MAX_CAUSE_DEPTH = 5;

/**
 * Classifies an error from an upstream MCP call.
 *
 * An answer is evidence that the upstream is alive: only evidence of loss
 * (a dead connection, the upstream saying it forgot the session) is `'transport'`.
 *
 * | Error | Class |
 * | --- | --- |
 * | `McpError` -32000 made locally by the SDK (`Connection closed`) or by this library | `'transport'` |
 * | `McpError` -32000 to -32099 the upstream answered (server-defined, e.g. `Rate limit exceeded`) | `'application'` |
 * | `McpError` -32001 RequestTimeout | `'timeout'` |
 * | `McpError` -32601 MethodNotFound | `'method-not-found'` |
 * | `McpError` any other code | `'application'` |
 * | SDK client `Error('Server does not support X (required for Y)')` | `'method-not-found'` |
 * | `StreamableHTTPError` / `SseError` 404 (session gone), or no HTTP status (the stream failed below HTTP) | `'transport'` |
 * | `StreamableHTTPError` 404 to a request without a session id (the default factory marks these: stateless upstream) | `'application'` |
 * | `StreamableHTTPError` / `SseError` 408 | `'timeout'` |
 * | `StreamableHTTPError` / `SseError` other status (400, 401, 403, 429, 500, 502, 503, 504, ...) | `'application'` |
 * | `TypeError('fetch failed')`, `code`/`cause.code` `ECONNREFUSED`, `ECONNRESET`, `UND_ERR_SOCKET`, ... | `'transport'` |
 * | `code`/`cause.code` `UND_ERR_HEADERS_TIMEOUT`, `UND_ERR_BODY_TIMEOUT` (connected, but no answer) | `'timeout'` |
 * | `Error('Not connected')` (SDK client used after close) | `'transport'` |
 * | `SessionLostError` | `'transport'` |
 * | `name` `'AbortError'` or `'TimeoutError'` (DOMException or Error) | `'timeout'` |
 * | anything else, including non-Error values | `'application'` |
 *
 * 401 and 403 are `'application'`: a new connection with the same
 * credentials would be refused the same way, so retiring would only loop.
 * 429 and 5xx (502, 503, 504 included) are `'application'` too: a live server
 * (or the gateway in front of it) answered, and retiring would end an upstream
 * session that may well still hold its state. Retire only on evidence of loss.
 *
 * @example
 * ```ts
 * try {
 *   return await client.callTool({ name: 'search', arguments: { q } });
 * } catch (error) {
 *   if (classifyError(error) === 'transport') lease.release(error); // retire it
 *   throw error;
 * }
 * ```
 */
export function classifyError(error: unknown): ErrorClass {
  return classifyAt(error, 0);
}

/**
 * True when the upstream said it no longer knows the session: HTTP 404 from a
 * `StreamableHTTPError` or `SseError` (`code` 404), on the error itself or
 * anywhere down its `cause` chain. The registry then follows `onSessionLost`.
 *
 * @example
 * ```ts
 * if (isSessionGone(error)) await registry.evictSession(downstreamSessionId);
 * ```
 */
export function isSessionGone(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && isObject(current); depth += 1) {
    if (httpStatusOf(current) === 404) return !isNotFoundWithoutSession(current);
    current = current.cause;
  }
  return false;
}

/**
 * True for the SDK client's local refusal `Server does not support X (required for Y)`:
 * the server did not advertise the capability, so no request was sent and the
 * error proves nothing about whether the upstream is alive. Classified as
 * `'method-not-found'`.
 */
export function isCapabilityNotAdvertised(error: unknown): boolean {
  return error instanceof Error && NOT_ADVERTISED.test(error.message);
}

/**
 * Brands `error` as made locally by this library because a connection died,
 * so {@link classifyError} calls it `'transport'` even when it is an
 * `McpError` -32000 with a message of its own (an upstream may answer -32000
 * too, and that answer is `'application'`). Internal: not exported from the root.
 */
export function markLocalTransportError<E extends object>(error: E): E {
  return brand(error, LOCAL_TRANSPORT_BRAND);
}

/**
 * Brands an HTTP 404 `error` as an answer to a request that carried no
 * upstream session id (a stateless upstream, or a wrong path): it proves no
 * session was lost, so {@link classifyError} calls it `'application'` and
 * {@link isSessionGone} is false. Internal: not exported from the root.
 */
export function markNotFoundWithoutSession<E extends object>(error: E): E {
  return brand(error, NO_SESSION_BRAND);
}

/** A non-enumerable `true` under `symbol`: invisible to JSON and `Object.keys`, kept by redacted copies. */
function brand<E extends object>(error: E, symbol: symbol): E {
  Object.defineProperty(error, symbol, { value: true });
  return error;
}

function hasBrand(error: ErrorLike, symbol: symbol): boolean {
  return (error as Record<symbol, unknown>)[symbol] === true;
}

function isNotFoundWithoutSession(error: ErrorLike): boolean {
  return hasBrand(error, NO_SESSION_BRAND);
}

function isLocalTransportError(error: ErrorLike): boolean {
  return hasBrand(error, LOCAL_TRANSPORT_BRAND);
}

function classifyAt(error: unknown, depth: number): ErrorClass {
  if (!isObject(error)) return 'application';
  return (
    classifyOwn(error) ??
    classifyMcp(error) ??
    classifyHttp(error) ??
    classifyByName(error) ??
    classifyByMessage(error) ??
    classifyByCode(error, depth) ??
    classifyFetchFailure(error) ??
    'application'
  );
}

function classifyOwn(error: ErrorLike): ErrorClass | undefined {
  // SessionLostError from this library (any copy of it).
  return error.code === 'ERR_SESSION_LOST' || isLocalTransportError(error) ? 'transport' : undefined;
}

function classifyMcp(error: ErrorLike): ErrorClass | undefined {
  if (!isMcpError(error)) return undefined;
  switch (error.code) {
    case MCP_CONNECTION_CLOSED:
      return isLocalTransportError(error) || error.message === SDK_CONNECTION_CLOSED_MESSAGE ? 'transport' : 'application';
    case MCP_REQUEST_TIMEOUT:
      return 'timeout';
    case MCP_METHOD_NOT_FOUND:
      return 'method-not-found';
    default:
      return 'application';
  }
}

function classifyHttp(error: ErrorLike): ErrorClass | undefined {
  if (!isHttpTransportError(error)) return undefined;
  const status = httpStatusOf(error);
  // The SDK uses -1 for a response that is not MCP at all (wrong content type): the upstream answered, wrongly.
  if (status === -1) return 'application';
  // SseError carries no status when the stream failed below HTTP (connection refused, reset).
  if (status === undefined || status <= 0) return 'transport';
  if (status === SESSION_GONE_HTTP_STATUS) return isNotFoundWithoutSession(error) ? 'application' : 'transport';
  if (TIMEOUT_HTTP_STATUSES.has(status)) return 'timeout';
  return 'application';
}

function classifyByName(error: ErrorLike): ErrorClass | undefined {
  return error.name === 'AbortError' || error.name === 'TimeoutError' ? 'timeout' : undefined;
}

function classifyByMessage(error: ErrorLike): ErrorClass | undefined {
  const message = error.message;
  if (typeof message !== 'string') return undefined;
  if (NOT_ADVERTISED.test(message)) return 'method-not-found';
  if (message === 'Not connected') return 'transport';
  return undefined;
}

// After classifyByCode, so that a fetch failure caused by an undici timeout stays a 'timeout'.
function classifyFetchFailure(error: ErrorLike): ErrorClass | undefined {
  const message = error.message;
  return error.name === 'TypeError' && typeof message === 'string' && FETCH_FAILURE_MESSAGES.has(message)
    ? 'transport'
    : undefined;
}

function classifyByCode(error: ErrorLike, depth: number): ErrorClass | undefined {
  const code = error.code;
  if (typeof code === 'string') {
    if (TRANSPORT_CODES.has(code)) return 'transport';
    if (TIMEOUT_CODES.has(code)) return 'timeout';
  }
  if (depth >= MAX_CAUSE_DEPTH) return undefined;
  // Node wraps the socket error: TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }),
  // and happy-eyeballs connects put one error per address in an AggregateError.
  for (const inner of nestedErrors(error)) {
    const found = classifyByCode(inner, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

function nestedErrors(error: ErrorLike): ErrorLike[] {
  const nested: ErrorLike[] = [];
  if (isObject(error.cause)) nested.push(error.cause);
  if (Array.isArray(error.errors)) {
    for (const inner of error.errors) if (isObject(inner)) nested.push(inner);
  }
  return nested;
}

function isMcpError(error: ErrorLike): boolean {
  if (typeof error.code !== 'number') return false;
  if (error.name === 'McpError') return true;
  // Subclasses or bundles that lost the name still keep the SDK's message shape.
  return typeof error.message === 'string' && error.message.startsWith(`MCP error ${error.code}:`);
}

function isHttpTransportError(error: ErrorLike): boolean {
  if (error.name === 'StreamableHTTPError' || error.name === 'SseError') return true;
  // The SDK's StreamableHTTPError and SseError keep name 'Error'; their message prefix is stable.
  const message = error.message;
  return typeof message === 'string' && (message.startsWith(STREAMABLE_HTTP_PREFIX) || message.startsWith(SSE_PREFIX));
}

function httpStatusOf(error: ErrorLike): number | undefined {
  if (!isHttpTransportError(error)) return undefined;
  return typeof error.code === 'number' && Number.isInteger(error.code) ? error.code : undefined;
}

interface ErrorLike {
  readonly name?: unknown;
  readonly message?: unknown;
  readonly code?: unknown;
  readonly cause?: unknown;
  readonly errors?: unknown;
}

function isObject(value: unknown): value is ErrorLike {
  return typeof value === 'object' && value !== null;
}
