/**
 * Merged names (`namespace: 'none'` with several gateways): which gateway
 * serves a tool, prompt or resource that the client names exactly as the
 * upstream does, learned from the gateways' complete lists, and what to do
 * when two gateways offer the same name (the first in configuration order
 * wins, visibly).
 *
 * @module
 */

import { UriTemplate } from '@modelcontextprotocol/sdk/shared/uriTemplate.js';

/** A list whose names route calls: tools, prompts, resources (URIs), resource templates (URI templates). */
export type RouteKind = 'tools' | 'prompts' | 'resources' | 'templates';

/**
 * The `_meta` key of a merged list in which several gateways offered the same
 * name; its value is `{ collisions: NameCollision[] }`. Only the first
 * gateway's item (configuration order) is listed, and calls go to it.
 */
export const NAME_COLLISIONS_META_KEY = 'mcp-upstream-registry/collisions';

/** A name (or URI) several gateways list under `namespace: 'none'`. */
export interface NameCollision {
  readonly name: string;
  /** The gateway that serves it: the first in configuration order. */
  readonly gatewayId: string;
  /** The gateways whose item of that name is hidden. */
  readonly shadowed: readonly string[];
}

type Item = Record<string, unknown>;

/** One gateway's complete list. */
export interface GatewayItems {
  readonly gatewayId: string;
  readonly items: readonly unknown[];
}

/** The string `field` of a listed item (a tool's `name`, a resource's `uri`), if it has one. */
export function nameOf(item: unknown, field: string): string | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  const value = (item as Item)[field];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Merges the gateways' lists (given in configuration order): every name once,
 * from the first gateway that lists it; the collisions that hid the others'.
 */
export function mergeFirstWins(lists: readonly GatewayItems[], field: string): { items: unknown[]; collisions: NameCollision[] } {
  const owners = new Map<string, { gatewayId: string; shadowed: string[] }>();
  const items: unknown[] = [];
  for (const { gatewayId, items: gatewayItems } of lists) {
    for (const item of gatewayItems) {
      const name = nameOf(item, field);
      // Malformed items are passed on for the client to judge, as in every other list.
      if (name === undefined) {
        items.push(item);
        continue;
      }
      const owner = owners.get(name);
      if (owner === undefined) {
        owners.set(name, { gatewayId, shadowed: [] });
        items.push(item);
      } else if (owner.gatewayId !== gatewayId && !owner.shadowed.includes(gatewayId)) {
        owner.shadowed.push(gatewayId);
      }
    }
  }
  const collisions = [...owners].flatMap(([name, { gatewayId, shadowed }]) => (shadowed.length > 0 ? [{ name, gatewayId, shadowed }] : []));
  return { items, collisions };
}

/**
 * Per session: the names each gateway listed, by kind. A name routes to the
 * first gateway in configuration order that lists it, whatever order the
 * lists arrived in, so routing is the same for every session that sees the
 * same lists.
 */
export class MergedRoutes {
  readonly #gatewayIds: readonly string[];
  readonly #names = new Map<RouteKind, Map<string, ReadonlySet<string>>>();
  readonly #templates = new Map<string, readonly UriTemplate[]>();
  readonly #warned = new Set<string>();

  constructor(gatewayIds: readonly string[]) {
    this.#gatewayIds = gatewayIds;
  }

  /** Replaces what `gatewayId` offers of `kind` with its complete list. */
  learn(kind: RouteKind, gatewayId: string, names: Iterable<string>): void {
    const byGateway = this.#names.get(kind) ?? new Map<string, ReadonlySet<string>>();
    this.#names.set(kind, byGateway);
    const set = new Set(names);
    byGateway.set(gatewayId, set);
    if (kind === 'templates') this.#templates.set(gatewayId, [...set].flatMap((t) => parseTemplate(t)));
  }

  /** Forgets what `gatewayId` offers of `kind` (its list changed): the next miss lists again. */
  forget(kind: RouteKind, gatewayId: string): void {
    this.#names.get(kind)?.delete(gatewayId);
    if (kind === 'templates') this.#templates.delete(gatewayId);
  }

  /** True when every gateway's complete list of `kind` is known (none forgotten or failed since). */
  complete(kind: RouteKind): boolean {
    const byGateway = this.#names.get(kind);
    return byGateway !== undefined && this.#gatewayIds.every((id) => byGateway.has(id));
  }

  /** The first gateway (configuration order) that lists `name` as a `kind`. */
  owner(kind: RouteKind, name: string): string | undefined {
    const byGateway = this.#names.get(kind);
    if (byGateway === undefined) return undefined;
    return this.#gatewayIds.find((id) => byGateway.get(id)?.has(name) === true);
  }

  /**
   * The gateway of a resource URI: the first that lists it, else the first
   * whose resource template matches it.
   */
  resourceOwner(uri: string): string | undefined {
    const listed = this.owner('resources', uri);
    if (listed !== undefined) return listed;
    return this.#gatewayIds.find((id) => this.#templates.get(id)?.some((t) => matches(t, uri)) === true);
  }

  /** True the first time a collision of `name` is seen in this session: log it once, not on every list. */
  firstSeen(kind: RouteKind, collision: NameCollision): boolean {
    const key = `${kind}\u0000${collision.name}\u0000${collision.shadowed.join('\u0000')}`;
    if (this.#warned.has(key)) return false;
    this.#warned.add(key);
    return true;
  }
}

function parseTemplate(template: string): UriTemplate[] {
  try {
    return [new UriTemplate(template)];
  } catch {
    // An upstream's malformed template routes nothing.
    return [];
  }
}

function matches(template: UriTemplate, uri: string): boolean {
  try {
    return template.match(uri) !== null;
  } catch {
    return false;
  }
}
