/**
 * {@link OwnerCache}: which worker owns a downstream session, remembered for a
 * short while by a worker that forwards to it, so a forwarded request needs no
 * affinity (Redis) round trip on the warm path.
 *
 * @module
 */

import type { WorkerInfo } from '../affinity.js';
import { type Clock, systemClock } from '../clock.js';
import { assertKnownKeys, count, milliseconds, optionsObject, withMethods } from '../internal/validate.js';

/** Options of {@link OwnerCache}. Unknown keys are rejected. */
export interface OwnerCacheOptions {
  /** Most sessions remembered; the least recently stored goes first. Default 10 000. */
  maxEntries?: number;
  /**
   * How long an answer is trusted, from when it was stored (not renewed by
   * use), so a change of owner is seen within this time even if no forward
   * fails. Default 5 000 ms.
   */
  ttlMs?: number;
  /** Time source. Default: the system clock. */
  clock?: Clock;
}

/**
 * Answers of the owner (or of the forward to it) that mean the cached owner may
 * be wrong. Not 503: an owner that is busy or cannot reach Redis still owns the
 * session, and keeps serving it while Redis is away.
 */
const STALE_STATUSES: ReadonlySet<number> = new Set([404, 421, 502, 504, 508]);

const KEYS: ReadonlySet<string> = new Set(['maxEntries', 'ttlMs', 'clock']);

interface Entry {
  readonly owner: WorkerInfo;
  readonly expiresAt: number;
}

/**
 * A bounded, short-lived map from downstream session id to the worker that
 * owns it. Give it to `affinityLocator({ ownerCache })`, which consults it
 * before claiming and fills it from the affinity's answers; tell it how each
 * forward went with {@link OwnerCache.noteForwardAnswer}, so an owner that
 * refused the connection (502), timed out (504), no longer owns the session
 * (421, or 508 when it would forward again) or does not know it (404) is
 * forgotten at once and the next request asks the affinity again.
 *
 * @example
 * ```ts
 * const ownerCache = new OwnerCache();
 * const locateSession = affinityLocator({ affinity, sessionStore, gatewayIds, ownerCache });
 * // on a `not-owner` outcome:
 * const response = await forwardToOwner(request, outcome.owner);
 * ownerCache.noteForwardAnswer(downstreamSessionId, response.status);
 * ```
 */
export class OwnerCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #clock: Clock;

  /** @throws {InvalidOptionsError} on an unknown or malformed option. */
  constructor(options: OwnerCacheOptions = {}) {
    const o: OwnerCacheOptions = optionsObject('options', options);
    assertKnownKeys(o, KEYS);
    this.#clock = withMethods<Clock>('clock', o.clock, ['now']) ?? systemClock;
    this.#maxEntries = count('maxEntries', o.maxEntries, { max: 10_000_000 }) ?? 10_000;
    this.#ttlMs = milliseconds('ttlMs', o.ttlMs, { integer: true }) ?? 5_000;
  }

  /** Sessions remembered now (expired ones included until they are looked up or pushed out). */
  get size(): number {
    return this.#entries.size;
  }

  /** The remembered owner of the session, unless it expired. */
  get(downstreamSessionId: string): WorkerInfo | undefined {
    const entry = this.#entries.get(downstreamSessionId);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > this.#clock.now()) return entry.owner;
    this.#entries.delete(downstreamSessionId);
    return undefined;
  }

  /** Remembers the owner for `ttlMs`, pushing out the oldest entry when full. */
  set(downstreamSessionId: string, owner: WorkerInfo): void {
    this.#entries.delete(downstreamSessionId);
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    this.#entries.set(downstreamSessionId, { owner, expiresAt: this.#clock.now() + this.#ttlMs });
  }

  /** Forgets the session's owner. */
  delete(downstreamSessionId: string): void {
    this.#entries.delete(downstreamSessionId);
  }

  /** Forgets the session's owner when the forwarded request's answer says it may be wrong. Returns whether it did. */
  noteForwardAnswer(downstreamSessionId: string, status: number): boolean {
    if (!STALE_STATUSES.has(status)) return false;
    this.#entries.delete(downstreamSessionId);
    return true;
  }
}
