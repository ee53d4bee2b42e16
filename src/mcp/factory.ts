/**
 * The default {@link SessionFactory}, on `@modelcontextprotocol/sdk`.
 *
 * @module
 */

import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InvalidRequestError } from '../errors.js';
import type { FactoryContext, SessionFactory, UpstreamConnection } from '../factory.js';
import type { SessionCreateRequest } from '../request.js';
import { createDeadline, raceSignal } from '../internal/abort.js';
import { isSpareRequest } from '../internal/spare-id.js';
import { McpConnection } from './connection.js';
import { type McpSessionFactoryOptions, type ResolvedMcpOptions, resolveMcpOptions } from './options.js';
import type { UpstreamSessionRecord, UpstreamSessionStore } from './session-store.js';

export type { McpClientOptions, McpSessionFactoryOptions } from './options.js';

/**
 * The default session factory: one SDK `Client` per request, over
 * `StreamableHTTPClientTransport` (`'streamable-http'`) or `SSEClientTransport`
 * (`'sse'`). Fetch-based only, so it runs on any runtime; for `'stdio'` use
 * `stdioSessionFactory` from `mcp-upstream-registry/stdio`.
 *
 * - Every upstream request carries `request.headers` (the upstream's own
 *   `mcp-session-id` is never overridden).
 * - `request.connectTimeoutMs` bounds connect + initialize, and the registry's
 *   signal aborts it; on failure everything the attempt opened is closed and
 *   the promise rejects with the cause.
 * - A dead upstream is noticed: after a transport error a short ping decides,
 *   and a dead connection is reported through `ctx.onBroken` and closed, so
 *   calls in flight reject at once with `McpError` ConnectionClosed instead of
 *   hanging until their timeout. HTTP 404 (the upstream forgot the session) is
 *   reported the same way; `isSessionGone(reason)` is true for it.
 * - Close is graceful (HTTP DELETE of the upstream session, then close) until
 *   the close signal aborts, then immediate.
 *
 * @throws InvalidOptionsError for an unknown or malformed option.
 *
 * @example
 * ```ts
 * const registry = new UpstreamSessionRegistry({
 *   factory: mcpSessionFactory({
 *     clientInfo: { name: 'my-proxy', version: '1.2.3' },
 *     requestTimeoutMs: 30_000,
 *     configureClient: (client) => {
 *       client.setNotificationHandler(LoggingMessageNotificationSchema, forwardToDownstream);
 *     },
 *   }),
 * });
 * ```
 */
export function mcpSessionFactory(options?: McpSessionFactoryOptions): SessionFactory<Client> {
  const resolved = resolveMcpOptions(options);
  return (request, ctx) => createConnection(resolved, request, ctx);
}

async function createConnection(
  options: ResolvedMcpOptions,
  request: SessionCreateRequest,
  ctx: FactoryContext,
): Promise<UpstreamConnection<Client>> {
  if (request.transport !== 'streamable-http' && request.transport !== 'sse') {
    throw new InvalidRequestError(
      'transport',
      `mcpSessionFactory speaks 'streamable-http' and 'sse', got '${request.transport}'; use stdioSessionFactory from 'mcp-upstream-registry/stdio'`,
    );
  }
  const deadline = createDeadline(ctx.signal, request.connectTimeoutMs, 'connect + initialize');
  try {
    // Legacy SSE binds the session to its event stream: there is nothing to re-attach to.
    const store = request.transport === 'streamable-http' ? options.sessionStore : undefined;
    const record = await reattachable(store, request, deadline.signal);
    const connection = new McpConnection(options, request, ctx, store, record);
    try {
      await connection.open(deadline.signal);
    } catch (error) {
      await connection.discard(deadline.signal);
      throw error;
    }
    return connection;
  } finally {
    deadline.dispose();
  }
}

/** The stored upstream session for the request, if it was made with the same configuration. */
async function reattachable(
  store: UpstreamSessionStore | undefined,
  request: SessionCreateRequest,
  signal: AbortSignal,
): Promise<UpstreamSessionRecord | undefined> {
  // A spare's id is every worker's: a record under it is another spare's upstream session, serving another downstream one.
  if (store === undefined || isSpareRequest(request)) return undefined;
  const record = await raceSignal(store.get(request.downstreamSessionId, request.gatewayId), signal);
  return record !== undefined && record.fingerprint === request.fingerprint ? record : undefined;
}
