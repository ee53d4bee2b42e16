/**
 * {@link RedisAffinity}: one owner per downstream session across many worker
 * processes, coordinated through Redis.
 *
 * @module
 */

import type { Affinity, ClaimResult, WorkerInfo } from '../affinity.js';
import type { ClockTimer } from '../clock.js';
import { AffinityUnavailableError, InvalidRequestError } from '../errors.js';
import { isValidMcpSessionId } from '../headers.js';
import { describeError } from '../redact.js';
import { assertIoredisInstalled, bounded, endClient, isClusterClient, type OwnedClient, openClient } from './client.js';
import { RedisKeys } from './keys.js';
import { type RedisAffinityOptions, type ResolvedRedisAffinityOptions, resolveRedisAffinityOptions } from './options.js';
import { CLAIM, CLAIM_SLOT, REFRESH, RELEASE, RELEASE_OWNERSHIP, runScript } from './scripts.js';

/** What {@link RedisSessionStore} shares with its affinity; not public API. */
export interface RedisAffinityInternals {
  readonly keys: RedisKeys;
  readonly options: ResolvedRedisAffinityOptions;
  /** Starts the affinity if needed and returns its client. */
  connect(): Promise<OwnedClient['client']>;
}

let internalsOf: (affinity: RedisAffinity) => RedisAffinityInternals;

/**
 * Runs `work` on the affinity's client (starting it if needed), bounded by its
 * `commandTimeoutMs`; any failure becomes `AffinityUnavailableError`. What the
 * stores sharing an affinity use for each call.
 */
export async function runOnAffinity<T>(
  internals: RedisAffinityInternals,
  what: string,
  work: (client: OwnedClient['client']) => Promise<T>,
): Promise<T> {
  const attempt = async (): Promise<T> => work(await internals.connect());
  try {
    return await bounded(attempt(), internals.options.commandTimeoutMs, what);
  } catch (error) {
    if (error instanceof AffinityUnavailableError) throw error;
    throw new AffinityUnavailableError(`Redis failed ${what}: ${describeError(error)}`, error);
  }
}

/** Internal accessor for {@link RedisSessionStore}; not exported from the package. */
export function redisAffinityInternals(affinity: RedisAffinity): RedisAffinityInternals {
  return internalsOf(affinity);
}

const OWNED: ClaimResult = Object.freeze({ owned: true });

/** Sessions renewed per script call: bounds how long one renewal blocks Redis. */
const RENEW_BATCH = 500;

/** How often a Cluster claim re-checks a new owner that also turned out dead, before naming it without an address. */
const CLUSTER_CLAIM_ROUNDS = 3;

/** One downstream session this worker owns. Replaced, never mutated across owners. */
interface Ownership {
  readonly ownerKey: string;
  readonly recordsKey: string;
  /** Local estimate (clock time) of when Redis lets the ownership key expire. */
  validUntil: number;
}

/**
 * An {@link Affinity} on Redis (ioredis): exactly one live worker owns each
 * downstream session; the others learn who it is and forward to it.
 *
 * - **Heartbeat.** The worker keeps a key with a TTL (`ownershipTtlMs`)
 *   holding its {@link WorkerInfo}, renewed every `heartbeatIntervalMs` by an
 *   unref'd timer.
 * - **Claim.** One Lua script: a free session is taken (SET NX semantics);
 *   a session owned by a worker whose heartbeat is alive answers that owner;
 *   a session whose owner's heartbeat is gone is taken over in the same atomic
 *   compare-and-set, so of N racing claims exactly one wins. A successful
 *   claim renews this worker's heartbeat in the same step.
 * - **Renewal.** The ownership TTLs of every owned session are renewed on the
 *   heartbeat timer in batches of one script call each, never per acquire:
 *   once the registry cached the claim, the warm path makes no Redis call.
 *   A renewal that finds another worker owning a session (this one stalled
 *   past its TTL) drops it and tells the {@link RedisAffinity.onOwnershipLost}
 *   listeners, so the registry retires its upstream sessions at once.
 * - **Release** is a compare-and-delete: only what this worker still owns.
 * - **Bounded.** Every Redis call is bounded by `commandTimeoutMs`; what
 *   happens then is `onRedisError` (default `'fail-closed'`).
 * - **Redis Cluster.** Pass an ioredis `Cluster` as `redis`. A session's keys
 *   share a hash tag, so each script touches one slot; the claim then reads the
 *   owner's heartbeat (another slot) in a second step, and renewals and
 *   releases go one session per script call.
 *
 * Starts on the first `claim`, or explicitly with {@link RedisAffinity.start}.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { UpstreamSessionRegistry } from 'mcp-upstream-registry';
 * import { RedisAffinity } from 'mcp-upstream-registry/redis';
 *
 * const affinity = new RedisAffinity({
 *   redis: new Redis(process.env.REDIS_URL!),
 *   workerId: process.env.HOSTNAME,
 *   address: `http://${process.env.POD_IP}:3000`,
 * });
 * await affinity.start(); // optional: fail fast when Redis is unreachable
 * const registry = new UpstreamSessionRegistry({ affinity });
 * ```
 */
