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
