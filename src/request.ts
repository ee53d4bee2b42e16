/**
 * {@link SessionCreateRequest}: the validated, immutable description of one
 * upstream session, with its registry key and configuration fingerprint.
 *
 * @module
 */

import { InvalidRequestError } from './errors.js';
import { sha256Hex } from './hash.js';
import { applyHeaderPolicyAs, isValidMcpSessionId } from './headers.js';
import { MAX_TIMER_MS } from './internal/validate.js';
import { redactUrl } from './redact.js';
import { showValue } from './show-value.js';

/** How the upstream MCP server is reached. `'stdio'` needs the `/stdio` subpath's factory. */
export type TransportType = 'streamable-http' | 'sse' | 'stdio';

/** The child process to spawn for transport `'stdio'`, configured per gateway by the proxy. */
export interface StdioCommand {
  /** Executable to run; non-empty, no NUL. */
  readonly command: string;
  /** Arguments; strings without NUL. */
  readonly args?: readonly string[];
  /** Environment variables for the child; names non-empty without `=` or NUL, values without NUL. */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory of the child; non-empty, no NUL. */
  readonly cwd?: string;
}

/** Input of {@link SessionCreateRequest.from}. Unknown keys are rejected, to catch typos. */
export interface SessionCreateRequestInit {
  /** The downstream MCP session id: 1 to 256 characters of visible ASCII (0x21 to 0x7E). */
  downstreamSessionId: string;
  /** Which upstream server (as configured in the proxy): non-empty, at most 256 characters, no control characters. */
  gatewayId: string;
  /** Upstream endpoint, `http:` or `https:`. Required for `'streamable-http'` and `'sse'`, forbidden for `'stdio'`. */
  url?: string | URL;
  /** Default `'streamable-http'`. */
  transport?: TransportType;
  /** Headers sent upstream on every request; the header policy of `applyHeaderPolicy` is applied. Part of the fingerprint. */
  headers?: Record<string, string> | Headers | Iterable<[string, string]>;
  /**
   * Credential headers (e.g. `{ authorization: 'Bearer …' }`) sent upstream on
   * every request, with the same header policy and validation as `headers`, but
   * never part of the fingerprint: when only they change (a refreshed OAuth
   * token), the live upstream session is kept and sends the new values from
   * its next request on. A name may not appear in both `headers` and `credentials`.
   */
  credentials?: Record<string, string> | Headers | Iterable<[string, string]>;
  /** Opaque version of configuration not visible in the other fields (e.g. a hash of TLS or credential material); at most 1024 characters. */
  configVersion?: string;
  /** Connect timeout for the factory, in ms: finite, > 0, at most 2^31 - 1. */
  connectTimeoutMs?: number;
  /** The command to spawn; required for `'stdio'`, forbidden otherwise. */
  stdio?: StdioCommand;
}

const INIT_KEYS: ReadonlySet<string> = new Set([
  'downstreamSessionId',
  'gatewayId',
  'url',
  'transport',
  'headers',
  'credentials',
  'configVersion',
  'connectTimeoutMs',
  'stdio',
]);
const STDIO_KEYS: ReadonlySet<string> = new Set(['command', 'args', 'env', 'cwd']);
const TRANSPORTS: ReadonlySet<string> = new Set(['streamable-http', 'sse', 'stdio']);
const MAX_GATEWAY_ID = 256;
const MAX_CONFIG_VERSION = 1024;


/** A field name from user input (unknown keys, env names), made safe to embed in a message. */
function safeKey(key: string): string {
  return /^[\w.$-]{1,64}$/.test(key) ? key : showValue(key);
}

