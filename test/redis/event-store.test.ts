import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { sessionEventStore } from '../../src/bridge/session-event-store.js';
import { InvalidOptionsError } from '../../src/errors.js';
import { RedisAffinity } from '../../src/redis/affinity.js';
import { RedisEventStore } from '../../src/redis/event-store.js';
import { skipRedisSuites } from '../fixtures/redis-server.js';
import { useRedis } from './helpers.js';

const progress = (n: number): JSONRPCMessage => ({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'p', progress: n } });

async function replay(store: { replayEventsAfter: RedisEventStore['replayEventsAfter'] }, after: string): Promise<number[]> {
  const sent: number[] = [];
  await store.replayEventsAfter(after, { send: async (_id, m) => void sent.push((m as unknown as { params: { progress: number } }).params.progress) });
  return sent;
}

describe('RedisEventStore options', () => {
  it('needs a RedisAffinity and rejects malformed bounds with the bad value shown', () => {
    const affinity = new RedisAffinity({ redis: 'redis://127.0.0.1:1' });
    expect(() => new RedisEventStore({} as never)).toThrow(InvalidOptionsError);
    expect(() => new RedisEventStore({ affinity, maxEventsPerStream: 0 })).toThrow(/maxEventsPerStream.*0/);
    expect(() => new RedisEventStore({ affinity, ttl: 1 } as never)).toThrow(/ttl/);
  });
});

describe.skipIf(skipRedisSuites())('RedisEventStore on a real redis-server', () => {
  const h = useRedis();

  it('a client resumes on another worker: the events one worker kept replay from the other, scoped to the session', async () => {
    const keyPrefix = h.prefix();
    const a = new RedisEventStore({ affinity: h.affinity({ keyPrefix, workerId: 'A' }) });
    const b = new RedisEventStore({ affinity: h.affinity({ keyPrefix, workerId: 'B' }) });
    const onA = sessionEventStore(a, 'session-1');
    const onB = sessionEventStore(b, 'session-1');
    const prime = await onA.storeEvent('stream-1', {} as JSONRPCMessage);
    const first = await onA.storeEvent('stream-1', progress(1));
    await onA.storeEvent('stream-1', progress(2));
    await onA.storeEvent('stream-1', progress(3));
    expect(await onB.getStreamIdForEventId!(first)).toBe('stream-1');
    expect(await replay(onB, first)).toEqual([2, 3]);
    expect(await replay(onB, prime)).toEqual([1, 2, 3]); // the priming event itself is never sent
    // Another session cannot use the id; the key names carry neither the session id nor the stream id.
    expect(await sessionEventStore(b, 'session-2').getStreamIdForEventId!(first)).toBeUndefined();
    const names = await h.admin.keys(`${keyPrefix}events:*`);
    expect(names).toHaveLength(1);
    expect(names[0]).not.toMatch(/session|stream/);
    expect(await h.admin.pttl(names[0]!)).toBeGreaterThan(0);
  });

  it('keeps maxEventsPerStream events per stream and refuses unknown ids', async () => {
    const keyPrefix = h.prefix();
    const store = new RedisEventStore({ affinity: h.affinity({ keyPrefix, workerId: 'A' }), maxEventsPerStream: 3 });
    const ids: string[] = [];
    for (let i = 1; i <= 6; i++) ids.push(await store.storeEvent('s', progress(i)));
    expect(await store.getStreamIdForEventId(ids[0]!)).toBeUndefined();
    expect(await store.getStreamIdForEventId(ids[3]!)).toBe('s');
    expect(await replay(store, ids[3]!)).toEqual([5, 6]);
    expect(await store.getStreamIdForEventId('not-an-id')).toBeUndefined();
    await expect(replay(store, 'not-an-id')).rejects.toThrow(/Unknown event id/);
  });
});
