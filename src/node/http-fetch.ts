/**
 * A `fetch` for upstream MCP traffic on `node:http` / `node:https`.
 *
 * Node's global `fetch` (undici) builds, per request, a `Request`, an
 * `AbortSignal` that follows the caller's, a body stream that it clones and
 * tees (Fetch's redirect handling) and writes as an iterable apart from the
 * headers. For a proxy that forwards every call, that plumbing was a quarter
 * of its CPU (docs/performance.md). Here a request is one `http.request` on
 * a keep-alive agent, with headers and body in one write; the answer is a
 * standard `Response` whose body streams from the socket.
 *
 * @module
 */

import {
  type ClientRequest,
  Agent as HttpAgent,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request as httpRequest,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable, Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { InvalidOptionsError } from '../errors.js';
import { assertKnownKeys, count, optionalFunction, optionsObject } from '../internal/validate.js';
import { showValue } from '../show-value.js';
import { isEventStream } from '../internal/event-stream.js';
import { eventStreamAnswer } from './event-stream-answer.js';
import { networkError, webStream } from './web-stream.js';

/** Options of {@link nodeHttpFetch}. */
export interface NodeHttpFetchOptions {
  /**
   * Open sockets per upstream host and port, in use or idle (default
   * `Infinity`, as Node's global agent). Requests beyond it queue in the agent.
   */
  readonly maxSocketsPerHost?: number;
  /**
   * The agent for `http:` upstreams, e.g. one with its own socket limits.
   * Default: a keep-alive agent made for this fetch (and destroyed by its
   * `destroy()`; an agent passed here is yours to destroy).
   */
  readonly httpAgent?: HttpAgent;
  /** The agent for `https:` upstreams (TLS options such as `ca`, `cert`, `key` go here). Default as `httpAgent`. */
  readonly httpsAgent?: HttpsAgent;
  /**
   * The fetch for what this one does not send itself (see {@link nodeHttpFetch}).
   * Default: `globalThis.fetch` as it is when `nodeHttpFetch()` is called (so
   * the result can itself be installed as `globalThis.fetch`).
   */
  readonly fallback?: FetchLike;
}

/** A `fetch` made by {@link nodeHttpFetch}: the SDK's `FetchLike`, plus `destroy()` for the agents it owns. */
export interface NodeHttpFetch extends FetchLike {
  /**
   * Destroys the sockets of the agents this fetch made (requests still in
   * flight fail). Call it after `registry.closeAll()`: idle keep-alive sockets
   * otherwise stay open until the upstream closes them.
   */
  destroy(): void;
}

/**
 * How long the agents made here keep an idle socket, as undici's default
 * `keepAliveTimeout` (a server's `Keep-Alive: timeout` hint shortens it). Node's
 * agent otherwise keeps it until the server closes it, and a request written
 * as a server without a hint (uvicorn: 5 s) closes it fails with ECONNRESET,
 * which retires the upstream session.
 */
const IDLE_SOCKET_TIMEOUT_MS = 4_000;

/**
 * How long an answer's head may take, as undici's default `headersTimeout`: a
 * request to an upstream that took it and never answers must not wait (and hold
 * its socket) until the transport closes.
 */
const HEADERS_TIMEOUT_MS = 300_000;

const KNOWN_KEYS: ReadonlySet<string> = new Set(['maxSocketsPerHost', 'httpAgent', 'httpsAgent', 'fallback']);

/**
 * A reason phrase `new Response` accepts (HTAB, SP, VCHAR, obs-text). Node's
 * parser passes others (DEL, control characters), and the constructor's
 * TypeError, thrown in the socket's 'response' event, would crash the process.
 */
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Statuses whose response has no body (`new Response` refuses one). */
const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);

const DECODERS: Readonly<Record<string, () => Transform>> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

function agentOption<A>(name: string, value: unknown, kind: new (...args: never[]) => A): A | undefined {
  if (value === undefined || value instanceof kind) return value as A | undefined;
  throw new InvalidOptionsError(name, `expected an ${kind.name} from node:${name === 'httpAgent' ? 'http' : 'https'}, got ${showValue(value)}`);
}

/** What a request needs from the caller's `init`, or `undefined` when the fallback must send it. */
interface Outgoing {
  readonly method: string;
  readonly headers: OutgoingHttpHeaders;
  readonly body: string | Uint8Array | undefined;
  readonly redirect: 'manual' | 'error';
}

function bodyOf(body: RequestInit['body']): string | Uint8Array | undefined | null {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string' || body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (body instanceof URLSearchParams) return body.toString();
  // Streams, blobs and forms: the fallback knows how to send them.
  return null;
}

