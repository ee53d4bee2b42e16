/**
 * Options of {@link mcpSessionFactory} and their validation.
 *
 * @module
 */

import type { Client, ClientOptions } from '@modelcontextprotocol/sdk/client/index.js';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { ClientCapabilities, Implementation } from '@modelcontextprotocol/sdk/types.js';
import { InvalidOptionsError } from '../errors.js';
import { DEFAULT_CLIENT_INFO, implementationOption } from '../internal/client-info.js';
import {
  assertKnownKeys,
  flag,
  isRecord,
  milliseconds,
  optionalFunction,
  optionalRecord,
  optionsObject,
  withMethods,
} from '../internal/validate.js';
import type { SessionCreateRequest } from '../request.js';
import { showValue } from '../show-value.js';
import type { UpstreamSessionStore } from './session-store.js';

/**
 * Options of {@link mcpSessionFactory}. Every field is optional; unknown keys
 * are rejected with `InvalidOptionsError` to catch typos.
 */
export interface McpSessionFactoryOptions {
  /** Name and version the upstream sees in `initialize`. Default `{ name: 'mcp-upstream-registry', version: '0.1.0' }`. */
  clientInfo?: Implementation;
  /** Client capabilities announced in `initialize` (e.g. `{ sampling: {} }` when the proxy forwards sampling). Default `{}`. */
  capabilities?: ClientCapabilities;
  /** The `fetch` used for every upstream HTTP request (e.g. one with a custom dispatcher or mTLS). Default `globalThis.fetch`. */
  fetch?: FetchLike;
  /**
   * Default timeout of every request made on the client (`callTool`, `listTools`, ...)
   * when the call passes none, in ms. Default: the SDK's 60 000.
   */
  requestTimeoutMs?: number;
  /**
   * Make the SDK client refuse, locally, requests for capabilities the server did
   * not advertise. After a re-attach through `sessionStore` the server's
   * capabilities are unknown, so that client does not enforce them. Default `false`.
   */
  enforceStrictCapabilities?: boolean;
  /**
   * Sees each new `Client` before it connects: register notification handlers
   * and server-to-client request handlers (sampling, elicitation, roots) here.
   * A throw or rejection fails the create.
   */
  configureClient?: (client: Client, request: SessionCreateRequest) => void | Promise<void>;
  /**
   * Sees the client of a warm spare (`RegistryOptions.spares`) when the
   * registry hands it to a downstream session, with that session's request.
   * The client is connected already: `configureClient` saw it with the spare's
   * own request (a spare id as `downstreamSessionId`), and the capabilities it
   * declared then stay. Install the handlers that depend on the downstream
   * session here (`BridgeHub.adoptClient` does). A throw is logged by the
   * registry; the session is served all the same.
   */
  adoptClient?: (client: Client, request: SessionCreateRequest) => void;
  /**
   * Remembers the upstream `Mcp-Session-Id` of each (downstream session, gateway)
   * so that a new connection (e.g. on another worker) re-attaches to the same
   * upstream session instead of initializing a new one. Streamable HTTP only.
   */
  sessionStore?: UpstreamSessionStore;
  /**
   * How long the ping that follows a transport error may take before the
   * upstream counts as dead, in ms. Default 1000.
   */
  deathPingTimeoutMs?: number;
  /**
   * Options passed through to every SDK `Client` (its second constructor
   * argument), e.g. `jsonSchemaValidator: new CfWorkerJsonSchemaValidator()`
   * on Cloudflare Workers, where the default Ajv validator is refused
   * (`Code generation from strings disallowed`). `capabilities` and
   * `enforceStrictCapabilities` belong to the factory's own options and are
   * rejected here. Must be a plain object; `jsonSchemaValidator`, if given,
   * must have a `getValidator` method.
   */
  clientOptions?: McpClientOptions;
  /**
   * OAuth for upstreams that require it: returns the SDK `OAuthClientProvider`
   * for a request (e.g. per user: `(request) => providers.get(request.downstreamSessionId)`),
   * or `undefined` for none. The SDK transport then sends its access token,
   * runs discovery and refreshes the token on a 401 by itself, on the same
   * connection: a refresh never rebuilds the upstream session. A provider
   * whose flow needs a user redirect fails the create with the SDK's
   * `UnauthorizedError` until the provider holds tokens.
   */
  authProvider?: (request: SessionCreateRequest) => OAuthClientProvider | undefined;
}

