/**
 * Builds the SDK client transport for one request: the request's headers on
 * every upstream request, and a fetch that reports HTTP 404 (upstream session
 * gone) to the connection's watcher.
 *
 * @module
 */

import { SSEClientTransport, SseError } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
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
 * Wraps `base` (default: `globalThis.fetch`, looked up per call so test
 * doubles installed later still apply) to report 404 answers once `armed()`
 * says the session is established. The response itself is passed on untouched.
 */
function observingFetch(
  base: FetchLike | undefined,
  request: SessionCreateRequest,
  observer: TransportObserver,
  armed: () => boolean,
): FetchLike {
  return async (url, init) => {
    const response = await (base ?? globalThis.fetch)(url, init);
    if (response.status === 404 && armed()) observer.onSessionGone(sessionGoneError(request));
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
  const fetch = observingFetch(options.fetch, request, options.observer, options.armed);
  switch (request.transport) {
    case 'streamable-http':
      return new StreamableHTTPClientTransport(url, {
        requestInit,
        fetch,
        ...(options.sessionId === undefined ? {} : { sessionId: options.sessionId }),
      });
    case 'sse':
      return new SSEClientTransport(url, { requestInit, fetch });
    default:
      throw new InvalidRequestError(
        'transport',
        `mcpSessionFactory speaks 'streamable-http' and 'sse', got '${request.transport}'; use stdioSessionFactory from 'mcp-upstream-registry/stdio'`,
      );
  }
}
