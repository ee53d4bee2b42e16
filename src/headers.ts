/**
 * Header policy for upstream requests, and helpers to read the downstream MCP
 * session id from an incoming request.
 *
 * @module
 */

import { InvalidRequestError } from './errors.js';
import { showValue } from './show-value.js';

/**
 * Hop-by-hop headers (RFC 9110 section 7.6.1): meaningful for one connection
 * only, so never relayed by a proxy in either direction. Names starting with
 * `proxy-` and names listed in a `Connection` header are hop-by-hop too.
 */
export const HOP_BY_HOP_HEADERS: readonly string[] = Object.freeze([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Header names that are never forwarded upstream (compared lower-case).
 * Besides these, {@link applyHeaderPolicy} drops every name starting with
 * `proxy-` and every name listed in a `Connection` header.
 *
 * - `mcp-session-id`, `mcp-protocol-version`, `last-event-id`: belong to the
 *   downstream MCP session; the upstream session negotiates its own.
 *   Forwarding the downstream session id would let an upstream server (or a
 *   second proxy) correlate or hijack the downstream session.
 * - `host`, `content-length`: describe the downstream HTTP message, not the upstream one.
 * - `connection`, `keep-alive`, `te`, `trailer`, `transfer-encoding`, `upgrade`:
 *   hop-by-hop headers (RFC 9110 section 7.6.1), meaningful for one connection only.
 */
export const FORBIDDEN_UPSTREAM_HEADERS: readonly string[] = Object.freeze([
  'mcp-session-id',
  'mcp-protocol-version',
  'last-event-id',
  'host',
  'content-length',
  ...HOP_BY_HOP_HEADERS,
]);

const FORBIDDEN = new Set(FORBIDDEN_UPSTREAM_HEADERS);

/**
 * Whether `name` (any case) is never forwarded upstream, whatever the
 * `Connection` header says: one of {@link FORBIDDEN_UPSTREAM_HEADERS} or a `proxy-*` header.
 */
export function isForbiddenUpstreamHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return FORBIDDEN.has(lower) || lower.startsWith('proxy-');
}

// RFC 9110 tchar: "!#$%&'*+-.^_`|~", digits and letters.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
function hasForbiddenValueChar(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x0d || c === 0x0a || c === 0x00) return true;
  }
  return false;
}

/** Validates one pair and returns its lower-case name. Error messages name the header, never show its value. */
function checkHeader(name: unknown, value: unknown, field: string): string {
  if (typeof name !== 'string' || !TOKEN.test(name)) {
    const shown = typeof name === 'string' ? showValue(name) : typeof name;
    throw new InvalidRequestError(field, `invalid header name ${shown} (must be an HTTP token)`);
  }
  const lower = name.toLowerCase();
  if (typeof value !== 'string') {
    throw new InvalidRequestError(`${field}.${lower}`, `value must be a string, got ${value === null ? 'null' : typeof value}`);
  }
  if (hasForbiddenValueChar(value)) {
    throw new InvalidRequestError(`${field}.${lower}`, 'value contains CR, LF or NUL (value not shown)');
  }
  return lower;
}

/** Names listed in `Connection` values are hop-by-hop too (RFC 9110 section 7.6.1). */
function connectionListed(connection: string | undefined): Set<string> {
  const listed = new Set<string>();
  if (connection === undefined) return listed;
  for (const part of connection.split(',')) {
    const name = part.trim().toLowerCase();
    if (name !== '') listed.add(name);
  }
  return listed;
}

/**
 * Validates headers and applies the upstream header policy.
 *
 * Names are lower-cased. Dropped: {@link FORBIDDEN_UPSTREAM_HEADERS}, every
 * `proxy-*` header, and every header named in a `Connection` value. The same
 * name given twice (in any case) must carry the same value.
 *
 * @param headers - `[name, value]` pairs, e.g. `Object.entries(record)` or a `Headers` object.
 * @returns A fresh plain object with the forwarded headers.
 * @throws {@link InvalidRequestError} with field `headers` (bad name) or
 *   `headers.<name>` (non-string value, CR/LF/NUL in the value, conflicting duplicates).
 *   Messages never contain header values.
 *
 * @example
 * ```ts
 * applyHeaderPolicy(Object.entries({ Authorization: 'Bearer t', 'Mcp-Session-Id': 'abc', Connection: 'x-hop', 'X-Hop': '1' }));
 * // { authorization: 'Bearer t' }
 * ```
 */
