/**
 * Construction of the SDK `Client` the default factory hands out.
 *
 * @module
 */

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { markNotFoundWithoutSession } from '../classify.js';
import type { ResolvedMcpOptions } from './options.js';

/**
 * A new SDK client configured from the factory options.
 *
 * @param reattached - the client joins an existing upstream session without
 *   `initialize`, so it never learns the server's capabilities; strict
 *   capability enforcement would then refuse every call, and is left off.
 */
export function createClient(options: ResolvedMcpOptions, reattached: boolean): Client {
  const client = new Client(options.clientInfo, {
    ...options.clientOptions,
    capabilities: options.capabilities,
    enforceStrictCapabilities: options.enforceStrictCapabilities && !reattached,
  });
  if (options.requestTimeoutMs !== undefined) applyDefaultRequestTimeout(client, options.requestTimeoutMs);
  return client;
}

/**
 * Makes `timeoutMs` the default timeout of every request on `client`.
 *
 * The SDK has no per-client default (it falls back to a fixed 60 s), but all
 * of `callTool`, `listTools`, `ping` and the rest go through `request()`, so
 * an own-property wrapper covers them without subclassing the generic class.
 */
function applyDefaultRequestTimeout(client: Client, timeoutMs: number): void {
  const original = client.request.bind(client);
  client.request = ((request, resultSchema, options) =>
    // initialize is bounded by connectTimeoutMs (the connect deadline), not by the per-call default.
    request.method === 'initialize'
      ? original(request, resultSchema, options)
      : original(request, resultSchema, { ...options, timeout: options?.timeout ?? timeoutMs })) as typeof client.request;
}

/**
 * Marks HTTP 404 rejections of requests sent while the transport had no
 * upstream session id (a stateless upstream): such a 404 proves no session was
 * lost, so `classifyError` must not retire the connection for it.
 */
export function markSessionlessNotFound(client: Client, hasSession: () => boolean): void {
  const original = client.request.bind(client);
  client.request = ((request, resultSchema, options) => {
    const sessionAtSend = hasSession();
    return original(request, resultSchema, options).catch((error: unknown) => {
      if (!sessionAtSend && isHttp404(error)) markNotFoundWithoutSession(error);
      throw error;
    });
  }) as typeof client.request;
}

function isHttp404(error: unknown): error is object {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 404;
}
