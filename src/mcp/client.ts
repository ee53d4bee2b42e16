/**
 * Construction of the SDK `Client` the default factory hands out.
 *
 * @module
 */

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
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
