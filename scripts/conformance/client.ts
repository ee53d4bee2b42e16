/**
 * The client under test for the MCP conformance suite's CLIENT scenarios: an
 * `UpstreamSessionRegistry` on the default `mcpSessionFactory`, exactly as a
 * proxy uses them. The CLI runs it with the scenario server's URL as the last
 * argument, the scenario name in `MCP_CONFORMANCE_SCENARIO` and, for some
 * auth scenarios, credentials in `MCP_CONFORMANCE_CONTEXT`.
 *
 * Run every scenario: `npm run conformance:client` (scripts/conformance/run-client.ts).
 */
import { auth, type OAuthClientProvider, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { ClientCredentialsProvider, PrivateKeyJwtProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { mcpSessionFactory, UpstreamSessionRegistry } from '../../src/index.js';

const REDIRECT_URL = 'http://127.0.0.1:1/callback';

/**
 * A headless authorization-code provider: it "opens" the authorization URL by
 * fetching it (the scenario's server approves at once) and keeps the code.
 */
class HeadlessOAuthProvider implements OAuthClientProvider {
  #client: OAuthClientInformationMixed | undefined;
  #tokens: OAuthTokens | undefined;
  #verifier = '';
  authorizationCode: string | undefined;

  constructor(preregistered?: OAuthClientInformationMixed) {
    this.#client = preregistered;
  }

  /** Client ID Metadata Document URL (SEP-991): used when the server advertises support for it. */
  readonly clientMetadataUrl = 'https://conformance-test.local/client-metadata.json';

  get redirectUrl(): string {
    return REDIRECT_URL;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'mcp-upstream-registry conformance client',
      redirect_uris: [REDIRECT_URL],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: this.#client?.client_secret === undefined ? 'none' : 'client_secret_basic',
    };
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.#client;
  }

  saveClientInformation(info: OAuthClientInformationMixed): void {
    this.#client = info;
  }

  tokens(): OAuthTokens | undefined {
    return this.#tokens;
  }

  saveTokens(tokens: OAuthTokens): void {
    this.#tokens = tokens;
  }

  async redirectToAuthorization(url: URL): Promise<void> {
    // With a URL-based client id (CIMD) the SDK saves no client information; the code exchange needs it.
    const clientId = url.searchParams.get('client_id');
    if (this.#client === undefined && clientId !== null) this.#client = { client_id: clientId };
    const response = await fetch(url, { redirect: 'manual' });
    const location = response.headers.get('location');
    if (location === null) throw new Error(`authorization server answered ${response.status} without a redirect`);
    this.authorizationCode = new URL(location).searchParams.get('code') ?? undefined;
  }

  saveCodeVerifier(verifier: string): void {
    this.#verifier = verifier;
  }

  codeVerifier(): string {
    return this.#verifier;
  }
}

interface ConformanceContext {
  readonly client_id?: string;
  readonly client_secret?: string;
  readonly private_key_pem?: string;
  readonly signing_algorithm?: string;
}

function context(): ConformanceContext {
  const raw = process.env.MCP_CONFORMANCE_CONTEXT;
  return raw === undefined || raw === '' ? {} : (JSON.parse(raw) as ConformanceContext);
}

function providerFor(scenario: string): { provider: OAuthClientProvider; headless?: HeadlessOAuthProvider } | undefined {
  if (!scenario.startsWith('auth/')) return undefined;
  const ctx = context();
  if (scenario === 'auth/client-credentials-basic' && ctx.client_id !== undefined && ctx.client_secret !== undefined) {
    return { provider: new ClientCredentialsProvider({ clientId: ctx.client_id, clientSecret: ctx.client_secret }) };
  }
  if (scenario === 'auth/client-credentials-jwt' && ctx.client_id !== undefined && ctx.private_key_pem !== undefined) {
    return {
      provider: new PrivateKeyJwtProvider({
        clientId: ctx.client_id,
        privateKey: ctx.private_key_pem,
        algorithm: ctx.signing_algorithm ?? 'ES256',
      }),
    };
  }
  const preregistered =
    ctx.client_id === undefined ? undefined : { client_id: ctx.client_id, ...(ctx.client_secret ? { client_secret: ctx.client_secret } : {}) };
  const headless = new HeadlessOAuthProvider(preregistered);
  return { provider: headless, headless };
}

/** Elicitation: accept with the schema's defaults (SEP-1034). */
function acceptWithDefaults(client: Client): void {
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    const content: Record<string, unknown> = {};
    const schema = (request.params as { requestedSchema?: { properties?: Record<string, { default?: unknown }> } })
      .requestedSchema;
    for (const [name, property] of Object.entries(schema?.properties ?? {})) {
      if (property.default !== undefined) content[name] = property.default;
    }
    return { action: 'accept', content } as never;
  });
}