export class RedisAffinity implements Affinity {
  /** This worker's id. */
  readonly workerId: string;
  /** What other workers read about this one: its id and forwarding address. */
  readonly info: WorkerInfo;

  readonly #options: ResolvedRedisAffinityOptions;
  readonly #keys: RedisKeys;
  readonly #infoJson: string;
  readonly #owned = new Map<string, Ownership>();
  readonly #queues = new Map<string, Promise<unknown>>();
  readonly #listeners = new Set<(downstreamSessionId: string) => void>();
  #client: OwnedClient | undefined;
  #opening: Promise<OwnedClient> | undefined;
  #starting: Promise<void> | undefined;
  #timer: ClockTimer | undefined;
  #ticks: Promise<void> = Promise.resolve();
  #degraded = false;
  #closing: Promise<void> | undefined;

  static {
    internalsOf = (affinity) => ({
      keys: affinity.#keys,
      options: affinity.#options,
      connect: async () => {
        await affinity.start();
        return affinity.#client!.client;
      },
    });
  }

  /** @throws {InvalidOptionsError} on a missing, unknown or malformed option. */
  constructor(options: RedisAffinityOptions) {
    this.#options = resolveRedisAffinityOptions(options);
    assertIoredisInstalled(this.#options.redis);
    this.#keys = new RedisKeys(this.#options.keyPrefix);
    this.workerId = this.#options.workerId;
    const address = this.#options.address;
    this.info = Object.freeze(address === undefined ? { workerId: this.workerId } : { workerId: this.workerId, address });
    this.#infoJson = JSON.stringify(this.info);
  }

  /** Number of downstream sessions this worker believes it owns. */
  get ownedCount(): number {
    return this.#owned.size;
  }

  /**
   * Connects (when the affinity makes its own client), writes the heartbeat and
   * starts the renewal timer. Idempotent; `claim` calls it. A failed start can
   * be retried.
   *
   * @throws {AffinityUnavailableError} when Redis does not answer within `commandTimeoutMs`, or after `close()`.
   */
  start(): Promise<void> {
    if (this.#closing !== undefined) return Promise.reject(closedError());
    this.#starting ??= this.#start().catch((error: unknown) => {
      this.#starting = undefined;
      throw error;
    });
    return this.#starting;
  }

