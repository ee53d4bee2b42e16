/**
 * DNS-rebinding protection for proxies bound to a loopback address: the Host
 * header must name an allowed host, and a browser's Origin an allowed origin.
 *
 * @module
 */

import type { HttpErrorResponse } from './http-errors.js';

/** Options of {@link checkHostAndOrigin}. */
export interface HostOriginPolicy {
  /** Allowed host names, without port (IPv6 in brackets, e.g. `[::1]`). Compared case-insensitively. */
  readonly allowedHosts: readonly string[];
  /**
   * Allowed `Origin` values, exactly (e.g. `http://localhost:3000`). When
   * omitted, an origin is allowed when its host name is in `allowedHosts`.
   * Requests without `Origin` (non-browser clients) are always allowed.
   */
  readonly allowedOrigins?: readonly string[];
}

/** Request headers as a web `Headers` object or a Node-style record. */
export type HeaderSource = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

/** The loopback names: what a proxy listening on 127.0.0.1, `localhost` or `::1` should accept. */
export const LOOPBACK_HOSTS: readonly string[] = Object.freeze(['localhost', '127.0.0.1', '[::1]']);

/** True for a host a proxy should protect with {@link checkHostAndOrigin} when it binds to it. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const value = (headers as Record<string, string | readonly string[] | undefined>)[name];
  return typeof value === 'string' ? value : value?.[0];
}

/** Host name of a `Host` header value, without port; `undefined` when malformed. */
function hostName(host: string): string | undefined {
  try {
    return new URL(`http://${host}`).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

function forbidden(message: string): HttpErrorResponse {
  return Object.freeze({
    status: 403,
    headers: Object.freeze({}),
    body: Object.freeze({ jsonrpc: '2.0' as const, id: null, error: Object.freeze({ code: -32000, message }) }),
  });
}

/**
 * Checks the `Host` and `Origin` headers of an incoming request. Returns
 * `undefined` when allowed, otherwise a 403 answer (the header value is not
 * echoed back). Run it before anything else for every route of a proxy bound
 * to a loopback address: a DNS-rebinding page can reach it otherwise.
 *
 * @example
 * ```ts
 * const policy = { allowedHosts: LOOPBACK_HOSTS };
 * app.use((req, res, next) => {
 *   const refused = checkHostAndOrigin(req.headers, policy);
 *   if (refused) return res.status(refused.status).json(refused.body);
 *   next();
 * });
 * ```
 */
export function checkHostAndOrigin(headers: HeaderSource, policy: HostOriginPolicy): HttpErrorResponse | undefined {
  const allowedHosts = new Set(policy.allowedHosts.map((h) => h.toLowerCase()));
  const host = header(headers, 'host');
  const name = host === undefined ? undefined : hostName(host);
  if (name === undefined || !allowedHosts.has(name)) return forbidden('Forbidden: Host header not allowed');
  const origin = header(headers, 'origin');
  if (origin === undefined) return undefined;
  if (policy.allowedOrigins !== undefined) {
    return policy.allowedOrigins.includes(origin) ? undefined : forbidden('Forbidden: Origin not allowed');
  }
  let originHost: string | undefined;
  try {
    const url = new URL(origin);
    originHost = url.protocol === 'http:' || url.protocol === 'https:' ? url.hostname.toLowerCase() : undefined;
  } catch {
    originHost = undefined;
  }
  return originHost !== undefined && allowedHosts.has(originHost) ? undefined : forbidden('Forbidden: Origin not allowed');
}