/** SDK `Client` options that {@link McpSessionFactoryOptions.clientOptions} passes through. */
export type McpClientOptions = Omit<ClientOptions, 'capabilities' | 'enforceStrictCapabilities'>;

/** {@link McpSessionFactoryOptions} after validation, with defaults applied. */
export interface ResolvedMcpOptions {
  readonly clientInfo: Implementation;
  readonly capabilities: ClientCapabilities;
  readonly fetch: FetchLike | undefined;
  readonly requestTimeoutMs: number | undefined;
  readonly enforceStrictCapabilities: boolean;
  readonly configureClient: ((client: Client, request: SessionCreateRequest) => void | Promise<void>) | undefined;
  readonly adoptClient: ((client: Client, request: SessionCreateRequest) => void) | undefined;
  readonly sessionStore: UpstreamSessionStore | undefined;
  readonly deathPingTimeoutMs: number;
  readonly clientOptions: McpClientOptions;
  readonly authProvider: ((request: SessionCreateRequest) => OAuthClientProvider | undefined) | undefined;
}

const DEFAULT_DEATH_PING_TIMEOUT_MS = 1000;

const KNOWN_KEYS: ReadonlySet<string> = new Set([
  'clientInfo',
  'capabilities',
  'fetch',
  'requestTimeoutMs',
  'enforceStrictCapabilities',
  'configureClient',
  'adoptClient',
  'sessionStore',
  'deathPingTimeoutMs',
  'clientOptions',
  'authProvider',
]);

/** Client options the factory sets itself, from its own options. */
const OWN_CLIENT_OPTIONS: ReadonlySet<string> = new Set(['capabilities', 'enforceStrictCapabilities']);

function checkClientOptions(value: unknown): McpClientOptions {
  if (value === undefined) return {};
  if (!isRecord(value)) throw new InvalidOptionsError('clientOptions', `expected an object, got ${showValue(value)}`);
  for (const key of Object.keys(value)) {
    if (OWN_CLIENT_OPTIONS.has(key)) {
      throw new InvalidOptionsError(`clientOptions.${key}`, `is set by the factory's own '${key}' option; pass it there`);
    }
  }
  const validator = value.jsonSchemaValidator;
  if (validator !== undefined && (!isRecord(validator) || typeof validator.getValidator !== 'function')) {
    throw new InvalidOptionsError(
      'clientOptions.jsonSchemaValidator',
      `expected a validator with a getValidator() method, got ${showValue(validator)}`,
    );
  }
  return Object.freeze({ ...value }) as McpClientOptions;
}

/**
 * Validates {@link McpSessionFactoryOptions} and applies defaults.
 *
 * @throws InvalidOptionsError naming the first unknown or malformed option.
 */
export function resolveMcpOptions(options: McpSessionFactoryOptions | undefined): ResolvedMcpOptions {
  const o: McpSessionFactoryOptions = optionsObject('options', options);
  assertKnownKeys(o, KNOWN_KEYS);
  return Object.freeze({
    clientInfo: implementationOption('clientInfo', o.clientInfo) ?? DEFAULT_CLIENT_INFO,
    capabilities: optionalRecord<ClientCapabilities>('capabilities', o.capabilities) ?? {},
    fetch: optionalFunction<FetchLike>('fetch', o.fetch),
    requestTimeoutMs: milliseconds('requestTimeoutMs', o.requestTimeoutMs),
    enforceStrictCapabilities: flag('enforceStrictCapabilities', o.enforceStrictCapabilities, false),
    configureClient: optionalFunction<ResolvedMcpOptions['configureClient']>('configureClient', o.configureClient),
    adoptClient: optionalFunction<ResolvedMcpOptions['adoptClient']>('adoptClient', o.adoptClient),
    sessionStore: withMethods<UpstreamSessionStore>('sessionStore', o.sessionStore, ['get', 'set', 'delete']),
    deathPingTimeoutMs: milliseconds('deathPingTimeoutMs', o.deathPingTimeoutMs) ?? DEFAULT_DEATH_PING_TIMEOUT_MS,
    clientOptions: checkClientOptions(o.clientOptions),
    authProvider: optionalFunction<ResolvedMcpOptions['authProvider']>('authProvider', o.authProvider),
  });
}
