/**
 * Opt-in multi-worker mode of the example proxies: with `REDIS_URL` set, a
 * proxy becomes one of many workers. It owns the downstream sessions it
 * initializes (`RedisAffinity`), records their upstream sessions
 * (`RedisSessionStore`), forwards requests of sessions another worker owns,
 * and resumes sessions whose owner died. See docs/multi-worker.md.
 */
import type { BridgeGateway, SessionLocation } from 'mcp-upstream-registry/bridge';
import { affinityLocator } from 'mcp-upstream-registry/bridge';
import type { Logger } from 'mcp-upstream-registry';
import { RedisAffinity, RedisSessionStore } from 'mcp-upstream-registry/redis';

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
}

/** What a proxy needs to run as a worker. */
export interface ClusterMember {
  readonly affinity: RedisAffinity;
  readonly sessionStore: RedisSessionStore;
  /** `DownstreamSessions`' `locateSession`: forward, resume here, or 404. */
  readonly locateSession: (downstreamSessionId: string) => Promise<SessionLocation>;
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
 * `HEARTBEAT_INTERVAL_MS`, `OWNERSHIP_TTL_MS`, `REDIS_COMMAND_TIMEOUT_MS`.
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
  const { redisUrl, address, ...timings } = options;
  const affinity = new RedisAffinity({
    redis: redisUrl,
    address: address ?? new URL(listeningUrl).origin,
    ...timings,
    ...(logger && { logger }),
  });
  await affinity.start();
  const sessionStore = new RedisSessionStore({ affinity });
  const locate = affinityLocator({ affinity, sessionStore, gatewayIds: gateways.map((g) => g.id) });
  const locateSession = async (downstreamSessionId: string): Promise<SessionLocation> => {
    const location = await locate(downstreamSessionId);
    if (location === 'resume') logger?.info({ workerId: affinity.workerId, downstreamSessionId }, 'resuming a downstream session whose owner is gone');
    return location;
  };
  return { affinity, sessionStore, locateSession };
}

/** One JSON object per line on stderr, with a millisecond timestamp `t`: enough to follow a failover. */
export function jsonLinesLogger(write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const log =
    (level: string) =>
    (fields: object, message?: string): void =>
      write(`${JSON.stringify({ t: Date.now(), level, msg: message, ...fields })}\n`);
  return { debug: () => {}, info: log('info'), warn: log('warn'), error: log('error') };
}
