/**
 * Redaction of URLs for logs, events, snapshots and error messages: upstream
 * URLs may carry credentials (`https://user:token@host`) or secrets in the
 * query string (`?api_key=...`), and none of that may leave the library.
 *
 * @module
 */

/** Returned by {@link redactUrl} for input that is not a URL at all. */
export const INVALID_URL = '[invalid url]';

/**
 * The parts of a URL that are safe to show: scheme, host, port and path.
 * Username, password, query string and fragment are dropped.
 *
 * @returns `origin + pathname`, or `'[invalid url]'` when `url` does not parse.
 *
 * @example
 * ```ts
 * redactUrl('https://user:secret@api.example.com:8443/mcp?key=abc#x');
 * // 'https://api.example.com:8443/mcp'
 * ```
 */
export function redactUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : new URL(url.href);
  } catch {
    return INVALID_URL;
  }
  // `origin` is "null" for non-special schemes, so build it from parts that never hold userinfo.
  if (parsed.host !== '' || parsed.href.startsWith(`${parsed.protocol}//`)) {
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  }
  // Opaque URLs (`data:`, `mailto:`) keep their payload in the path; show only the scheme.
  return `${parsed.protocol}[redacted]`;
}

// A scheme, "://", then everything up to whitespace or a character that usually delimits a URL in prose.
const URL_IN_TEXT = /[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;
// Sentence punctuation that most likely ends the prose, not the URL.
const TRAILING_PUNCTUATION = /[.,;:!?)\]}]+$/;

/**
 * Strips userinfo, query and fragment by hand, for URLs the WHATWG parser rejects
 * (e.g. `http://user:pass@[bad`): such a string may still hold a credential.
 */
