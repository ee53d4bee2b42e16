/**
 * Opt-in multi-worker mode of the example proxies: with `REDIS_URL` set, a
 * proxy becomes one of many workers. It owns the downstream sessions it
 * initializes (`RedisAffinity`), records their upstream sessions
 * (`RedisSessionStore`), forwards requests of sessions another worker owns,
 * and resumes sessions whose owner died. See docs/multi-worker.md.
 */
import type { BridgeGateway, SessionLocation } from 'mcp-upstream-registry/bridge';
import { OwnerCache, affinityLocator } from 'mcp-upstream-registry/bridge';
import { type Logger, type WorkerInfo, forwardToOwner } from 'mcp-upstream-registry';
import { RedisAffinity, RedisEventStore, RedisSessionStore } from 'mcp-upstream-registry/redis';

/** How this worker joins the cluster. */
export interface ClusterOptions {
  /** `redis://host:port` of the shared Redis. */
  readonly redisUrl: string;
  /** Unique among live workers. Default: a random UUID. */
  readonly workerId?: string;
  /** Where the other workers reach this one. Default: the address it listens on. */
  readonly address?: string;
  readonly keyPrefix?: string;
  readonly heartbeatIntervalMs?: number;
  readonly ownershipTtlMs?: number;
  readonly commandTimeoutMs?: number;
  /**
   * Keep SSE events in Redis, so a client can resume a dropped stream even
   * after the worker that sent them died (one Redis call per SSE event).
   * Default false: events stay in the owner's memory, which any worker
   * reaches by forwarding while the owner lives.
   */
  readonly redisEventStore?: boolean;
}

/** What a proxy needs to run as a worker. */
export interface ClusterMember {
  readonly affinity: RedisAffinity;
  readonly sessionStore: RedisSessionStore;
  /** `DownstreamSessions`' `locateSession`: forward, resume here, or 404. */
  readonly locateSession: (downstreamSessionId: string) => Promise<SessionLocation>;
  /** SSE events in Redis (with `redisEventStore`), so a client can resume a dropped stream after a failover. */
  readonly eventStore: RedisEventStore | undefined;
  /** Owners this worker forwards to, remembered so a forwarded request costs no Redis call. */
  readonly ownerCache: OwnerCache;
  /**
   * `forwardToOwner`, telling the owner cache when the owner it named refused
   * or no longer owns the session. With `retry`, answers `undefined` instead
   * when that owner did not take the request (connection refused, 421, 508,
   * 404): dispatch the request again, it locates the owner afresh (e.g. takes
   * over from a dead one). Never when the owner may have run it (a cut
   * connection, a timeout): that would run a call twice.
   */
  readonly forward: (request: Request, owner: WorkerInfo, retry?: boolean) => Promise<Response | undefined>;
}

/** Answers of a worker that did not run the request: it does not own the session (421, 508) or does not know it (404). */
const NOT_TAKEN: ReadonlySet<number> = new Set([404, 421, 508]);

/** Node's fetch (undici) fails with a cause whose code says the connection was refused: nothing was sent. */
function connectionRefused(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  return cause?.code === 'ECONNREFUSED';
}

function optionalMs(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name}: expected a whole number of milliseconds, got ${JSON.stringify(raw)}`);
  return value;
}

/**
 * Multi-worker mode from the environment, or `undefined` (one process, the default):
 * `REDIS_URL` (turns it on), `WORKER_ID`, `WORKER_ADDRESS`, `REDIS_KEY_PREFIX`,
 * `HEARTBEAT_INTERVAL_MS`, `OWNERSHIP_TTL_MS`, `REDIS_COMMAND_TIMEOUT_MS`,
 * `REDIS_EVENT_STORE=1` (SSE events in Redis).
 */
export function clusterFromEnv(env: NodeJS.ProcessEnv = process.env): ClusterOptions | undefined {
  if (!env.REDIS_URL) return undefined;
  const pick = <K extends keyof ClusterOptions>(key: K, value: ClusterOptions[K] | undefined) => (value === undefined || value === '' ? {} : { [key]: value });
  return {
    redisUrl: env.REDIS_URL,
    ...pick('workerId', env.WORKER_ID),
    ...pick('address', env.WORKER_ADDRESS),
    ...pick('keyPrefix', env.REDIS_KEY_PREFIX),
    ...pick('heartbeatIntervalMs', optionalMs(env, 'HEARTBEAT_INTERVAL_MS')),
    ...pick('ownershipTtlMs', optionalMs(env, 'OWNERSHIP_TTL_MS')),
    ...pick('commandTimeoutMs', optionalMs(env, 'REDIS_COMMAND_TIMEOUT_MS')),
    ...(env.REDIS_EVENT_STORE === '1' && { redisEventStore: true }),
  };
}

/**
 * Joins the cluster once the proxy listens on `listeningUrl`: connects to Redis
 * (failing fast when it is unreachable) and writes this worker's heartbeat.
 * The registry closes the affinity in its `closeAll()`.
 */
export async function joinCluster(
  options: ClusterOptions,
  listeningUrl: string,
  gateways: readonly BridgeGateway[],
  logger?: Logger,
): Promise<ClusterMember> {
  const { redisUrl, address, redisEventStore: _events, ...timings } = options;
  const affinity = new RedisAffinity({
    redis: redisUrl,
    address: address ?? new URL(listeningUrl).origin,
    ...timings,
    ...(logger && { logger }),
  });
  await affinity.start();
  const sessionStore = new RedisSessionStore({ affinity });
  const ownerCache = new OwnerCache();
  const locate = affinityLocator({ affinity, sessionStore, gatewayIds: gateways.map((g) => g.id), ownerCache });
  const locateSession = async (downstreamSessionId: string): Promise<SessionLocation> => {
    const location = await locate(downstreamSessionId);
    if (location === 'resume') logger?.info({ workerId: affinity.workerId, downstreamSessionId }, 'resuming a downstream session whose owner is gone');
    return location;
  };
  const forward = async (request: Request, owner: WorkerInfo, retry = false): Promise<Response | undefined> => {
    const id = request.headers.get('mcp-session-id');
    let refused = false;
    const fetchOnce = async (input: Request | string | URL, init?: RequestInit): Promise<Response> => {
      try {
        return await fetch(input, init);
      } catch (error) {
        refused = connectionRefused(error);
        throw error;
      }
    };
    const response = await forwardToOwner(request, owner, { fetch: fetchOnce });
    const stale = id !== null && ownerCache.noteForwardAnswer(id, response.status);
    if (!retry || !(refused || (stale && NOT_TAKEN.has(response.status)))) return response;
    await response.body?.cancel().catch(() => undefined);
    return undefined;
  };
  const eventStore = options.redisEventStore === true ? new RedisEventStore({ affinity }) : undefined;
  return { affinity, sessionStore, locateSession, ownerCache, forward, eventStore };
}

/** One JSON object per line on stderr, with a millisecond timestamp `t`: enough to follow a failover. */
export function jsonLinesLogger(write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const log =
    (level: string) =>
    (fields: object, message?: string): void =>
      write(`${JSON.stringify({ t: Date.now(), level, msg: message, ...fields })}\n`);
  return { debug: () => {}, info: log('info'), warn: log('warn'), error: log('error') };
}