function headersOf(init: RequestInit | undefined, fromSearchParams: boolean): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  // `Headers` lower-cases names; a record or pair list may repeat a name in other cases, which `Headers` would merge too.
  new Headers(init?.headers).forEach((value, name) => {
    headers[name] = value;
  });
  if (headers.accept === undefined) headers.accept = '*/*';
  if (fromSearchParams && headers['content-type'] === undefined) headers['content-type'] = 'application/x-www-form-urlencoded;charset=UTF-8';
  return headers;
}

/**
 * The request as this fetch sends it, or `undefined` for one it leaves to the
 * fallback: redirects to follow (the SDK follows them itself and asks for
 * `'manual'`), or a body that is not a string or bytes.
 */
function outgoing(init: RequestInit | undefined): Outgoing | undefined {
  const redirect = init?.redirect;
  if (redirect !== 'manual' && redirect !== 'error') return undefined;
  const body = bodyOf(init?.body);
  if (body === null) return undefined;
  const method = (init?.method ?? 'GET').toUpperCase();
  return { method, headers: headersOf(init, init?.body instanceof URLSearchParams), body, redirect };
}

function responseHeaders(message: IncomingMessage): Headers {
  const headers = new Headers();
  const raw = message.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  return headers;
}

function decodedBody(message: IncomingMessage): Readable {
  const encoding = message.headers['content-encoding']?.trim().toLowerCase();
  const decoder = encoding === undefined ? undefined : DECODERS[encoding];
  if (decoder === undefined) return message;
  const decoded = decoder();
  message.on('error', (error) => decoded.destroy(error));
  // A cancelled body (the reader gave up) must free the socket too.
  decoded.once('close', () => message.destroy());
  return message.pipe(decoded);
}

/**
 * The standard `Response` for an answer; its body streams from the socket and
 * fails if `signal` aborts. An event stream answering a POST may come as JSON
 * (see `eventStreamAnswer`).
 */
function toResponse(message: IncomingMessage, method: string, signal: AbortSignal | undefined): Response | Promise<Response> {
  const status = message.statusCode ?? 0;
  const statusText = message.statusMessage ?? '';
  // The reason phrase is informational: one `new Response` refuses is dropped, as undici keeps the answer.
  const init = { status, statusText: REASON_PHRASE.test(statusText) ? statusText : '', headers: responseHeaders(message) };
  if (method === 'HEAD' || NULL_BODY_STATUSES.has(status)) {
    message.resume();
    return new Response(null, init);
  }
  const body = decodedBody(message);
  if (signal !== undefined) {
    const onAbort = (): void => {
      body.destroy(signal.reason);
      message.destroy(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    message.once('close', () => signal.removeEventListener('abort', onAbort));
  }
  if (method === 'POST' && status === 200 && isEventStream(init.headers)) return eventStreamAnswer(body, init, signal);
  return new Response(webStream(body), init);
}

/** Sends `out` to `url` and resolves with the answer's head. */
function send(url: URL, out: Outgoing, agents: { http: HttpAgent; https: HttpsAgent }, signal: AbortSignal | undefined): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason);
      return;
    }
    const https = url.protocol === 'https:';
    const options = { method: out.method, headers: out.headers, agent: https ? agents.https : agents.http };
    let request: ClientRequest | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const settle = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      settle();
      request?.destroy();
      reject(signal?.reason);
    };
    request = (https ? httpsRequest : httpRequest)(url, options, (message) => {
      settle();
      const status = message.statusCode ?? 0;
      if (status < 200 || status > 599) {
        message.destroy();
        reject(networkError(new Error(`unexpected HTTP status ${status}`)));
        return;
      }
      if (out.redirect === 'error' && status >= 300 && status < 400 && message.headers.location !== undefined) {
        message.destroy();
        reject(networkError(new Error('unexpected redirect')));
        return;
      }
      try {
        resolve(toResponse(message, out.method, signal));
      } catch (error) {
        // Thrown here it would be uncaught (an event handler), and the request never settled.
        message.destroy();
        reject(networkError(error));
      }
    });
    request.once('error', (error) => {
      settle();
      reject(networkError(error));
    });
    // Armed once the request exists (making it throws for a header value Node refuses: nothing to time then).
    // undici's code for it, so that `classify` calls it a 'timeout' (the socket was alive) rather than a lost connection.
    timer = setTimeout(() => {
      settle();
      request?.destroy();
      reject(networkError(Object.assign(new Error('no answer within the headers timeout'), { code: 'UND_ERR_HEADERS_TIMEOUT' })));
    }, HEADERS_TIMEOUT_MS);
    signal?.addEventListener('abort', onAbort, { once: true });
    // One write for headers and body: `end(body)` before the headers went out sets Content-Length.
    request.end(out.body);
  });
}

