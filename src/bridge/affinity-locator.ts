/**
 * {@link affinityLocator}: the `locateSession` of a multi-worker proxy, on an
 * {@link Affinity} and the upstream session records of the default factory.
 *
 * @module
 */

import type { Affinity } from '../affinity.js';
import { InvalidOptionsError } from '../errors.js';
import { assertKnownKeys, isRecord, withMethods } from '../internal/validate.js';
import type { UpstreamSessionStore } from '../mcp/session-store.js';
import { showValue } from '../show-value.js';
import type { SessionLocation } from './downstream-sessions.js';
import { OwnerCache } from './owner-cache.js';

/** Options of {@link affinityLocator}. Unknown keys are rejected. */
export interface AffinityLocatorOptions {
  /** The registry's affinity, e.g. a `RedisAffinity`. */
  affinity: Affinity;
  /**
   * Where owners record their upstream sessions: the `sessionStore` given to
   * `mcpSessionFactory` (e.g. `RedisSessionStore`). A record proves that the
   * session was created by some worker, so it may be resumed here after its
   * owner died. Without a store, such a session gets 404 and its client re-initializes.
   */
  sessionStore?: UpstreamSessionStore;
  /** The gateways whose records are looked up (those of every session). */
  gatewayIds: readonly string[];
  /**
   * Remembers the owners the affinity named, so that the next requests of a
   * session this worker forwards make no affinity call until the entry expires
   * or a forward tells the cache it failed (`OwnerCache.noteForwardAnswer`).
   * Default: none (one affinity call per request).
   */
  ownerCache?: OwnerCache;
}

const KEYS: ReadonlySet<string> = new Set(['affinity', 'sessionStore', 'gatewayIds', 'ownerCache']);

function checkOptions(options: AffinityLocatorOptions): void {
  if (!isRecord(options)) throw new InvalidOptionsError('options', `expected an object, got ${showValue(options)}`);
  assertKnownKeys(options, KEYS);
  if (options.affinity === undefined) throw new InvalidOptionsError('affinity', 'is required');
  withMethods('affinity', options.affinity, ['claim']);
  withMethods('sessionStore', options.sessionStore, ['get']);
  if (options.ownerCache !== undefined && !(options.ownerCache instanceof OwnerCache)) {
    throw new InvalidOptionsError('ownerCache', 'must be an OwnerCache');
  }
  if (!Array.isArray(options.gatewayIds) || options.gatewayIds.length === 0) {
    throw new InvalidOptionsError('gatewayIds', 'must be a non-empty array of gateway ids');
  }
}

/**
 * Makes the `locateSession` option of `DownstreamSessions` for proxies on many
 * workers. For a session id this worker has no transport for, it claims the
 * session through the affinity:
 *
 * - owned by another live worker → that worker (`dispatch` answers
 *   `not-owner`: forward the request with `forwardToOwner`);
 * - owned by this worker now (its owner died and this worker took it over)
 *   and an upstream session record exists → `'resume'`: `dispatch` rebuilds
 *   the session here and its upstream sessions re-attach through the store;
 * - owned, but no record (an id no worker created, or a session that ended)
 *   → gives the claim back and answers `undefined` (404).
 *
 * One affinity call per request of a session this worker does not hold (none
 * while `ownerCache` remembers its owner); the owner's own requests never reach it. Affinity failures reject with the
 * affinity's error (`AffinityUnavailableError` becomes 503 in `dispatch`).
 *
 * @example
 * ```ts
 * const sessions = new DownstreamSessions({
 *   hub, registry, gateways, createTransport,
 *   locateSession: affinityLocator({ affinity, sessionStore, gatewayIds: gateways.map((g) => g.id) }),
 * });
 * ```
 */
export function affinityLocator(options: AffinityLocatorOptions): (downstreamSessionId: string) => Promise<SessionLocation> {
  checkOptions(options);
  const { affinity, sessionStore, ownerCache } = options;
  const gatewayIds = [...options.gatewayIds];
  const recorded = async (id: string): Promise<boolean> => {
    if (sessionStore === undefined) return false;
    const records = await Promise.all(gatewayIds.map((gatewayId) => sessionStore.get(id, gatewayId)));
    return records.some((record) => record !== undefined);
  };
  return async (downstreamSessionId) => {
    const cached = ownerCache?.get(downstreamSessionId);
    if (cached !== undefined) return cached;
    const claim = await affinity.claim(downstreamSessionId);
    if (!claim.owned) {
      ownerCache?.set(downstreamSessionId, claim.owner);
      return claim.owner;
    }
    let resume = false;
    try {
      resume = await recorded(downstreamSessionId);
    } finally {
      // Never keep a claim on an id nobody created (or that we could not check): the affinity would renew it forever.
      if (!resume) await affinity.release(downstreamSessionId);
    }
    return resume ? 'resume' : undefined;
  };
}
