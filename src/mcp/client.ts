/**
 * Construction of the SDK `Client` the default factory hands out.
 *
 * @module
 */

import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { markNotFoundWithoutSession } from '../classify.js';
import { DefaultTimeoutClient } from '../internal/default-timeout-client.js';
import type { ResolvedMcpOptions } from './options.js';

/**
 * A new SDK client configured from the factory options.
 *
 * @param reattached - the client joins an existing upstream session without
 *   `initialize`, so it never learns the server's capabilities; strict
 *   capability enforcement would then refuse every call, and is left off.
 */
export function createClient(options: ResolvedMcpOptions, reattached: boolean): Client {
  const clientOptions = {
    ...options.clientOptions,
    capabilities: options.capabilities,
    enforceStrictCapabilities: options.enforceStrictCapabilities && !reattached,
  };
  return new DefaultTimeoutClient(options.clientInfo, clientOptions, options.requestTimeoutMs);
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
