/**
 * Proxy configuration for the examples: gateways from a JSON file
 * (`MCP_PROXY_CONFIG=path/to/config.json`) or from the environment
 * (`MCP_GATEWAYS='[{"id":"counter","url":"http://127.0.0.1:3001/mcp"}]'`),
 * listening address from `HOST` / `PORT`.
 */
import { readFileSync } from 'node:fs';
import type { BridgeGateway } from 'mcp-upstream-registry/bridge';
import { SessionCreateRequest } from 'mcp-upstream-registry';

/** What the examples read at startup. */
export interface ProxyConfig {
  readonly gateways: readonly BridgeGateway[];
  readonly host: string;
  readonly port: number;
}

function parseGateways(json: unknown, source: string): BridgeGateway[] {
  const gateways = Array.isArray(json) ? json : (json as { gateways?: unknown } | null)?.gateways;
  if (!Array.isArray(gateways) || gateways.length === 0) {
    throw new Error(`${source}: expected a non-empty array of gateways ({ "id": ..., "url": ... })`);
  }
  for (const gateway of gateways as BridgeGateway[]) {
    // Fail at startup, not at the first session: validates url, headers, transport...
    const { id, ...rest } = gateway;
    SessionCreateRequest.from({ ...rest, downstreamSessionId: 'config-check', gatewayId: id });
  }
  return gateways as BridgeGateway[];
}

/** Where to listen: `HOST` / `PORT`, else the config file's, else 127.0.0.1:3000. */
export function listenAddress(env: NodeJS.ProcessEnv = process.env, file: { host?: string; port?: number } = {}): { host: string; port: number } {
  return { host: env.HOST ?? file.host ?? '127.0.0.1', port: Number(env.PORT ?? file.port ?? 3000) };
}

/**
 * Reads the configuration, or `undefined` when no gateways are configured.
 * A config file may also set `host` and `port`; `HOST` and `PORT` win.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ProxyConfig | undefined {
  let file: { host?: string; port?: number } = {};
  let gateways: BridgeGateway[] | undefined;
  if (env.MCP_PROXY_CONFIG) {
    file = JSON.parse(readFileSync(env.MCP_PROXY_CONFIG, 'utf8')) as typeof file;
    gateways = parseGateways(file, env.MCP_PROXY_CONFIG);
  } else if (env.MCP_GATEWAYS) {
    gateways = parseGateways(JSON.parse(env.MCP_GATEWAYS), 'MCP_GATEWAYS');
  }
  if (gateways === undefined) return undefined;
  return { gateways, ...listenAddress(env, file) };
}
