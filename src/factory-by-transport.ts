/**
 * {@link factoryByTransport}: one registry for HTTP, SSE and stdio upstreams.
 *
 * @module
 */

import { InvalidOptionsError, InvalidRequestError } from './errors.js';
import type { SessionFactory } from './factory.js';
import type { TransportType } from './request.js';

/** A factory per transport; transports left out are rejected at create time. */
export type FactoriesByTransport<C> = Partial<Record<TransportType, SessionFactory<C>>>;

// A record over the union, so the compiler flags this list when TransportType changes.
const TRANSPORTS: Record<TransportType, true> = { 'streamable-http': true, sse: true, stdio: true };

function isTransport(key: string): key is TransportType {
  return Object.hasOwn(TRANSPORTS, key);
}

/**
 * A {@link SessionFactory} that hands each request to the factory registered
 * for its `transport`, so that one registry serves HTTP and stdio upstreams
 * alike. Runtime-neutral: it only dispatches.
 *
 * A request for a transport without a factory rejects with
 * {@link InvalidRequestError} (field `transport`).
 *
 * @throws {@link InvalidOptionsError} for a key that is not a transport, or a value that is not a function.
 *
 * @example
 * ```ts
 * import { UpstreamSessionRegistry, factoryByTransport, mcpSessionFactory } from 'mcp-upstream-registry';
 * import { stdioSessionFactory } from 'mcp-upstream-registry/stdio';
 *
 * const http = mcpSessionFactory({ requestTimeoutMs: 30_000 });
 * const registry = new UpstreamSessionRegistry({
 *   factory: factoryByTransport({ 'streamable-http': http, sse: http, stdio: stdioSessionFactory() }),
 * });
 * ```
 */
export function factoryByTransport<C>(factories: FactoriesByTransport<C>): SessionFactory<C> {
  if (typeof factories !== 'object' || factories === null || Array.isArray(factories)) {
    throw new InvalidOptionsError('factories', 'expected an object mapping transports to factories');
  }
  const table = new Map<TransportType, SessionFactory<C>>();
  for (const [key, factory] of Object.entries(factories)) {
    if (!isTransport(key)) {
      const shown = JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key);
      throw new InvalidOptionsError(shown, "unknown transport (expected 'streamable-http', 'sse' or 'stdio')");
    }
    if (factory === undefined) continue;
    if (typeof factory !== 'function') throw new InvalidOptionsError(key, `expected a factory function, got ${typeof factory}`);
    table.set(key, factory);
  }
  return async (request, ctx) => {
    const factory = table.get(request.transport);
    if (factory === undefined) {
      const known = [...table.keys()].map((t) => `'${t}'`).join(', ') || 'none';
      throw new InvalidRequestError('transport', `no factory for '${request.transport}' (configured: ${known})`);
    }
    return factory(request, ctx);
  };
}