/**
 * A `fetch` for upstream MCP requests on `node:http` / `node:https` with
 * keep-alive agents (Node.js only). Pass it as the `fetch` of
 * `mcpSessionFactory`: an example proxy forwarding calls spent about a
 * quarter of its CPU in undici's `fetch` (bench P8, docs/performance.md).
 *
 * It sends itself every request that asks for `redirect: 'manual'` or
 * `'error'` (the SDK's Streamable HTTP transport asks `'manual'` for its
 * POST, GET and DELETE requests and follows same-origin redirects itself)
 * with a string, bytes or `URLSearchParams` body. Anything else (a request
 * that wants redirects followed, e.g. OAuth discovery, or a streamed body)
 * goes to `fallback`. What it keeps of Fetch: a network failure rejects with
 * `TypeError('fetch failed')` and the socket error as `cause`; an abort
 * rejects with the signal's reason, before or after the head arrived; a head
 * that takes over 300 s fails as undici's default `headersTimeout` does
 * (`cause.code` `UND_ERR_HEADERS_TIMEOUT`, classified `'timeout'`); gzip,
 * deflate and br bodies are decoded; `accept` defaults to `*∕*`. What it does
 * not add: `user-agent`, `accept-encoding`, `accept-language` and
 * `sec-fetch-mode` are sent only if the caller set them. A `Response` made
 * here has an empty `url`. One liberty: an event stream answering a POST
 * that has come whole as one `message` event, with no event id and no
 * `retry`, is answered as the JSON it carries (`content-type:
 * application/json`), which the SDK reads without its four SSE web streams;
 * any other event stream is passed on as it comes, never held back.
 *
 * @throws InvalidOptionsError for an unknown or malformed option.
 *
 * @example
 * ```ts
 * import { UpstreamSessionRegistry, mcpSessionFactory } from 'mcp-upstream-registry';
 * import { nodeHttpFetch } from 'mcp-upstream-registry/node';
 *
 * const fetch = nodeHttpFetch();
 * const registry = new UpstreamSessionRegistry({ factory: mcpSessionFactory({ fetch }) });
 * // at shutdown
 * await registry.closeAll();
 * fetch.destroy();
 * ```
 */
export function nodeHttpFetch(options?: NodeHttpFetchOptions): NodeHttpFetch {
  const o: NodeHttpFetchOptions = optionsObject('options', options);
  assertKnownKeys(o, KNOWN_KEYS);
  const maxSockets = count('maxSocketsPerHost', o.maxSocketsPerHost, { min: 1, infinity: true }) ?? Number.POSITIVE_INFINITY;
  // Taken now, not per call: installed as `globalThis.fetch` itself, it must not become its own fallback.
  const fallback = optionalFunction<FetchLike>('fallback', o.fallback) ?? globalThis.fetch;
  const givenHttp = agentOption('httpAgent', o.httpAgent, HttpAgent);
  const givenHttps = agentOption('httpsAgent', o.httpsAgent, HttpsAgent);
  const agents = {
    http: givenHttp ?? new HttpAgent({ keepAlive: true, maxSockets, timeout: IDLE_SOCKET_TIMEOUT_MS }),
    https: givenHttps ?? new HttpsAgent({ keepAlive: true, maxSockets, timeout: IDLE_SOCKET_TIMEOUT_MS }),
  };
  const fetch = (url: string | URL, init?: RequestInit): Promise<Response> => {
    let target: URL;
    try {
      target = typeof url === 'string' ? new URL(url) : url;
    } catch (error) {
      // Fetch rejects (it does not throw) for a URL it cannot parse.
      // The URL itself stays out of the message: it may hold credentials or a query.
      return Promise.reject(new TypeError('Failed to parse URL', { cause: error }));
    }
    const out = target.protocol === 'http:' || target.protocol === 'https:' ? outgoing(init) : undefined;
    if (out === undefined) return fallback(url, init);
    if (out.body !== undefined && (out.method === 'GET' || out.method === 'HEAD')) {
      return Promise.reject(new TypeError('Request with GET/HEAD method cannot have body.'));
    }
    return send(target, out, agents, init?.signal ?? undefined);
  };
  return Object.assign(fetch, {
    destroy(): void {
      if (givenHttp === undefined) agents.http.destroy();
      if (givenHttps === undefined) agents.https.destroy();
    },
  });
}