/** The `resource_metadata` URL of the latest 401/403 challenge, as a browser-flow app would keep it for the code exchange. */
let resourceMetadataUrl: URL | undefined;

const challengeWatchingFetch: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  const challenge = response.status === 401 || response.status === 403 ? response.headers.get('www-authenticate') : null;
  const found = challenge === null ? null : /resource_metadata="([^"]+)"/.exec(challenge);
  if (found?.[1] !== undefined) resourceMetadataUrl = new URL(found[1]);
  return response;
};

function isUnauthorized(error: unknown): boolean {
  // The registry wraps a create's failure in CreateFailedError; the SDK's UnauthorizedError is its cause.
  return error instanceof UnauthorizedError || (error as { cause?: unknown } | undefined)?.cause instanceof UnauthorizedError;
}

/**
 * Runs `fn`; when it ends in the redirect flow (UnauthorizedError after the
 * headless "browser" got a code), exchanges the code for tokens and runs it
 * once more. For a call on a live session (scope step-up) the retry goes out
 * on the same connection: the upstream session is not rebuilt.
 */
async function withAuthorization<T>(url: string, headless: HeadlessOAuthProvider | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    const code = headless?.authorizationCode;
    if (!isUnauthorized(error) || headless === undefined || code === undefined) throw error;
    headless.authorizationCode = undefined;
    await auth(headless, {
      serverUrl: url,
      authorizationCode: code,
      ...(resourceMetadataUrl === undefined ? {} : { resourceMetadataUrl }),
    });
    return fn();
  }
}

async function exercise(client: Client, authorized: <T>(fn: () => Promise<T>) => Promise<T>): Promise<void> {
  const { tools } = await authorized(() => client.listTools());
  for (const tool of tools) {
    const required = (tool.inputSchema as { required?: string[] }).required ?? [];
    const args = Object.fromEntries(required.map((name, i) => [name, i + 1]));
    await authorized(() => client.callTool({ name: tool.name, arguments: args }));
  }
}

async function main(): Promise<void> {
  const url = process.argv.at(-1);
  const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? '';
  if (url === undefined || !/^https?:/.test(url)) throw new Error('usage: client.ts <server-url>');
  const auth0 = providerFor(scenario);
  const registry = new UpstreamSessionRegistry({
    createBackoff: false,
    factory: mcpSessionFactory({
      clientInfo: { name: 'mcp-upstream-registry-conformance', version: '0.1.0' },
      capabilities: { elicitation: { form: { applyDefaults: true } } } as never,
      configureClient: acceptWithDefaults,
      fetch: challengeWatchingFetch,
      ...(auth0 === undefined ? {} : { authProvider: () => auth0.provider }),
    }),
  });
  const request = { downstreamSessionId: 'conformance-1', gatewayId: 'scenario', url };
  const authorized = <T>(fn: () => Promise<T>): Promise<T> => withAuthorization(url, auth0?.headless, fn);
  try {
    await authorized(() => registry.use(request, (client) => exercise(client, authorized)));
  } finally {
    await registry.closeAll();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