  /**
   * Claims `downstreamSessionId` for this worker, or names the live worker that
   * owns it. Takes the session over when its owner's heartbeat is gone.
   *
   * @throws {AffinityUnavailableError} when Redis fails or is slower than
   *   `commandTimeoutMs` and `onRedisError` is `'fail-closed'`, or after `close()`.
   * @throws {InvalidRequestError} when the id is not a valid MCP session id.
   */
  claim(downstreamSessionId: string): Promise<ClaimResult> {
    if (!isValidMcpSessionId(downstreamSessionId)) return Promise.reject(invalidId());
    if (this.#closing !== undefined) return Promise.reject(closedError());
    return this.#serial(downstreamSessionId, () => this.#claim(downstreamSessionId));
  }

  /**
   * Gives the session up if this worker still owns it (compare-and-delete),
   * together with its upstream session records. Never rejects on a Redis
   * failure: it logs, stops renewing, and the key expires after its TTL.
   */
  release(downstreamSessionId: string): Promise<void> {
    if (!isValidMcpSessionId(downstreamSessionId)) return Promise.reject(invalidId());
    return this.#serial(downstreamSessionId, () => this.#release(downstreamSessionId));
  }

  /**
   * Subscribes to sessions this worker lost: another worker took them over
   * (this one stalled past its TTL), or, with `'fail-closed'`, Redis stayed
   * unreachable until their ownership ran out. The session is already dropped
   * from this worker when the listener runs. Returns an unsubscribe function.
   */
  onOwnershipLost(listener: (downstreamSessionId: string) => void): () => void {
    const entry = (id: string): void => listener(id);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /**
   * Renews the heartbeat and every owned session's TTL now (what the timer
   * does every `heartbeatIntervalMs`). Resolves when done; failures are
   * handled as on the timer (logged, and with `'fail-closed'` expired
   * sessions are reported lost), never thrown.
   */
  refresh(): Promise<void> {
    this.#ticks = this.#ticks.then(() => this.#tick());
    return this.#ticks;
  }

  /**
   * Stops the timer, gives up the sessions this worker owns (keeping their
   * upstream session records so a new owner can re-attach), deletes the
   * heartbeat, and quits the Redis client if the affinity created it.
   * Idempotent; never rejects; bounded by about 3 x `commandTimeoutMs`.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #start(): Promise<void> {
    const { client } = await this.#connect();
    await bounded(this.#writeHeartbeat(client), this.#options.commandTimeoutMs, 'the heartbeat');
    if (this.#closing === undefined && this.#timer === undefined) this.#schedule();
  }

  #connect(): Promise<OwnedClient> {
    this.#opening ??= openClient(this.#options.redis, this.#options.logger).then(
      (opened) => {
        this.#client = opened;
        return opened;
      },
      (error: unknown) => {
        this.#opening = undefined;
        throw error;
      },
    );
    return this.#opening;
  }

  #writeHeartbeat(client: OwnedClient['client']): Promise<unknown> {
    return client.call(
      'SET',
      this.#keys.worker(this.workerId),
      this.#infoJson,
      'PX',
      this.#options.ownershipTtlMs,
    );
  }

  /** Runs `work` after every earlier claim/release of the same session, so local state follows Redis order. */
  #serial<T>(downstreamSessionId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(downstreamSessionId) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#queues.set(downstreamSessionId, tail);
    void tail.then(() => {
      if (this.#queues.get(downstreamSessionId) === tail) this.#queues.delete(downstreamSessionId);
    });
    return result;
  }

  async #claim(downstreamSessionId: string): Promise<ClaimResult> {
    const sentAt = this.#options.clock.now();
    try {
      const answer = await bounded(
        this.#claimInRedis(downstreamSessionId),
        this.#options.commandTimeoutMs,
        'the ownership claim',
      );
      return this.#applyClaim(downstreamSessionId, answer, sentAt);
    } catch (error) {
      return this.#claimFailed(downstreamSessionId, error);
    }
  }

  async #claimInRedis(downstreamSessionId: string): Promise<unknown> {
    await this.start();
    const client = this.#client!.client;
    if (isClusterClient(client)) return this.#claimOnCluster(client, downstreamSessionId);
    return runScript(
      client,
      CLAIM,
      [this.#keys.owner(downstreamSessionId)],
      [this.workerId, this.#options.ownershipTtlMs, this.#keys.workerPrefix, this.#infoJson],
    );
  }

  /**
   * {@link CLAIM_SLOT}, then the owner's heartbeat; a dead owner is taken over
   * by a second compare-and-set naming it. This worker's heartbeat is renewed
   * alongside, as the single-node script does in its one step.
   */
  async #claimOnCluster(client: OwnedClient['client'], downstreamSessionId: string): Promise<unknown> {
    const [answer] = await Promise.all([this.#claimSlot(client, downstreamSessionId), this.#writeHeartbeat(client)]);
    return answer;
  }

  async #claimSlot(client: OwnedClient['client'], downstreamSessionId: string): Promise<unknown> {
    const ownerKey = this.#keys.owner(downstreamSessionId);
    let dead = '';
    let answer: unknown;
    for (let round = 0; round < CLUSTER_CLAIM_ROUNDS; round++) {
      answer = await runScript(client, CLAIM_SLOT, [ownerKey], [this.workerId, this.#options.ownershipTtlMs, dead]);
      const [status, ownerId] = Array.isArray(answer) ? (answer as unknown[]) : [];
      if (status !== 'other' || typeof ownerId !== 'string') return answer;
      const info = await client.call('GET', this.#keys.worker(ownerId));
      if (typeof info === 'string') return ['other', ownerId, info];
      dead = ownerId;
    }
    return answer;
  }

  #applyClaim(downstreamSessionId: string, answer: unknown, sentAt: number): ClaimResult {
    const [status, ownerId, ownerInfo] = Array.isArray(answer) ? (answer as unknown[]) : [];
    if (status === 'other' && typeof ownerId === 'string') {
      this.#owned.delete(downstreamSessionId);
      return Object.freeze({ owned: false, owner: parseWorkerInfo(ownerId, ownerInfo) });
    }
    if (status !== 'claimed' && status !== 'owned' && status !== 'reclaimed') {
      throw new AffinityUnavailableError('Redis answered the ownership claim with an unexpected reply');
    }
    if (status === 'reclaimed') {
      this.#options.logger.info(
        { workerId: this.workerId, previousOwner: String(ownerId) },
        'took over a downstream session whose owner stopped its heartbeat',
      );
    }
    this.#owned.set(downstreamSessionId, this.#ownership(downstreamSessionId, sentAt + this.#options.ownershipTtlMs));
    return OWNED;
  }

  #claimFailed(downstreamSessionId: string, error: unknown): ClaimResult {
    if (this.#closing !== undefined) throw closedError();
    const failure =
      error instanceof AffinityUnavailableError
        ? error
        : new AffinityUnavailableError(`Redis ownership claim failed: ${describeError(error)}`, error);
    if (this.#options.onRedisError === 'fail-closed') throw failure;
    this.#options.logger.warn(
      { workerId: this.workerId, error: failure.message },
      'Redis unavailable: serving the downstream session locally (onRedisError: serve-locally)',
    );
    // Renewal takes the key in Redis once it answers again, or reports the session lost if another worker has it.
    this.#owned.set(downstreamSessionId, this.#ownership(downstreamSessionId, Number.NEGATIVE_INFINITY));
    return OWNED;
  }

  #ownership(downstreamSessionId: string, validUntil: number): Ownership {
    return {
      ownerKey: this.#keys.owner(downstreamSessionId),
      recordsKey: this.#keys.records(downstreamSessionId),
      validUntil,
    };
  }

  async #release(downstreamSessionId: string): Promise<void> {
    this.#owned.delete(downstreamSessionId);
    // Never connected: nothing in Redis can be ours. After close, close() released everything.
    const client = this.#client?.client;
    if (client === undefined || this.#closing !== undefined) return;
    try {
      await bounded(
        runScript(
          client,
          RELEASE,
          [this.#keys.owner(downstreamSessionId), this.#keys.records(downstreamSessionId)],
          [this.workerId],
        ),
        this.#options.commandTimeoutMs,
        'the ownership release',
      );
    } catch (error) {
      this.#options.logger.warn(
        { workerId: this.workerId, error: describeError(error) },
        'could not release a downstream session in Redis; it expires after ownershipTtlMs',
      );
    }
  }

  #schedule(): void {
    this.#timer = this.#options.clock.setTimeout(
      () => {
        this.#timer = undefined;
        void this.refresh().then(() => {
          if (this.#closing === undefined && this.#timer === undefined) this.#schedule();
        });
      },
      this.#options.heartbeatIntervalMs,
      { unref: true },
    );
  }

  async #tick(): Promise<void> {
    const client = this.#client?.client;
    if (client === undefined || this.#closing !== undefined) return;
    const startedAt = this.#options.clock.now();
    const entries = [...this.#owned];
    const work: Promise<boolean>[] = [this.#renewHeartbeat(client)];
    const size = batchSize(client);
    for (let i = 0; i < entries.length; i += size) {
      work.push(this.#renewBatch(client, entries.slice(i, i + size), startedAt));
    }
    const results = await Promise.all(work);
    this.#noteHealth(results.every(Boolean));
  }

  async #renewHeartbeat(client: OwnedClient['client']): Promise<boolean> {
    try {
      await bounded(this.#writeHeartbeat(client), this.#options.commandTimeoutMs, 'the heartbeat');
      return true;
    } catch (error) {
      this.#logFailure(error, 'could not renew the worker heartbeat');
      return false;
    }
  }

  async #renewBatch(
    client: OwnedClient['client'],
    batch: readonly (readonly [string, Ownership])[],
    startedAt: number,
  ): Promise<boolean> {
    const keys: string[] = [];
    for (const [, ownership] of batch) keys.push(ownership.ownerKey, ownership.recordsKey);
    let lost: unknown;
    try {
      lost = await bounded(
        runScript(client, REFRESH, keys, [this.workerId, this.#options.ownershipTtlMs, this.#options.recordTtlMs]),
        this.#options.commandTimeoutMs,
        'the ownership renewal',
      );
    } catch (error) {
      this.#logFailure(error, 'could not renew ownership of downstream sessions');
      this.#expireUnverifiable(batch);
      return false;
    }
    const lostIndexes = new Set(Array.isArray(lost) ? lost.map(Number) : []);
    batch.forEach(([downstreamSessionId, ownership], index) => {
      if (this.#owned.get(downstreamSessionId) !== ownership) return;
      if (lostIndexes.has(index + 1)) {
        this.#lose(downstreamSessionId, 'another worker owns it now');
        return;
      }
      ownership.validUntil = startedAt + this.#options.ownershipTtlMs;
    });
    return true;
  }

  /** Fail closed: a session whose ownership may have expired in Redis can no longer be proven ours. */
  #expireUnverifiable(batch: readonly (readonly [string, Ownership])[]): void {
    if (this.#options.onRedisError !== 'fail-closed') return;
    const now = this.#options.clock.now();
    for (const [downstreamSessionId, ownership] of batch) {
      if (this.#owned.get(downstreamSessionId) !== ownership || ownership.validUntil > now) continue;
      this.#lose(downstreamSessionId, 'its ownership expired while Redis was unreachable');
    }
  }

  #lose(downstreamSessionId: string, why: string): void {
    this.#owned.delete(downstreamSessionId);
    this.#options.logger.warn({ workerId: this.workerId }, `lost a downstream session: ${why}`);
    for (const listener of [...this.#listeners]) {
      try {
        listener(downstreamSessionId);
      } catch (error) {
        this.#options.logger.error({ error: describeError(error) }, 'an onOwnershipLost listener threw');
      }
    }
  }

  /** One warning per outage, the rest at debug level, so a long outage does not flood the log. */
  #logFailure(error: unknown, message: string): void {
    const fields = { workerId: this.workerId, error: describeError(error) };
    if (this.#degraded) this.#options.logger.debug(fields, message);
    else this.#options.logger.warn(fields, message);
  }

  #noteHealth(healthy: boolean): void {
    if (healthy && this.#degraded) this.#options.logger.info({ workerId: this.workerId }, 'Redis answers again');
    this.#degraded = !healthy;
  }

  async #close(): Promise<void> {
    if (this.#timer !== undefined) this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#starting?.catch(() => undefined);
    // Let claims and releases already sent finish, so what they took is released below.
    await Promise.all(this.#queues.values());
    await this.#ticks;
    const owned = [...this.#owned.values()];
    this.#owned.clear();
    const opened = this.#client;
    if (opened === undefined) return;
    await this.#giveUp(opened.client, owned);
    if (opened.created) await endClient(opened.client, this.#options.commandTimeoutMs);
  }

  async #giveUp(client: OwnedClient['client'], owned: readonly Ownership[]): Promise<void> {
    const work: Promise<unknown>[] = [client.call('DEL', this.#keys.worker(this.workerId))];
    const size = batchSize(client);
    for (let i = 0; i < owned.length; i += size) {
      const keys = owned.slice(i, i + size).map((o) => o.ownerKey);
      work.push(runScript(client, RELEASE_OWNERSHIP, keys, [this.workerId]));
    }
    try {
      await bounded(Promise.all(work), this.#options.commandTimeoutMs, 'the release on close');
    } catch (error) {
      this.#options.logger.warn(
        { workerId: this.workerId, error: describeError(error) },
        'could not release ownership on close; keys expire after ownershipTtlMs',
      );
    }
  }
}

/** Sessions per renewal or release script: on Redis Cluster one, as each session's keys have their own slot. */
function batchSize(client: OwnedClient['client']): number {
  return isClusterClient(client) ? 1 : RENEW_BATCH;
}

function closedError(): AffinityUnavailableError {
  return new AffinityUnavailableError('The RedisAffinity is closed');
}

function invalidId(): InvalidRequestError {
  return new InvalidRequestError('downstreamSessionId', 'expected a valid MCP session id (1..256 visible ASCII characters)');
}

/** The owner's heartbeat JSON; a malformed one still names the owner by id. */
function parseWorkerInfo(ownerId: string, json: unknown): WorkerInfo {
  if (typeof json === 'string') {
    try {
      const parsed: unknown = JSON.parse(json);
      const address = (parsed as { address?: unknown } | null)?.address;
      if (typeof address === 'string') return Object.freeze({ workerId: ownerId, address });
    } catch {
      // fall through: a foreign or corrupted heartbeat value
    }
  }
  return Object.freeze({ workerId: ownerId });
}
