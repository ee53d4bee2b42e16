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
   * Allowed `Origin` values, exactly: scheme, host and port (e.g.
   * `http://localhost:3000`; case and a default port do not matter). When
   * omitted, only the proxy's own origin is allowed: the `Origin` must name
   * the same host and port as the `Host` header (a page served by the proxy
   * itself). Requests without `Origin` (non-browser clients) are always allowed.
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

/** A `Host` header value parsed (host name lower-cased); `undefined` when malformed. */
function parseHost(host: string): URL | undefined {
  try {
    return new URL(`http://${host}`);
  } catch {
    return undefined;
  }
}

/** An http(s) `Origin` parsed; `undefined` for `null`, other schemes or garbage. */
function parseOrigin(origin: string): URL | undefined {
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

function defaultPort(scheme: string): string {
  return scheme === 'https:' ? '443' : '80';
}

/**
 * Same host and port as the request's `Host`. A `Host` without port means the
 * origin scheme's default; `URL` drops an explicit `:80`, so read it from the raw value.
 */
function isSameOrigin(origin: URL, host: URL, rawHost: string): boolean {
  const hostPort = host.port || (/:\d+$/.test(rawHost) ? '80' : defaultPort(origin.protocol));
  return origin.hostname === host.hostname && (origin.port || defaultPort(origin.protocol)) === hostPort;
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
  const hostValue = header(headers, 'host');
  const host = hostValue === undefined ? undefined : parseHost(hostValue);
  if (host === undefined || !allowedHosts.has(host.hostname)) return forbidden('Forbidden: Host header not allowed');
  const originValue = header(headers, 'origin');
  if (originValue === undefined) return undefined;
  const origin = parseOrigin(originValue);
  if (origin === undefined) return forbidden('Forbidden: Origin not allowed');
  const allowed =
    policy.allowedOrigins === undefined
      ? isSameOrigin(origin, host, hostValue as string)
      : policy.allowedOrigins.some((o) => parseOrigin(o)?.origin === origin.origin);
  return allowed ? undefined : forbidden('Forbidden: Origin not allowed');
}
