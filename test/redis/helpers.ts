/**
 * Shared setup of the Redis suites: one real redis-server per test file, an
 * admin client to inspect keys, keyspace notifications to wait for expiry
 * (instead of sleeping), and cleanup of every affinity and client a test makes.
 */

import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type { Logger } from '../../src/logger.js';
import { RedisAffinity } from '../../src/redis/affinity.js';
import { hashId } from '../../src/redis/keys.js';
import type { RedisAffinityOptions } from '../../src/redis/options.js';
import { type RedisServer, startRedisServer } from '../fixtures/redis-server.js';

export interface RedisHarness {
  readonly server: RedisServer;
  /** Client for inspecting and tampering with keys. */
  readonly admin: Redis;
  /** A unique key prefix per test, so tests never see each other's keys. */
  prefix(): string;
  /** A RedisAffinity on the test server (own client unless `redis` is given), closed after the test. */
  affinity(options?: Partial<RedisAffinityOptions>): RedisAffinity;
  /** A client the test owns, quit after the test. */
  client(): Redis;
  /** Resolves once `key` no longer exists, woken by Redis' keyspace notification. */
  expired(key: string): Promise<void>;
  /** Records every key matching `pattern` that expires from now until the test ends. */
  watchExpiries(pattern: string): Promise<string[]>;
  /** `total_commands_processed`; each reading counts itself in the next one. */
  commandCount(): Promise<number>;
  /** Calls of one command per `INFO commandstats`, e.g. `evalsha`. */
  commandCalls(command: string): Promise<number>;
}

/** The key names the affinity uses, for inspection. */
export function keysOf(prefix: string) {
  return {
    worker: (workerId: string) => `${prefix}worker:${workerId}`,
    owner: (id: string) => `${prefix}owner:{${hashId(id)}}`,
    records: (id: string) => `${prefix}upstream:{${hashId(id)}}`,
  };
}

/** A logger that records warnings. */
export function recordingLogger(): Logger & { warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  return {
    warnings,
    infos,
    debug: () => {},
    info: (_fields, message) => infos.push(message),
    warn: (_fields, message) => warnings.push(message),
    error: (_fields, message) => warnings.push(message),
  };
}

/** Registers hooks that start one redis-server for the file and clean up after each test. */
export function useRedis(): RedisHarness {
  let server: RedisServer | undefined;
  let admin: Redis | undefined;
  let subscriber: Redis | undefined;
  let counter = 0;
  const cleanups: (() => Promise<void>)[] = [];
  const waiters = new Map<string, Set<() => void>>();
  const patternWatchers = new Map<string, string[]>();

  beforeAll(async () => {
    server = await startRedisServer();
    admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
    await admin.config('SET', 'notify-keyspace-events', 'Kgx');
    subscriber = new Redis(server.url);
    subscriber.on('pmessage', (pattern: string, channel: string, event: string) => {
      if (event !== 'expired') return;
      patternWatchers.get(pattern)?.push(channel.slice(channel.indexOf(':') + 1));
    });
    subscriber.on('message', (channel: string, event: string) => {
      if (event !== 'expired' && event !== 'del') return;
      const key = channel.slice(channel.indexOf(':') + 1);
      for (const wake of waiters.get(key) ?? []) wake();
    });
  });

  afterEach(async () => {
    // Reverse order: affinities close before the clients they borrowed quit.
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  afterAll(async () => {
    await subscriber?.quit();
    await admin?.quit();
    await server?.stop();
  });

  const harness: RedisHarness = {
    get server() {
      if (server === undefined) throw new Error('redis-server not started');
      return server;
    },
    get admin() {
      if (admin === undefined) throw new Error('redis-server not started');
      return admin;
    },
    prefix: () => `t${++counter}:`,
    affinity(options = {}) {
      const affinity = new RedisAffinity({ redis: harness.server.url, ...options });
      cleanups.push(() => affinity.close());
      return affinity;
    },
    client() {
      const client = new Redis(harness.server.url, { maxRetriesPerRequest: 1 });
      cleanups.push(async () => {
        if (client.status === 'end') return;
        await client.quit().catch(() => client.disconnect());
      });
      return client;
    },
    async expired(key) {
      const channel = `__keyspace@0__:${key}`;
      let wake!: () => void;
      const gone = new Promise<void>((resolve) => {
        wake = resolve;
      });
      const set = waiters.get(key) ?? new Set();
      set.add(wake);
      waiters.set(key, set);
      await subscriber!.subscribe(channel);
      // The key may have gone before the subscription was in place.
      if ((await harness.admin.exists(key)) === 0) wake();
      await gone;
      set.delete(wake);
      await subscriber!.unsubscribe(channel);
    },
    async watchExpiries(pattern) {
      const channel = `__keyspace@0__:${pattern}`;
      const seen: string[] = [];
      patternWatchers.set(channel, seen);
      await subscriber!.psubscribe(channel);
      cleanups.push(async () => {
        patternWatchers.delete(channel);
        await subscriber!.punsubscribe(channel);
      });
      return seen;
    },
    async commandCount() {
      const info = await harness.admin.info('stats');
      const match = /total_commands_processed:(\d+)/.exec(info);
      return Number(match?.[1] ?? Number.NaN);
    },
    async commandCalls(command) {
      const info = await harness.admin.info('commandstats');
      const match = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info);
      return Number(match?.[1] ?? 0);
    },
  };
  return harness;
}

/** Claims `id` from every worker at once; asserts exactly one won and every other answer names it. Returns the winner. */
export async function raceToClaim(workers: readonly RedisAffinity[], id: string): Promise<RedisAffinity> {
  const answers = await Promise.all(workers.map((w) => w.claim(id)));
  const winners = workers.filter((_, i) => answers[i]!.owned);
  expect(winners).toHaveLength(1);
  const winner = winners[0]!;
  for (const answer of answers) if (!answer.owned) expect(answer.owner).toEqual(winner.info);
  return winner;
}