function redactUnparseable(candidate: string): string {
  const schemeEnd = candidate.indexOf('://') + 3;
  const scheme = candidate.slice(0, schemeEnd);
  let rest = candidate.slice(schemeEnd);
  const cut = rest.search(/[?#]/);
  if (cut !== -1) rest = rest.slice(0, cut);
  const slash = rest.indexOf('/');
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  const at = authority.lastIndexOf('@');
  return `${scheme}${at === -1 ? authority : authority.slice(at + 1)}${path}`;
}

function redactCandidate(match: string): string {
  const trailing = TRAILING_PUNCTUATION.exec(match)?.[0] ?? '';
  const candidate = match.slice(0, match.length - trailing.length);
  const redacted = redactUrl(candidate);
  return (redacted === INVALID_URL ? redactUnparseable(candidate) : redacted) + trailing;
}

/**
 * Replaces every `scheme://…` URL inside free text with its {@link redactUrl | redacted}
 * form. Use it on error messages from fetch, the SDK or a server before logging
 * them, since they often embed the URL they failed on.
 *
 * @example
 * ```ts
 * redactText('connect ECONNREFUSED https://u:p@10.0.0.5/mcp?token=t.');
 * // 'connect ECONNREFUSED https://10.0.0.5/mcp.'
 * ```
 */
export function redactText(text: string): string {
  return text.replace(URL_IN_TEXT, redactCandidate);
}

/**
 * An error as log text: `name: message`, cut at `maxLength` characters, with URL
 * credentials, query strings and fragments removed (see {@link redactText}).
 */
export function describeError(error: unknown, maxLength = 300): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return redactText(text.length > maxLength ? `${text.slice(0, maxLength)}…` : text);
}

const REDACTED = '[redacted]';
/** Header values shorter than this are not searched for (they would blank out ordinary words). */
const MIN_SECRET_LENGTH = 3;
/** Parts of a header value (`Bearer <token>`) at least this long are secrets on their own. */
const MIN_SECRET_PART_LENGTH = 8;
/** Cause chains are copied this deep; what lies below is cut. */
const MAX_CAUSE_DEPTH = 5;
/** Errors of an `AggregateError` copied; the rest are cut. */
const MAX_AGGREGATED = 10;
/** Own fields kept on a redacted copy: what callers switch on, never free text of their own. */
const KEPT_FIELDS = ['name', 'code', 'status', 'statusCode', 'errno', 'syscall', 'reason', 'gatewayId', 'field', 'option'];

/**
 * The values that must never appear in text the library emits: every header
 * and credential value given, and the long whitespace-separated parts of each
 * (the token of `Bearer <token>`). Longest first, so a value is replaced
 * before its parts.
 */
export function secretValues(...records: readonly Readonly<Record<string, string>>[]): readonly string[] {
  const found = new Set<string>();
  for (const record of records) {
    for (const value of Object.values(record)) {
      if (value.length >= MIN_SECRET_LENGTH) found.add(value);
      for (const part of value.split(/\s+/)) if (part.length >= MIN_SECRET_PART_LENGTH) found.add(part);
    }
  }
  return [...found].sort((a, b) => b.length - a.length);
}

/** {@link redactText}, and every one of `secrets` replaced by `[redacted]`. */
function redactWith(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return redactText(out);
}

/** A property read that survives throwing getters and proxies. */
function read(value: object, key: PropertyKey): unknown {
  try {
    return (value as Record<PropertyKey, unknown>)[key];
  } catch {
    return undefined;
  }
}

function define(target: object, key: PropertyKey, value: unknown, enumerable: boolean): void {
  Object.defineProperty(target, key, { value, enumerable, writable: true, configurable: true });
}

function isPrimitive(value: unknown): value is string | number | boolean | bigint | symbol | null | undefined {
  return value === null || (typeof value !== 'object' && typeof value !== 'function');
}

/**
 * A copy of `error` that is safe to put in an event, a log line or an error
 * `cause`: same prototype (so `instanceof` and `name` still work) and the
 * fields callers switch on (`code`, `status`, …), with the message and stack
 * passed through {@link redactText} (URL user info, query, fragment) and every
 * one of `secrets` (see {@link secretValues}) replaced by `[redacted]`. The
 * `cause` chain (and an `AggregateError`'s `errors`) are copied the same way,
 * at most 5 levels deep. Anything else the error carries (a response body, a
 * request, headers) is dropped. A thrown non-`Error` object becomes its
 * redacted text; primitives other than strings are returned as they are.
 *
 * @example
 * ```ts
 * const safe = redactError(new Error('GET http://u:pw@host/mcp?token=t failed'));
 * safe.message; // 'GET http://host/mcp failed'
 * ```
 */
export function redactError(error: unknown, secrets: readonly string[] = []): unknown {
  return redactedCopy(error, secrets, 0);
}

function redactedCopy(value: unknown, secrets: readonly string[], depth: number): unknown {
  if (typeof value === 'string') return redactWith(value, secrets);
  if (isPrimitive(value)) return value;
  if (depth >= MAX_CAUSE_DEPTH) return '[cause chain cut]';
  if (!(value instanceof Error)) return redactWith(describeError(value, 1000), secrets);
  const copy = Object.create(Object.getPrototypeOf(value) as object) as Error;
  define(copy, 'message', redactWith(String(read(value, 'message') ?? ''), secrets), false);
  const stack = read(value, 'stack');
  if (typeof stack === 'string') define(copy, 'stack', redactWith(stack, secrets), false);
  // Read through the original (its getters work there) and kept as own values:
  // a prototype getter (DOMException's `name`, `code`) would throw on the copy.
  for (const field of KEPT_FIELDS) {
    const kept = read(value, field);
    if (kept === undefined || !isPrimitive(kept)) continue;
    define(copy, field, typeof kept === 'string' ? redactWith(kept.slice(0, 200), secrets) : kept, field !== 'name' && Object.hasOwn(value, field));
  }
  // Brands (e.g. the RegistryError one) are symbol-keyed booleans: keep them, so branded `instanceof` still holds.
  for (const symbol of Object.getOwnPropertySymbols(value)) {
    const kept = read(value, symbol);
    if (typeof kept === 'boolean') define(copy, symbol, kept, false);
  }
  if (Object.hasOwn(value, 'cause')) {
    const cause = read(value, 'cause');
    define(copy, 'cause', redactedCopy(cause, secrets, depth + 1), false);
  }
  const errors = read(value, 'errors');
  if (Array.isArray(errors)) {
    define(copy, 'errors', errors.slice(0, MAX_AGGREGATED).map((e: unknown) => redactedCopy(e, secrets, depth + 1)), false);
  }
  return copy;
}
