/**
 * The part of an ioredis client this subpath uses, so that the rest of the
 * code depends on a small structural type instead of the whole ioredis API.
 *
 * @module
 */

import { createRequire } from 'node:module';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { AffinityUnavailableError, InvalidOptionsError } from '../errors.js';
import type { Logger } from '../logger.js';
import { describeError } from '../redact.js';

const IOREDIS_MISSING = 'mcp-upstream-registry/redis needs the optional peer dependency "ioredis" (npm install ioredis)';

/** Sends one raw command; ioredis' `Redis#call`. */
export interface RedisCommandClient {
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
}

/**
 * What the `redis` option accepts: a client you made (a single-node `Redis` or
 * a Redis Cluster `Cluster`), a `redis://` URL, or ioredis options.
 */
export type RedisConnection = Redis | Cluster | string | RedisOptions;

/** A client plus whether this library created it (and so may quit it). */
export interface OwnedClient {
  readonly client: Redis | Cluster;
  readonly created: boolean;
}

/** True for an ioredis `Cluster` client: its scripts may touch one slot only. */
export function isClusterClient(client: RedisCommandClient): boolean {
  return (client as { isCluster?: unknown }).isCluster === true;
}

/** True when `value` looks like an ioredis client rather than connection options. */
export function isRedisClient(value: unknown): value is Redis | Cluster {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { call?: unknown }).call === 'function' &&
    typeof (value as { quit?: unknown }).quit === 'function'
  );
}

/**
 * Throws a config error at once (from the constructor) when the affinity must
 * make its own client and the optional peer dependency `ioredis` is not
 * installed, instead of failing every `claim()` later. `resolve` is a seam for tests.
 */
export function assertIoredisInstalled(
  connection: RedisConnection,
  resolve: (id: string) => string = createRequire(import.meta.url).resolve,
): void {
  if (isRedisClient(connection)) return;
  try {
    resolve('ioredis');
  } catch (error) {
    throw new InvalidOptionsError('redis', `${IOREDIS_MISSING} (${describeError(error)})`);
  }
}

/**
 * Returns the user's client as is, or creates one. ioredis is imported only
 * here, lazily, so that users who pass their own client never load it twice
 * and a missing optional peer dependency surfaces as a clear error.
 */
export async function openClient(connection: RedisConnection, logger: Logger): Promise<OwnedClient> {
  if (isRedisClient(connection)) return { client: connection, created: false };
  let RedisClass: typeof Redis;
  try {
    ({ Redis: RedisClass } = await import('ioredis'));
  } catch (error) {
    throw new AffinityUnavailableError(IOREDIS_MISSING, error);
  }
  // Commands are bounded by our own timeouts; one retry keeps a reconnect from queueing work for long.
  const defaults: RedisOptions = { maxRetriesPerRequest: 1 };
  const client =
    typeof connection === 'string'
      ? new RedisClass(connection, defaults)
      : new RedisClass({ ...defaults, ...connection });
  watchErrors(client, logger);
  return { client, created: true };
}

/**
 * ioredis prints "Unhandled error event" for clients without an `error`
 * listener, once per reconnect attempt. Log the first error of an outage as a
 * warning and the rest at debug level.
 */
function watchErrors(client: Redis, logger: Logger): void {
  let outage = false;
  client.on('error', (error: unknown) => {
    const fields = { error: describeError(error) };
    if (outage) {
      logger.debug(fields, 'Redis connection error');
      return;
    }
    outage = true;
    logger.warn(fields, 'Redis connection error; ioredis keeps reconnecting');
  });
  client.on('ready', () => {
    outage = false;
  });
}

/**
 * Bounds one Redis call: rejects with {@link AffinityUnavailableError} when it
 * fails or takes longer than `timeoutMs`. A late answer is ignored.
 */
export function bounded<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new AffinityUnavailableError(`Redis did not answer ${what} within ${timeoutMs} ms`));
    }, timeoutMs);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(
          error instanceof AffinityUnavailableError
            ? error
            : new AffinityUnavailableError(`Redis ${what} failed: ${describeError(error)}`, error),
        );
      },
    );
  });
}

/**
 * Ends a client this library created so that nothing of it keeps running:
 * QUIT when connected, then disconnect.
 *
 * ioredis' `disconnect()` ends the socket and arms a `disconnectTimeout`
 * timer (2 s by default, ref'd: it holds the process open) that only the
 * socket's `close` event clears. Two cases never deliver that event: a frozen
 * server never completes the close handshake, so the socket is destroyed here;
 * and a client waiting to reconnect to a dead server still holds the socket
 * that closed before, so ioredis listens for an event that already happened
 * (ioredis#1247). That socket is re-told it closed, which runs only the
 * listener `disconnect()` just added. Resolves once the socket is closed.
 */
export async function endClient(client: Redis | Cluster, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') {
    try {
      await bounded(client.quit(), timeoutMs, 'QUIT');
    } catch {
      // A frozen server does not answer QUIT; the socket is destroyed below.
    }
  }
  if (client.status === 'end') return;
  const stream = (client as Partial<Redis>).stream as Redis['stream'] | undefined;
  client.disconnect(false);
  if (stream === undefined) return;
  if (stream.closed) {
    stream.emit('close');
    return;
  }
  const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
  stream.destroy();
  await closed;
}