function fail(field: string, message: string): never {
  throw new InvalidRequestError(field, message);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function hasControlChar(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}

function checkDownstreamSessionId(value: unknown): string {
  if (typeof value !== 'string') return fail('downstreamSessionId', `must be a string, got ${showValue(value)}`);
  if (!isValidMcpSessionId(value)) {
    return fail('downstreamSessionId', `must be 1 to 256 characters of visible ASCII (0x21-0x7E), got ${showValue(value)}`);
  }
  return value;
}

function checkGatewayId(value: unknown): string {
  if (typeof value !== 'string') return fail('gatewayId', `must be a string, got ${showValue(value)}`);
  if (value.length === 0 || value.length > MAX_GATEWAY_ID) {
    return fail('gatewayId', `must be 1 to ${MAX_GATEWAY_ID} characters, got ${value.length}: ${showValue(value)}`);
  }
  if (hasControlChar(value)) return fail('gatewayId', `must not contain control characters, got ${showValue(value)}`);
  return value;
}

function checkTransport(value: unknown): TransportType {
  if (value === undefined) return 'streamable-http';
  if (typeof value !== 'string' || !TRANSPORTS.has(value)) {
    return fail('transport', `must be 'streamable-http', 'sse' or 'stdio', got ${showValue(value)}`);
  }
  return value as TransportType;
}

/** The URL's text may hold credentials or a secret query, so messages show only its redacted form or its scheme. */
function checkUrl(value: unknown, transport: TransportType): string {
  if (transport === 'stdio') {
    if (value !== undefined) fail('url', "must be absent for transport 'stdio' (use 'stdio' instead)");
    return '';
  }
  if (value === undefined) return fail('url', `is required for transport '${transport}'`);
  let parsed: URL;
  if (value instanceof URL) {
    parsed = value;
  } else if (typeof value === 'string') {
    try {
      parsed = new URL(value);
    } catch {
      return fail('url', `is not a valid absolute URL (${value.length} characters, not shown)`);
    }
  } else {
    return fail('url', `must be a string or URL, got ${showValue(value)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return fail('url', `must use http: or https:, got ${showValue(parsed.protocol)}`);
  }
  // fetch refuses such URLs, so the session could never connect; the credential itself is never shown.
  if (parsed.username !== '' || parsed.password !== '') {
    return fail(
      'url',
      `must not contain user info (user:password@), got one for ${showValue(redactUrl(parsed))}; send the credential in an Authorization header ('headers' or 'credentials') instead`,
    );
  }
  return parsed.href;
}

function headerEntries(value: unknown, field: string): Iterable<readonly [string, string]> {
  if (typeof value === 'object' && value !== null) {
    // Headers, Map and arrays of pairs are iterables of pairs; checked pair by pair in applyHeaderPolicyAs.
    if (typeof (value as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function') {
      return value as Iterable<readonly [string, string]>;
    }
    if (isPlainObject(value)) return Object.entries(value) as Array<[string, string]>;
  }
  return fail(field, `must be a record, Headers or an iterable of [name, value] pairs, got ${showValue(value)}`);
}

/** `headers` or `credentials`: validated with the header policy applied, frozen. */
function checkHeaders(value: unknown, field: 'headers' | 'credentials'): Readonly<Record<string, string>> {
  if (value === undefined) return Object.freeze({});
  return Object.freeze(applyHeaderPolicyAs(headerEntries(value, field), field));
}

/** Credentials are headers too: one name in both would make the fingerprint lie about what is sent. */
function checkCredentials(value: unknown, headers: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  const credentials = checkHeaders(value, 'credentials');
  for (const name of Object.keys(credentials)) {
    if (Object.hasOwn(headers, name)) fail(`credentials.${name}`, "is also given in 'headers'; a header is either a credential or not");
  }
  return credentials;
}

/** Cheap equality key of the credential values: a hash, so no raw value is kept twice. `''` when there are none. */
function credentialsKeyOf(credentials: Readonly<Record<string, string>>): string {
  const names = Object.keys(credentials).sort();
  if (names.length === 0) return '';
  return sha256Hex(`c1|${names.length}|${names.map((name) => lp(name) + lp(credentials[name]!)).join('')}`);
}

function checkConfigVersion(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') return fail('configVersion', `must be a string, got ${showValue(value)}`);
  if (value.length > MAX_CONFIG_VERSION) {
    return fail('configVersion', `must be at most ${MAX_CONFIG_VERSION} characters, got ${value.length}`);
  }
  return value;
}

function checkConnectTimeout(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    return fail('connectTimeoutMs', `must be a finite number > 0, got ${showValue(value)}`);
  }
  if (value > MAX_TIMER_MS) return fail('connectTimeoutMs', `must be at most ${MAX_TIMER_MS}, got ${showValue(value)}`);
  return value;
}

/** A string for the child process: arguments and env values may hold secrets, so only the field is named. */
function checkProcessString(field: string, value: unknown, allowEmpty: boolean): string {
  if (typeof value !== 'string') return fail(field, `must be a string, got ${showValue(value)}`);
  if (!allowEmpty && value.length === 0) return fail(field, 'must not be empty');
  if (value.includes('\0')) return fail(field, 'must not contain NUL (value not shown)');
  return value;
}

function checkArgs(value: unknown): readonly string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) return fail('stdio.args', `must be an array of strings, got ${showValue(value)}`);
  return Object.freeze(value.map((arg, i) => checkProcessString(`stdio.args[${i}]`, arg, true)));
}

function checkEnv(value: unknown): Readonly<Record<string, string>> | undefined {
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) return fail('stdio.env', `must be a record of strings, got ${showValue(value)}`);
  const env: Record<string, string> = Object.create(null);
  for (const [name, entry] of Object.entries(value)) {
    if (name.length === 0 || name.includes('=') || name.includes('\0')) {
      fail('stdio.env', `invalid variable name ${showValue(name)} (empty, or contains '=' or NUL)`);
    }
    env[name] = checkProcessString(`stdio.env.${safeKey(name)}`, entry, true);
  }
  return Object.freeze(env);
}

function checkStdio(value: unknown, transport: TransportType): StdioCommand | undefined {
  if (transport !== 'stdio') {
    if (value !== undefined) fail('stdio', `is only allowed for transport 'stdio', not '${transport}'`);
    return undefined;
  }
  if (value === undefined) return fail('stdio', "is required for transport 'stdio'");
  if (!isPlainObject(value)) return fail('stdio', `must be an object, got ${showValue(value)}`);
  for (const key of Object.keys(value)) {
    if (!STDIO_KEYS.has(key)) fail(`stdio.${safeKey(key)}`, 'unknown field');
  }
  const command: StdioCommand = {
    command: checkProcessString('stdio.command', value.command, false),
    args: checkArgs(value.args),
    env: checkEnv(value.env),
    cwd: value.cwd === undefined ? undefined : checkProcessString('stdio.cwd', value.cwd, false),
  };
  return Object.freeze(command);
}

/** `<length>:<text>`: a prefix-free encoding, so no two field sequences serialize alike. */
function lp(text: string): string {
  return `${text.length}:${text}`;
}

function optional(text: string | undefined): string {
  return text === undefined ? '-' : `+${lp(text)}`;
}

function stdioSerialization(stdio: StdioCommand | undefined): string {
  if (stdio === undefined) return '-';
  const args = stdio.args;
  const env = stdio.env === undefined ? undefined : Object.keys(stdio.env).sort();
  return [
    '+',
    lp(stdio.command),
    args === undefined ? '-' : `+${args.length}|${args.map(lp).join('')}`,
    env === undefined ? '-' : `+${env.length}|${env.map((name) => lp(name) + lp(stdio.env![name]!)).join('')}`,
    optional(stdio.cwd),
  ].join('');
}

function fingerprintOf(
  url: string,
  transport: TransportType,
  headers: Readonly<Record<string, string>>,
  configVersion: string | undefined,
  stdio: StdioCommand | undefined,
): string {
  const names = Object.keys(headers).sort();
  const serialized = [
    'v1',
    lp(url),
    lp(transport),
    `${names.length}|${names.map((name) => lp(name) + lp(headers[name]!)).join('')}`,
    optional(configVersion),
    stdioSerialization(stdio),
  ].join('|');
  return sha256Hex(serialized);
}

/**
 * The canonical registry key of (downstream session id, gateway id):
 * `downstreamSessionId + ' ' + gatewayId`. A valid downstream session id
 * never contains a space, so the first space splits every key back into its
 * pair: different pairs can never share a key.
 *
 * @throws {@link InvalidRequestError} if `downstreamSessionId` is not a valid MCP session id.
 *
 * @example
 * ```ts
 * sessionKey('abc123', 'github'); // 'abc123 github'
 * ```
 */
export function sessionKey(downstreamSessionId: string, gatewayId: string): string {
  checkDownstreamSessionId(downstreamSessionId);
  return `${downstreamSessionId} ${gatewayId}`;
}

/** Safe identity of a {@link SessionCreateRequest}, as returned by its `toJSON()`. */
export interface SessionCreateRequestJSON {
  readonly downstreamSessionId: string;
  readonly gatewayId: string;
  readonly transport: TransportType;
  /** The URL without credentials, query or fragment; `''` for `'stdio'`. */
  readonly url: string;
}

/**
 * A validated, immutable request for one upstream session.
 *
 * Build one per downstream session and gateway with {@link SessionCreateRequest.from}
 * and reuse it for every call: `from(request)` returns the same instance at no
 * cost, while `from(init)` validates, copies and hashes on every call.
 *
 * `JSON.stringify(request)` and `console.log(request)` show only the safe
 * identity (see {@link SessionCreateRequest.toJSON}), never headers or credentials.
 *
 * @example
 * ```ts
 * const request = SessionCreateRequest.from({
 *   downstreamSessionId: downstreamSessionIdFrom(req.headers)!,
 *   gatewayId: 'github',
 *   url: 'https://mcp.example.com/mcp',
 *   headers: { authorization: `Bearer ${token}` },
 * });
 * await registry.use(request, (client) => client.callTool({ name: 'search', arguments: { q } }));
 * ```
 */
export class SessionCreateRequest {
  /** The downstream MCP session id. */
  readonly downstreamSessionId: string;
  /** The gateway (upstream server) id. */
  readonly gatewayId: string;
  /** Normalized URL (`href`), which may hold credentials: log `redactUrl(url)` instead. `''` for `'stdio'`. */
  readonly url: string;
  /** How the upstream is reached. */
  readonly transport: TransportType;
  /** Headers to send upstream: lower-case names, header policy applied, frozen. */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * Credential headers to send upstream: lower-case names, header policy
   * applied, frozen. Not part of the fingerprint, never in `toJSON()`.
   */
  readonly credentials: Readonly<Record<string, string>>;
  /**
   * Equality key of {@link SessionCreateRequest.credentials}: equal keys mean
   * equal credentials. A hash of the values, kept in memory only: never log
   * it, never store it. `''` when there are no credentials.
   */
  readonly credentialsKey: string;
  /** Opaque configuration version, part of the fingerprint. */
  readonly configVersion: string | undefined;
  /** Connect timeout for the factory, in ms. */
  readonly connectTimeoutMs: number | undefined;
  /** The command to spawn for `'stdio'` (frozen deep copy). */
  readonly stdio: StdioCommand | undefined;
  /** Canonical key of (downstreamSessionId, gatewayId): an opaque string, equal for equal pairs and distinct otherwise. */
  readonly key: string;
  /**
   * SHA-256 (hex) of a canonical, length-prefixed serialization of url,
   * transport, headers (sorted by name), configVersion and stdio. Two requests
   * for one key with different fingerprints need different upstream sessions.
   * Holds no raw header value, but is an unsalted hash of them: treat it as
   * internal, do not publish it.
   */
  readonly fingerprint: string;

  private constructor(init: SessionCreateRequestInit) {
    const transport = checkTransport(init.transport);
    this.downstreamSessionId = checkDownstreamSessionId(init.downstreamSessionId);
    this.gatewayId = checkGatewayId(init.gatewayId);
    this.url = checkUrl(init.url, transport);
    this.transport = transport;
    this.headers = checkHeaders(init.headers, 'headers');
    this.credentials = checkCredentials(init.credentials, this.headers);
    this.credentialsKey = credentialsKeyOf(this.credentials);
    this.configVersion = checkConfigVersion(init.configVersion);
    this.connectTimeoutMs = checkConnectTimeout(init.connectTimeoutMs);
    this.stdio = checkStdio(init.stdio, transport);
    this.key = `${this.downstreamSessionId} ${this.gatewayId}`;
    this.fingerprint = fingerprintOf(this.url, transport, this.headers, this.configVersion, this.stdio);
    Object.freeze(this);
  }

  /**
   * Validates and copies `init` into a frozen request; returns `init` itself
   * when it already is a `SessionCreateRequest` (O(1), no revalidation).
   *
   * @throws {@link InvalidRequestError} naming the offending field; the message
   *   shows the truncated bad value, except for header values, URLs, stdio
   *   arguments and env values, which may hold secrets.
   */
  static from(init: SessionCreateRequestInit | SessionCreateRequest): SessionCreateRequest {
    if (init instanceof SessionCreateRequest) return init;
    if (!isPlainObject(init)) return fail('init', `must be a plain object, got ${showValue(init)}`);
    for (const key of Object.keys(init)) {
      if (!INIT_KEYS.has(key)) fail(safeKey(key), 'unknown field');
    }
    return new SessionCreateRequest(init);
  }

  /** Safe identity only, so that loggers and `JSON.stringify` never see headers, credentials, URL credentials or queries. */
  toJSON(): SessionCreateRequestJSON {
    return {
      downstreamSessionId: this.downstreamSessionId,
      gatewayId: this.gatewayId,
      transport: this.transport,
      url: this.url === '' ? '' : redactUrl(this.url),
    };
  }

  /** Node's `util.inspect` (and so `console.log`) shows the safe identity too. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `SessionCreateRequest ${JSON.stringify(this.toJSON())}`;
  }
}

/**
 * The registry's warm path for a plain init object: the already-validated
 * request `lookup` holds for the init's (downstream session, gateway), when
 * the init provably describes exactly that request; `undefined` otherwise.
 * Internal.
 *
 * Comparing a few fields against a request that was validated before costs far
 * less than validating, copying and hashing the init again. Only what can be
 * proven equal matches: anything else (a changed or mixed-up field, `Headers`
 * or pair lists, a URL that is not the stored `href`, a duplicated header
 * name) returns `undefined`, and the caller takes `SessionCreateRequest.from`,
 * which accepts and rejects exactly as before. So a match implies that
 * `from(init)` would succeed with equal fields, credentials included.
 */
export function heldRequestFor(
  init: unknown,
  lookup: (downstreamSessionId: string, gatewayId: string) => SessionCreateRequest | undefined,
): SessionCreateRequest | undefined {
  if (!isPlainObject(init)) return undefined;
  const { downstreamSessionId, gatewayId } = init;
  if (typeof downstreamSessionId !== 'string' || typeof gatewayId !== 'string') return undefined;
  const held = lookup(downstreamSessionId, gatewayId);
  return held !== undefined && sameRequest(held, init) ? held : undefined;
}

function sameRequest(held: SessionCreateRequest, init: Record<string, unknown>): boolean {
  for (const key of Object.keys(init)) {
    if (!INIT_KEYS.has(key)) return false;
  }
  return (
    init.downstreamSessionId === held.downstreamSessionId &&
    init.gatewayId === held.gatewayId &&
    (init.transport === undefined ? held.transport === 'streamable-http' : init.transport === held.transport) &&
    // The stored URL is the href of a valid URL, which parses back to itself; stdio has none.
    (held.transport === 'stdio' ? init.url === undefined : init.url === held.url) &&
    init.configVersion === held.configVersion &&
    init.connectTimeoutMs === held.connectTimeoutMs &&
    sameHeaders(init.headers, held.headers) &&
    sameHeaders(init.credentials, held.credentials) &&
    sameStdio(init.stdio, held.stdio)
  );
}

/** `Object.keys(record).length` without the array; an inherited enumerable key only makes a match fail. */
function countKeys(record: object): number {
  let count = 0;
  for (const _ in record) count++;
  return count;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) return false;
  }
  return true;
}

/**
 * A plain record whose names, lower-cased, are exactly the held names (no two
 * alike) with equal string values. The held record survived the header policy,
 * so such a record passes it unchanged: same names, nothing dropped.
 */
function sameHeaders(value: unknown, held: Readonly<Record<string, string>>): boolean {
  const count = countKeys(held);
  if (value === undefined) return count === 0;
  if (!isPlainObject(value) || typeof (value as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function') return false;
  const names = Object.keys(value);
  if (names.length !== count) return false;
  let folded: Set<string> | undefined;
  for (const name of names) {
    const entry = value[name];
    if (typeof entry !== 'string') return false;
    if (Object.hasOwn(held, name)) {
      if (held[name] !== entry) return false;
      continue;
    }
    // A name in another case: ASCII only (a non-ASCII letter such as U+212A can
    // lower-case to an ASCII one), and no two names may fold to one.
    const lower = name.toLowerCase();
    if (!isAscii(name) || !Object.hasOwn(held, lower) || held[lower] !== entry || Object.hasOwn(value, lower)) return false;
    folded ??= new Set();
    if (folded.has(lower)) return false;
    folded.add(lower);
  }
  return true;
}

function sameStrings(value: unknown, held: readonly string[] | undefined): boolean {
  if (held === undefined) return value === undefined;
  if (!Array.isArray(value) || value.length !== held.length) return false;
  for (let i = 0; i < held.length; i++) {
    const entry: unknown = value[i];
    if (typeof entry !== 'string' || entry !== held[i]) return false;
  }
  return true;
}

function sameEnv(value: unknown, held: Readonly<Record<string, string>> | undefined): boolean {
  if (held === undefined) return value === undefined;
  if (!isPlainObject(value)) return false;
  const names = Object.keys(value);
  if (names.length !== countKeys(held)) return false;
  for (const name of names) {
    const entry = value[name];
    if (typeof entry !== 'string' || !Object.hasOwn(held, name) || held[name] !== entry) return false;
  }
  return true;
}

function sameStdio(value: unknown, held: StdioCommand | undefined): boolean {
  if (held === undefined) return value === undefined;
  if (!isPlainObject(value)) return false;
  for (const key of Object.keys(value)) {
    if (!STDIO_KEYS.has(key)) return false;
  }
  return value.command === held.command && value.cwd === held.cwd && sameStrings(value.args, held.args) && sameEnv(value.env, held.env);
}