export function applyHeaderPolicy(headers: Iterable<readonly [string, string]>): Record<string, string> {
  return applyHeaderPolicyAs(headers, 'headers');
}

/**
 * {@link applyHeaderPolicy} with errors naming `field` (e.g. `'credentials'`)
 * instead of `'headers'`. Internal.
 */
export function applyHeaderPolicyAs(headers: Iterable<readonly [string, string]>, field: string): Record<string, string> {
  const collected = new Map<string, string>();
  for (const pair of headers) {
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw new InvalidRequestError(field, 'each entry must be a [name, value] pair');
    }
    const [name, value] = pair as readonly unknown[];
    const lower = checkHeader(name, value, field);
    const previous = collected.get(lower);
    if (previous !== undefined && previous !== value) {
      throw new InvalidRequestError(`${field}.${lower}`, 'given more than once with different values');
    }
    collected.set(lower, value as string);
  }
  const listed = connectionListed(collected.get('connection'));
  const result: Record<string, string> = {};
  for (const [name, value] of collected) {
    if (isForbiddenUpstreamHeader(name) || listed.has(name)) continue;
    result[name] = value;
  }
  return result;
}

/**
 * Whether `id` is a syntactically valid MCP session id: 1 to 256 characters,
 * each visible ASCII (0x21 to 0x7E), as the MCP Streamable HTTP transport requires.
 * Runs on every request, so it is a plain loop.
 *
 * @example
 * ```ts
 * isValidMcpSessionId('3f2a9c1e-7d4b-4c52-9e1f-0a6b2d8c4e11'); // true
 * isValidMcpSessionId('has space'); // false
 * ```
 */
export function isValidMcpSessionId(id: string): boolean {
  if (typeof id !== 'string' || id.length === 0 || id.length > 256) return false;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

type HeaderRecord = Readonly<Record<string, string | readonly string[] | undefined>>;

function isHeaders(headers: unknown): headers is Headers {
  return typeof (headers as Headers).get === 'function' && typeof (headers as Headers).has === 'function';
}

function recordValue(headers: HeaderRecord, lowerName: string): string | undefined {
  let raw = headers[lowerName];
  if (raw === undefined) {
    // Node lower-cases incoming header names, so this scan only runs for hand-built records.
    for (const key of Object.keys(headers)) {
      if (key.length === lowerName.length && key.toLowerCase() === lowerName) {
        raw = headers[key];
        break;
      }
    }
  }
  if (Array.isArray(raw)) return typeof raw[0] === 'string' ? raw[0] : undefined;
  return typeof raw === 'string' ? raw : undefined;
}

/**
 * Reads the downstream MCP session id from incoming request headers:
 * `mcp-session-id`, or `x-mcp-session-id` when that is absent. Names are
 * matched case-insensitively; for an array value the first element counts.
 *
 * @param headers - a fetch `Headers` (Hono, Workers) or a record such as Node's `IncomingHttpHeaders` (Express).
 * @returns The id, or `undefined` when the header is missing or the id is not
 *   {@link isValidMcpSessionId | valid} (a present but malformed `mcp-session-id`
 *   yields `undefined`; `x-mcp-session-id` is not consulted then).
 *
 * @example
 * ```ts
 * app.post('/mcp', (req, res) => {
 *   const downstreamSessionId = downstreamSessionIdFrom(req.headers);
 *   if (downstreamSessionId === undefined) return res.status(400).end();
 *   // ...
 * });
 * ```
 */
export function downstreamSessionIdFrom(headers: Headers | HeaderRecord): string | undefined {
  const read = isHeaders(headers)
    ? (name: string) => headers.get(name) ?? undefined
    : (name: string) => recordValue(headers, name);
  const id = read('mcp-session-id') ?? read('x-mcp-session-id');
  return id !== undefined && isValidMcpSessionId(id) ? id : undefined;
}
