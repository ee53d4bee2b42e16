/**
 * Builds the SDK client transport for one request: the request's headers and
 * current credentials on every upstream request, and a fetch that reports
 * HTTP 404 to a request of the upstream session (session gone) to the
 * connection's watcher.
 *
 * @module
 */

import { SSEClientTransport, SseError } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { InvalidRequestError } from '../errors.js';
import { isForbiddenUpstreamHeader } from '../headers.js';
import type { SessionCreateRequest } from '../request.js';

/** The SDK transports the default factory speaks. */
export type HttpClientTransport = StreamableHTTPClientTransport | SSEClientTransport;

/** How the transport reports what its fetch saw. */
interface TransportObserver {
  /** An upstream answered HTTP 404 to a request of an established session. */
  onSessionGone(error: Error): void;
}

/**
 * The request's headers without anything that belongs to the MCP session.
 *
 * `SessionCreateRequest` applied the header policy already; this repeats the
 * session part because the SDK merges these headers *over* its own, so a
 * stray `mcp-session-id` would replace the upstream's session id.
 */
function upstreamHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!isForbiddenUpstreamHeader(name)) result[name] = value;
  }
  return result;
}

/** The error a 404 is reported with: the SDK's own class for the transport, so `isSessionGone` knows it. */
function sessionGoneError(request: SessionCreateRequest): Error {
  const message = 'upstream session not found (HTTP 404)';
  if (request.transport === 'sse') return new SseError(404, message, undefined as never);
  return new StreamableHTTPError(404, message);
}

/**
 * Whether the request went to the upstream session, so that a 404 answer
 * proves the upstream forgot it: on Streamable HTTP a POST or DELETE that
 * carried the `mcp-session-id` the upstream issued (a GET is the optional
 * server-to-client stream, whose 404/405 only means "no stream"); on legacy
 * SSE a POST to the session's endpoint (its id is in the endpoint URL).
 * Requests to other origins (OAuth discovery, token endpoints) never count.
 */
function carriesSession(request: SessionCreateRequest, url: string | URL, init: RequestInit | undefined): boolean {
  const method = (init?.method ?? 'GET').toUpperCase();
  if (method === 'GET' || !sameOrigin(url, request.url)) return false;
  if (request.transport === 'sse') return method === 'POST';
  return new Headers(init?.headers).has('mcp-session-id');
}

function sameOrigin(url: string | URL, upstream: string): boolean {
  try {
    return new URL(url).origin === new URL(upstream).origin;
  } catch {
    return false;
  }
}

/**
 * The current credentials over the headers of a request to the upstream's
 * origin, so a rotated token goes out on the very next request. Never added to
 * requests to other origins (an OAuth authorization server, say).
 */
function withCredentials(
  request: SessionCreateRequest,
  url: string | URL,
  init: RequestInit | undefined,
  credentials: Readonly<Record<string, string>>,
): RequestInit | undefined {
  const names = Object.keys(credentials);
  if (names.length === 0 || !sameOrigin(url, request.url)) return init;
  const headers = new Headers(init?.headers);
  // Defensive: a hand-built record must not override the upstream session's own headers.
  for (const name of names) if (!isForbiddenUpstreamHeader(name)) headers.set(name, credentials[name]!);
  return { ...init, headers };
}

/**
 * Wraps `base` (default: `globalThis.fetch`, looked up per call so test
 * doubles installed later still apply): adds the current credentials, and
 * reports a 404 to a request that carried the upstream session once `armed()`
 * says the session is established. The response itself is passed on untouched.
 */
function observingFetch(request: SessionCreateRequest, options: CreateTransportOptions): FetchLike {
  const { fetch: base, observer, armed, credentials } = options;
  return async (url, init) => {
    const sent = withCredentials(request, url, init, credentials());
    const response = await (base ?? globalThis.fetch)(url, sent);
    if (response.status === 404 && armed() && carriesSession(request, url, sent)) {
      observer.onSessionGone(sessionGoneError(request));
    }
    return response;
  };
}

/** What {@link createTransport} needs besides the request. */
export interface CreateTransportOptions {
  readonly fetch: FetchLike | undefined;
  readonly observer: TransportObserver;
  /** True once the session is established; 404s before that are the create's own failure. */
  readonly armed: () => boolean;
  /** Upstream session to re-attach to (Streamable HTTP only); skips `initialize`. */
  readonly sessionId?: string;
  /** The credential headers to send now; read on every request. */
  readonly credentials: () => Readonly<Record<string, string>>;
  /** OAuth for the upstream, handled by the SDK transport (tokens, discovery, refresh). */
  readonly authProvider?: OAuthClientProvider;
}

/** The SDK transport's reconnect scheduler and the one timer field it keeps (not public API). */
interface ReconnectInternals {
  _scheduleReconnection?: (...args: unknown[]) => void;
  _reconnectionTimeout?: ReturnType<typeof setTimeout>;
}

/** Reconnect timers remembered per transport; older ones have fired long ago (clearing them is harmless). */
const MAX_TRACKED_RECONNECTS = 8;

/**
 * The SDK's Streamable HTTP transport keeps ONE `_reconnectionTimeout` for
 * all its streams (a second stream's reconnect overwrites the first's timer),
 * and a reconnect that `close()` aborted schedules the next one: a timer, and
 * then a fetch, outlived the closed connection. Here nothing is scheduled once
 * `close()` began, and every reconnect timer still pending is cleared by it.
 * Reconnection itself stays on (resumable streams, SEP-1699 polling). Without
 * the scheduler (another SDK version) the transport is left as it is.
 */
function guardReconnection(transport: StreamableHTTPClientTransport): StreamableHTTPClientTransport {
  const internals = transport as unknown as ReconnectInternals;
  const schedule = internals._scheduleReconnection;
  if (typeof schedule !== 'function') return transport;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let closing = false;
  internals._scheduleReconnection = (...args: unknown[]): void => {
    if (closing) return;
    schedule.apply(transport, args);
    const timer = internals._reconnectionTimeout;
    if (timer === undefined || timers.has(timer)) return;
    timers.add(timer);
    if (timers.size > MAX_TRACKED_RECONNECTS) timers.delete(timers.values().next().value as ReturnType<typeof setTimeout>);
  };
  const close = transport.close.bind(transport);
  transport.close = (): Promise<void> => {
    closing = true;
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    return close();
  };
  return transport;
}

/**
 * The SDK transport for `request`: `StreamableHTTPClientTransport` for
 * `'streamable-http'`, `SSEClientTransport` for `'sse'`.
 *
 * @throws InvalidRequestError for `'stdio'`, which needs the `/stdio` factory.
 */
export function createTransport(request: SessionCreateRequest, options: CreateTransportOptions): HttpClientTransport {
  const url = new URL(request.url);
  const requestInit: RequestInit = { headers: upstreamHeaders(request.headers) };
  const fetch = observingFetch(request, options);
  const auth = options.authProvider === undefined ? {} : { authProvider: options.authProvider };
  switch (request.transport) {
    case 'streamable-http':
      return guardReconnection(
        new StreamableHTTPClientTransport(url, {
          requestInit,
          fetch,
          ...auth,
          ...(options.sessionId === undefined ? {} : { sessionId: options.sessionId }),
        }),
      );
    case 'sse':
      return new SSEClientTransport(url, { requestInit, fetch, ...auth });
    default:
      throw new InvalidRequestError(
        'transport',
        `mcpSessionFactory speaks 'streamable-http' and 'sse', got '${request.transport}'; use stdioSessionFactory from 'mcp-upstream-registry/stdio'`,
      );
  }
}
