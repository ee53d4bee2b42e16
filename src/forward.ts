/**
 * Forwarding a downstream request to the worker that owns its session, with
 * web-standard `Request`/`Response` only, so it runs on Node, Bun, Deno and
 * Workers alike.
 *
 * @module
 */

import type { WorkerInfo } from './affinity.js';
import { InvalidOptionsError } from './errors.js';
import { HOP_BY_HOP_HEADERS } from './headers.js';
import type { ForwardTelemetrySpan, ProxyTelemetry } from './telemetry.js';
import { assertKnownKeys, count, milliseconds, optionalFunction, optionsObject, withMethods } from './internal/validate.js';

/** Options of {@link forwardToOwner}. Unknown keys throw `InvalidOptionsError`. */
export interface ForwardOptions {
  /** The fetch to use, e.g. one with a custom dispatcher. Default: `globalThis.fetch`. */
  fetch?: (input: Request | string | URL, init?: RequestInit) => Promise<Response>;
  /** Header that counts how often a request was forwarded. Default `'x-mcp-forwarded-hops'`. */
  hopHeader?: string;
  /** Forwards allowed along one request's path; a request that already made this many is refused. Default 1. */
  maxHops?: number;
  /**
   * How long to wait for the owner's response headers (connect included); the
   * response body, e.g. an SSE stream, may then run as long as it runs. Default 10 000 ms.
   */
  timeoutMs?: number;
  /** Aborts the forward (and a response stream in progress). Default: `request.signal`. */
  signal?: AbortSignal;
  /** Records each forward (`forwardStart`), e.g. `otelTelemetry()` from `mcp-upstream-registry/otel`. */
  telemetry?: ProxyTelemetry;
}

/** Default of {@link ForwardOptions.hopHeader}. */
export const DEFAULT_HOP_HEADER = 'x-mcp-forwarded-hops';

