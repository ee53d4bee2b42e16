/**
 * Proxy configuration for the examples: gateways from a JSON file
 * (`MCP_PROXY_CONFIG=path/to/config.json`) or from the environment
 * (`MCP_GATEWAYS='[{"id":"counter","url":"http://127.0.0.1:3001/mcp"}]'`),
 * listening address from `HOST` / `PORT`. Everything is validated at startup:
 * what the examples cannot serve is refused here, with the reason, instead of
 * at the first session.
 */
import { readFileSync } from 'node:fs';
import { SessionCreateRequest } from 'mcp-upstream-registry';
import { type BridgeBehaviour, type BridgeGateway, GatewayNamespace, type NamespaceMode } from 'mcp-upstream-registry/bridge';

/** What the examples read at startup. */
export interface ProxyConfig {
  readonly gateways: readonly BridgeGateway[];
  /** Namespacing (`namespace`, `namespaceSeparator`) from the config file. */
  readonly bridge: BridgeBehaviour;
  readonly host: string;
  readonly port: number;
}

/** The keys a config file may have. */
const FILE_KEYS = new Set(['gateways', 'host', 'port', 'namespace', 'namespaceSeparator']);

interface ConfigFile {
  gateways?: unknown;
  host?: string;
  port?: number;
  namespace?: NamespaceMode;
  namespaceSeparator?: string;
}

function parseGateways(json: unknown, source: string, env: NodeJS.ProcessEnv): BridgeGateway[] {
  const gateways = Array.isArray(json) ? json : (json as ConfigFile | null)?.gateways;
  if (!Array.isArray(gateways) || gateways.length === 0) {
    throw new Error(`${source}: expected a non-empty array of gateways ({ "id": ..., "url": ... })`);
  }
  const ids = new Set<string>();
  for (const [index, gateway] of (gateways as BridgeGateway[]).entries()) {
    // Fail at startup, not at the first session: validates url, headers, transport, stdio...
    const { id, ...rest } = gateway;
    SessionCreateRequest.from({ ...rest, downstreamSessionId: 'config-check', gatewayId: id });
    if (ids.has(id)) throw new Error(`${source}: gateways[${index}]: duplicate id ${JSON.stringify(id)}`);
    ids.add(id);
    // A stdio child lives in one worker: another worker cannot take its session over.
    if (gateway.transport === 'stdio' && env.REDIS_URL) {
      throw new Error(`${source}: gateway ${JSON.stringify(id)} uses transport 'stdio', which a cluster of workers (REDIS_URL) cannot share; serve it over HTTP`);
    }
  }
  return gateways as BridgeGateway[];
}

/** Namespacing from the config file; refuses what the bridge would refuse at the first session. */
function parseNamespace(file: ConfigFile, gateways: readonly BridgeGateway[], source: string): BridgeBehaviour {
  for (const key of Object.keys(file)) {
    if (!FILE_KEYS.has(key)) throw new Error(`${source}: unknown key ${JSON.stringify(key)} (expected ${[...FILE_KEYS].join(', ')})`);
  }
  const bridge: BridgeBehaviour = {
    ...(file.namespace !== undefined && { namespace: file.namespace }),
    ...(file.namespaceSeparator !== undefined && { namespaceSeparator: file.namespaceSeparator }),
  };
  try {
    new GatewayNamespace(gateways.map((g) => g.id), { mode: bridge.namespace, separator: bridge.namespaceSeparator });
  } catch (error) {
    throw new Error(`${source}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return bridge;
}

/** Where to listen: `HOST` / `PORT`, else the config file's, else 127.0.0.1:3000. */
export function listenAddress(env: NodeJS.ProcessEnv = process.env, file: { host?: string; port?: number } = {}): { host: string; port: number } {
  return { host: env.HOST ?? file.host ?? '127.0.0.1', port: Number(env.PORT ?? file.port ?? 3000) };
}

/** How names reach the client, for the startup line: a multi-gateway proxy's choice made visible. */
export function describeNamespace(gateways: readonly BridgeGateway[], bridge: BridgeBehaviour): string {
  const namespace = new GatewayNamespace(gateways.map((g) => g.id), { mode: bridge.namespace, separator: bridge.namespaceSeparator });
  if (namespace.prefixed) return `names prefixed "<gateway id>${namespace.separator}"`;
  return namespace.merged ? 'names merged unchanged (a name several gateways offer goes to the first)' : 'names unchanged';
}

/**
 * Reads the configuration, or `undefined` when no gateways are configured.
 * A config file may also set `host`, `port`, `namespace` (`'auto'`: prefix
 * names only with several gateways; `'always'`; `'none'`: merge several
 * gateways' names unprefixed, first gateway wins a collision) and `namespaceSeparator`;
 * `HOST` and `PORT` win.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ProxyConfig | undefined {
  if (env.MCP_PROXY_CONFIG) {
    const source = env.MCP_PROXY_CONFIG;
    const file = JSON.parse(readFileSync(source, 'utf8')) as ConfigFile;
    if (typeof file !== 'object' || file === null || Array.isArray(file)) throw new Error(`${source}: expected an object { "gateways": [...] }`);
    const gateways = parseGateways(file, source, env);
    return { gateways, bridge: parseNamespace(file, gateways, source), ...listenAddress(env, file) };
  }
  if (env.MCP_GATEWAYS) {
    const gateways = parseGateways(JSON.parse(env.MCP_GATEWAYS), 'MCP_GATEWAYS', env);
    return { gateways, bridge: parseNamespace({}, gateways, 'MCP_GATEWAYS'), ...listenAddress(env) };
  }
  return undefined;
}
