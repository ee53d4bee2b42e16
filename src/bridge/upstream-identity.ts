/**
 * What the downstream client sees in `initialize`: the upstream's own
 * `serverInfo`, `instructions` and capabilities with one gateway, their union
 * with several.
 *
 * @module
 */

import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Implementation, ServerCapabilities } from '@modelcontextprotocol/sdk/types.js';

/** What one upstream said about itself in its `initialize` result. */
export interface UpstreamIdentity {
  readonly serverInfo: Implementation | undefined;
  readonly capabilities: ServerCapabilities | undefined;
  readonly instructions: string | undefined;
}

/** The identity a bridge's downstream `Server` announces. */
export interface DownstreamIdentity {
  readonly serverInfo: Implementation;
  readonly capabilities: ServerCapabilities;
  readonly instructions: string | undefined;
}

/** What the bridge's options fix, whatever the upstreams say. */
export interface IdentityOverrides {
  readonly serverInfo: Implementation | undefined;
  readonly capabilities: ServerCapabilities | undefined;
  readonly instructions: string | undefined;
}

/**
 * The server capabilities a bridge forwards; anything else an upstream
 * announces (e.g. `experimental`) is not passed on, and `tasks` only from a
 * single gateway (see {@link downstreamIdentity}).
 */
const FORWARDED: readonly (keyof ServerCapabilities)[] = ['tools', 'prompts', 'resources', 'completions', 'logging'];

/** The identity of a connected client's server; fields are `undefined` for a client that joined without `initialize`. */
export function identityOf(client: Client): UpstreamIdentity {
  return {
    serverInfo: client.getServerVersion(),
    capabilities: client.getServerCapabilities(),
    instructions: client.getInstructions(),
  };
}

/** Union of two capability objects: a flag is on if either has it on. */
function unionOf(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = { ...a };
  for (const [key, value] of Object.entries(b)) {
    const mine = result[key];
    if (typeof value === 'boolean' || typeof mine === 'boolean') result[key] = mine === true || value === true;
    else if (isObject(value) && isObject(mine)) result[key] = unionOf(mine, value);
    else if (mine === undefined) result[key] = value;
  }
  return result;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The forwarded capabilities every known upstream offers, merged; `undefined` when no upstream's are known. */
export function unionCapabilities(all: readonly (ServerCapabilities | undefined)[]): ServerCapabilities | undefined {
  const known = all.filter((c): c is ServerCapabilities => c !== undefined);
  if (known.length === 0) return undefined;
  const result: Record<string, unknown> = {};
  for (const capabilities of known) {
    for (const key of FORWARDED) {
      const value = capabilities[key];
      if (!isObject(value)) continue;
      result[key] = isObject(result[key]) ? unionOf(result[key] as Record<string, unknown>, value) : structuredClone(value);
    }
  }
  return result as ServerCapabilities;
}

/**
 * Adds the single upstream's `tasks` capability: a task id means something
 * only to the upstream that minted it, so tasks are forwarded with one
 * gateway only (several would need a task-id → gateway map that survives
 * failover; not built).
 */
function withTasks(capabilities: ServerCapabilities | undefined, single: UpstreamIdentity | undefined): ServerCapabilities | undefined {
  const tasks = single?.capabilities?.tasks;
  if (capabilities === undefined || !isObject(tasks)) return capabilities;
  return { ...capabilities, tasks: structuredClone(tasks) };
}

/** One gateway: its instructions as they are. Several: a `## <gateway id>` heading over each gateway's. */
export function mergeInstructions(byGateway: ReadonlyMap<string, string | undefined>): string | undefined {
  const present = [...byGateway].filter((entry): entry is [string, string] => typeof entry[1] === 'string' && entry[1] !== '');
  if (byGateway.size === 1) return present[0]?.[1];
  if (present.length === 0) return undefined;
  return present.map(([gatewayId, text]) => `## ${gatewayId}\n\n${text}`).join('\n\n');
}

/**
 * The downstream identity: each override wins; otherwise one gateway lends its
 * own `serverInfo`, instructions and capabilities, several their union, and
 * without any known upstream identity (a session resumed from another worker,
 * or none connected) the defaults apply.
 */
export function downstreamIdentity(
  identities: ReadonlyMap<string, UpstreamIdentity | undefined>,
  overrides: IdentityOverrides,
  defaults: Omit<DownstreamIdentity, 'instructions'>,
): DownstreamIdentity {
  const known = [...identities.values()];
  const single = identities.size === 1 ? known[0] : undefined;
  const instructions = new Map([...identities].map(([id, identity]) => [id, identity?.instructions]));
  return {
    serverInfo: overrides.serverInfo ?? single?.serverInfo ?? defaults.serverInfo,
    capabilities: overrides.capabilities ?? withTasks(unionCapabilities(known.map((i) => i?.capabilities)), single) ?? defaults.capabilities,
    instructions: overrides.instructions ?? mergeInstructions(instructions),
  };
}