const KNOWN_OPTIONS = new Set(['fetch', 'hopHeader', 'maxHops', 'timeoutMs', 'signal', 'telemetry']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Hop-by-hop headers plus `host` (the owner's, set by fetch); `proxy-*` is checked by prefix. */
const HOP_BY_HOP: ReadonlySet<string> = new Set([...HOP_BY_HOP_HEADERS, 'host']);

/** Statuses whose responses must not have a body. */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

interface ResolvedForwardOptions {
  readonly fetch: NonNullable<ForwardOptions['fetch']>;
  readonly hopHeader: string;
  readonly maxHops: number;
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
  readonly telemetry: ProxyTelemetry | undefined;
}

/**
 * Forwards `request` to the worker that owns its downstream session and
 * returns that worker's response, streamed (SSE included), never buffered.
 * Use it as the answer to a `NotOwnerError`.
 *
 * - Same method, path and query, re-targeted to `owner.address` (a path in
 *   the address is prepended). Headers go along, including `mcp-session-id`
 *   (the owner needs it: this is a peer worker, not an upstream server),
 *   except hop-by-hop headers (`Connection` and the names it lists,
 *   `Keep-Alive`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`,
 *   `Proxy-*`, `Host`), which are stripped both ways.
 * - The hop header is set to the incoming count + 1. A request whose count
 *   already reached `maxHops` (or whose count does not parse) is refused with
 *   **508 Loop Detected**, without contacting anyone: workers that disagree
 *   about the owner cannot bounce a request between them.
 * - The owner unreachable, or refusing the connection → **502 Bad Gateway**;
 *   no response headers within `timeoutMs` → **504 Gateway Timeout**; owner
 *   without a usable `address` → **502**. These responses carry a JSON-RPC
 *   error body and never the owner's address.
 * - When `signal` aborts, the returned promise rejects with its reason, or the
 *   response stream in progress is cancelled.
 *
 * It never throws for a network failure; it throws `InvalidOptionsError` for bad options.
 *
 * @example
 * ```ts
 * app.all('/mcp', async (c) => {
 *   try {
 *     return await handle(c.req.raw);
 *   } catch (error) {
 *     if (error instanceof NotOwnerError) return forwardToOwner(c.req.raw, error.owner);
 *     throw error;
 *   }
 * });
 * ```
 */
export async function forwardToOwner(request: Request, owner: WorkerInfo, options?: ForwardOptions): Promise<Response> {
  const opts = resolveOptions(options, request);
  opts.signal?.throwIfAborted();
  const span = opts.telemetry?.forwardStart();
  const hops = parseHops(request.headers.get(opts.hopHeader));
  if (hops === undefined || hops >= opts.maxHops) {
    span?.end('refused', 508);
    return errorResponse(508, 'Loop Detected', 'The request was already forwarded as often as allowed; refusing to forward it again');
  }
  const target = targetUrl(owner.address, request.url);
  if (target === undefined) {
    span?.end('refused', 502);
    return errorResponse(502, 'Bad Gateway', 'The worker that owns this session has no usable internal address');
  }
  return send(request, target, forwardHeaders(request.headers, opts.hopHeader, hops + 1), opts, span);
}

function resolveOptions(options: ForwardOptions | undefined, request: Request): ResolvedForwardOptions {
  const o = optionsObject('options', options);
  assertKnownKeys(o, KNOWN_OPTIONS);
  const { hopHeader, signal } = o;
  const fetchImpl = optionalFunction<typeof fetch>('fetch', o.fetch);
  const maxHops = count('maxHops', o.maxHops);
  const timeoutMs = milliseconds('timeoutMs', o.timeoutMs);
  if (hopHeader !== undefined && (typeof hopHeader !== 'string' || !TOKEN.test(hopHeader))) {
    throw new InvalidOptionsError('hopHeader', 'expected an HTTP header name');
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidOptionsError('signal', 'expected an AbortSignal');
  }
  const telemetry = withMethods<ProxyTelemetry>('telemetry', o.telemetry, ['forwardStart']);
  return {
    fetch: (fetchImpl as ResolvedForwardOptions['fetch'] | undefined) ?? ((input, init) => globalThis.fetch(input, init)),
    hopHeader: ((hopHeader as string | undefined) ?? DEFAULT_HOP_HEADER).toLowerCase(),
    maxHops: maxHops ?? 1,
    timeoutMs: timeoutMs ?? 10_000,
    signal: (signal as AbortSignal | undefined) ?? request.signal,
    telemetry,
  };
}

/** The incoming hop count: 0 when absent, `undefined` when it does not parse (treated as a loop). */
function parseHops(value: string | null): number | undefined {
  if (value === null) return 0;
  const trimmed = value.trim();
  if (!/^\d{1,6}$/.test(trimmed)) return undefined;
  return Number(trimmed);
}

function targetUrl(address: string | undefined, incoming: string): URL | undefined {
  if (typeof address !== 'string') return undefined;
  let base: URL;
  let source: URL;
  try {
    base = new URL(address);
    source = new URL(incoming);
  } catch {
    return undefined;
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') return undefined;
  if (base.username !== '' || base.password !== '') return undefined;
  const target = new URL(`${base.protocol}//${base.host}`);
  target.pathname = `${base.pathname.replace(/\/+$/, '')}${source.pathname}`;
  target.search = source.search;
  return target;
}

/** Names a `Connection` header lists are hop-by-hop too. */
function connectionTokens(headers: Headers): Set<string> {
  const listed = new Set<string>();
  for (const token of (headers.get('connection') ?? '').split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '') listed.add(name);
  }
  return listed;
}

function stripHopByHop(headers: Headers): Headers {
  const listed = connectionTokens(headers);
  const out = new Headers();
  headers.forEach((value, name) => {
    if (HOP_BY_HOP.has(name) || listed.has(name) || name.startsWith('proxy-')) return;
    out.append(name, value);
  });
  // forEach joins repeated Set-Cookie headers with ", "; copy them one by one.
  if (typeof headers.getSetCookie === 'function' && headers.has('set-cookie')) {
    out.delete('set-cookie');
    for (const cookie of headers.getSetCookie()) out.append('set-cookie', cookie);
  }
  return out;
}

function forwardHeaders(incoming: Headers, hopHeader: string, hops: number): Headers {
  const headers = stripHopByHop(incoming);
  headers.set(hopHeader, String(hops));
  // fetch would decode a compressed answer but keep its Content-Encoding; between workers, plain is cheaper anyway.
  headers.set('accept-encoding', 'identity');
  return headers;
}

async function send(
  request: Request,
  target: URL,
  headers: Headers,
  opts: ResolvedForwardOptions,
  span: ForwardTelemetrySpan | undefined,
): Promise<Response> {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error('timed out waiting for the owner worker'));
  }, opts.timeoutMs);
  const hasBody = request.body !== null && request.method !== 'GET' && request.method !== 'HEAD';
  const init: RequestInit & { duplex?: 'half' } = {
    method: request.method,
    headers,
    redirect: 'manual',
    signal: controller.signal,
    ...(hasBody ? { body: request.body, duplex: 'half' } : {}),
  };
  let upstream: Response;
  try {
    upstream = await opts.fetch(target, init);
  } catch (error) {
    opts.signal?.removeEventListener('abort', onAbort);
    if (opts.signal?.aborted === true) {
      span?.end('error', undefined, opts.signal.reason);
      throw opts.signal.reason;
    }
    const status = timedOut ? 504 : 502;
    span?.end('error', status, error);
    if (timedOut) return errorResponse(504, 'Gateway Timeout', 'The worker that owns this session did not answer in time');
    // The cause (e.g. ECONNREFUSED with the address) stays out of the answer: it names internal hosts.
    return errorResponse(502, 'Bad Gateway', 'The worker that owns this session is unreachable');
  } finally {
    clearTimeout(timer);
  }
  span?.end('ok', upstream.status);
  return relay(upstream);
}

function relay(upstream: Response): Response {
  const headers = stripHopByHop(upstream.headers);
  if (headers.has('content-encoding')) {
    // fetch already decoded the body: its length and encoding no longer apply.
    headers.delete('content-encoding');
    headers.delete('content-length');
  }
  const body = NULL_BODY_STATUS.has(upstream.status) ? null : upstream.body;
  if (body === null && upstream.body !== null) void upstream.body.cancel().catch(() => undefined);
  return new Response(body, { status: upstream.status, statusText: upstream.statusText, headers });
}

function errorResponse(status: number, statusText: string, message: string): Response {
  const body = JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null });
  return new Response(body, { status, statusText, headers: { 'content-type': 'application/json' } });
}
