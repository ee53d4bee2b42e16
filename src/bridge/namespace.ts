/**
 * How names (tools, prompts) and resource URIs of several gateways share one
 * downstream session without colliding.
 *
 * @module
 */

import { InvalidOptionsError } from '../errors.js';
import { oneOf } from '../internal/validate.js';
import { showValue } from '../show-value.js';

/**
 * When names and URIs get a gateway prefix: `'auto'` with several gateways,
 * `'always'`, or `'none'`: never; several gateways' names are merged as they
 * are and each name is routed to the gateway that lists it (the first one in
 * configuration order when several do).
 */
export type NamespaceMode = 'auto' | 'always' | 'none';

/** The default separator between gateway id and name: `weather__forecast`. */
export const DEFAULT_NAMESPACE_SEPARATOR = '__';

/** A downstream name or URI resolved to its gateway and the upstream's own name or URI. */
export interface NamespacedTarget {
  readonly gatewayId: string;
  readonly name: string;
}

/**
 * Maps upstream names to downstream names and back.
 *
 * With several gateways (or `mode: 'always'`) every tool name, prompt name,
 * resource URI and resource-template URI is prefixed with
 * `<gatewayId><separator>`, and the prefix is removed on the way up. With one
 * gateway and `mode: 'auto'` (the default), or with `mode: 'none'`, names pass
 * through unchanged.
 * Gateway ids must not contain the separator, so a downstream name splits
 * unambiguously at the first separator.
 *
 * @example
 * ```ts
 * const ns = new GatewayNamespace(['weather', 'files']);
 * ns.toDownstream('weather', 'forecast'); // 'weather__forecast'
 * ns.fromDownstream('files__read');      // { gatewayId: 'files', name: 'read' }
 * ```
 */
export class GatewayNamespace {
  /** True when names carry a gateway prefix. */
  readonly prefixed: boolean;
  /**
   * True with several gateways and `mode: 'none'`: names are unchanged, and a
   * name's gateway is known only from the gateways' lists (see `fromDownstream`).
   */
  readonly merged: boolean;
  /** The separator between gateway id and name. */
  readonly separator: string;
  readonly #gatewayIds: readonly string[];
  readonly #known: ReadonlySet<string>;

  /** Throws `InvalidOptionsError` for an empty separator or a gateway id that contains it. */
  constructor(gatewayIds: readonly string[], options: { separator?: string; mode?: NamespaceMode } = {}) {
    const separator = options.separator ?? DEFAULT_NAMESPACE_SEPARATOR;
    if (typeof separator !== 'string' || separator.length === 0) {
      throw new InvalidOptionsError('namespaceSeparator', `expected a non-empty string, got ${showValue(separator)}`);
    }
    const mode = oneOf<NamespaceMode>('namespace', options.mode, ['auto', 'always', 'none'], 'auto');
    this.separator = separator;
    this.prefixed = mode === 'always' || (mode === 'auto' && gatewayIds.length > 1);
    this.merged = mode === 'none' && gatewayIds.length > 1;
    this.#gatewayIds = Object.freeze([...gatewayIds]);
    this.#known = new Set(gatewayIds);
    if (!this.prefixed) return;
    for (const id of gatewayIds) {
      if (id.includes(separator)) {
        throw new InvalidOptionsError('gateways.id', `${showValue(id)} contains the namespace separator ${showValue(separator)}`);
      }
    }
  }

  /** The gateway ids, in configuration order. */
  get gatewayIds(): readonly string[] {
    return this.#gatewayIds;
  }

  /** The downstream form of an upstream name or URI. */
  toDownstream(gatewayId: string, name: string): string {
    return this.prefixed ? `${gatewayId}${this.separator}${name}` : name;
  }

  /**
   * The gateway and upstream name of a downstream name or URI, or `undefined`
   * when no gateway matches. Always `undefined` when {@link GatewayNamespace.merged}:
   * the name alone does not say its gateway.
   */
  fromDownstream(name: string): NamespacedTarget | undefined {
    if (this.merged) return undefined;
    if (!this.prefixed) {
      const only = this.#gatewayIds[0];
      return only === undefined ? undefined : { gatewayId: only, name };
    }
    const at = name.indexOf(this.separator);
    if (at <= 0) return undefined;
    const gatewayId = name.slice(0, at);
    if (!this.#known.has(gatewayId)) return undefined;
    return { gatewayId, name: name.slice(at + this.separator.length) };
  }
}
