import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { endClient } from '../../src/redis/client.js';
import { skipRedisSuites } from '../fixtures/redis-server.js';
import { useRedis } from './helpers.js';

/**
 * Records every timer armed through the global `setTimeout` (ioredis' timers
 * included) and which of them are still pending: neither fired nor cleared.
 */
function trackTimers(): { pending(): number; stop(): void } {
  const pending = new Set<unknown>();
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const fakeSet = (fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]): unknown => {
    const timer: unknown = realSet(
      (...a: unknown[]) => {
        pending.delete(timer);
        fn(...a);
      },
      ms,
      ...args,
    );
    pending.add(timer);
    return timer;
  };
  const fakeClear = (timer?: Parameters<typeof clearTimeout>[0]): void => {
    pending.delete(timer);
    realClear(timer);
  };
  const set = vi.spyOn(globalThis, 'setTimeout').mockImplementation(fakeSet as typeof setTimeout);
  const clear = vi.spyOn(globalThis, 'clearTimeout').mockImplementation(fakeClear);
  return {
    pending: () => pending.size,
    stop: () => {
      set.mockRestore();
      clear.mockRestore();
    },
  };
}

function deadClient(): Redis {
  const client = new Redis('redis://127.0.0.1:9', { maxRetriesPerRequest: 1 }); // discard port: connection refused
  client.on('error', () => {});
  return client;
}

describe.skipIf(skipRedisSuites())('endClient', () => {
  const h = useRedis();
  const ended: Redis[] = [];
  afterEach(async () => {
    vi.restoreAllMocks();
    // For a test that failed before its own endClient; ending twice is harmless.
    for (const client of ended.splice(0)) await endClient(client, 100);
  });

  it('quits a connected client and leaves no timer behind', async () => {
    const client = new Redis(h.server.url, { maxRetriesPerRequest: 1 });
    ended.push(client);
    await client.ping();
    const timers = trackTimers();
    await endClient(client, 500);
    timers.stop();
    expect(client.status).toBe('end');
    expect(timers.pending()).toBe(0);
  });

  it('ends a client waiting to reconnect to a dead server, clearing the disconnect timer (ioredis#1247)', async () => {
    const client = deadClient();
    ended.push(client);
    await new Promise<void>((resolve) => client.once('reconnecting', () => resolve()));
    expect(client.stream.closed).toBe(true);
    const timers = trackTimers();
    await endClient(client, 500);
    timers.stop();
    // Plain disconnect() here leaves ioredis' 2 s disconnectTimeout timer pending.
    expect(timers.pending()).toBe(0);
  });

  it('ends a client of a frozen server: QUIT times out, the half-open socket is destroyed at once', async () => {
    const client = new Redis(h.server.url, { maxRetriesPerRequest: 1 });
    ended.push(client);
    client.on('error', () => {});
    await client.ping();
    h.server.pause();
    try {
      const timers = trackTimers();
      await endClient(client, 100);
      timers.stop();
      expect(client.status).toBe('end');
      expect(timers.pending()).toBe(0);
    } finally {
      h.server.resume();
    }
  });
});
