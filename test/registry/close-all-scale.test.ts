/**
 * closeAll() at scale: sessions retired in chunks (earlier closes run on
 * meanwhile), ownership given back under one shared deadline, the
 * 3 x closeTimeoutMs bound kept, and logs and events still delivered to
 * whoever listens.
 */
import { describe, expect, it } from 'vitest';
import type { Affinity } from '../../src/affinity.js';
import { req, record, setup } from './helpers.js';

async function fill(registry: ReturnType<typeof setup>['registry'], count: number): Promise<void> {
  const leases = await Promise.all(Array.from({ length: count }, (_, i) => registry.acquire(req(`ds-${i}`, `gw-${i % 7}`))));
  for (const lease of leases) lease.release();
}

describe('closeAll() of many sessions', () => {
  it('lets the first closes finish while later sessions are still being retired, and closes each once', async () => {
    const { registry, fake, clock } = setup();
    await fill(registry, 2_500);
    const order: string[] = [];
    registry.on('session:retired', (e) => order.push(`retired ${e.downstreamSessionId}`));
    registry.on('session:closed', (e) => order.push(`closed ${e.downstreamSessionId}`));
    await registry.closeAll();
    // Without chunking every session is retired before the first close even starts.
    expect(order.indexOf('closed ds-0')).toBeLessThan(order.indexOf('retired ds-2499'));
    expect(order.filter((line) => line.startsWith('closed'))).toHaveLength(2_500);
    expect(fake.connections.every((c) => c.closeCalls === 1 && c.closed && !c.forced)).toBe(true);
    expect(registry.size).toBe(0);
    expect(fake.live).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('gives ownership back under one shared deadline, not a timer per release', async () => {
    const warnings: string[] = [];
    const logger = { debug: () => {}, info: () => {}, warn: (_f: object, m: string) => warnings.push(m), error: () => {} };
    const released: string[] = [];
    let closed = false;
    const affinity: Affinity = {
      workerId: 'w',
      claim: async () => ({ owned: true }),
      release: (id) => {
        released.push(id);
        return new Promise<void>(() => {});
      },
      close: async () => {
        closed = true;
      },
    };
    const { registry, clock } = setup({ closeTimeoutMs: 1000, affinity, logger });
    await fill(registry, 50);
    let doneAt = -1;
    const closing = registry.closeAll().then(() => {
      doneAt = clock.now();
    });
    await clock.flush();
    expect(released).toHaveLength(50);
    // The three shared phase ends; 50 releases add none.
    expect(clock.pendingTimers).toBe(3);
    await clock.advance(1000);
    await closing;
    expect(doneAt).toBe(1000);
    expect(closed).toBe(true);
    expect(warnings.filter((m) => m === 'affinity release timed out')).toHaveLength(50);
    expect(clock.pendingTimers).toBe(0);
  });

  it('keeps the 3 x closeTimeoutMs bound when every close and release hangs', async () => {
    const hang = (): Promise<void> => new Promise<void>(() => {});
    const affinity: Affinity = { workerId: 'w', claim: async () => ({ owned: true }), release: hang, close: hang };
    const { registry, clock } = setup({ closeTimeoutMs: 1000, affinity }, { close: 'hang' });
    await fill(registry, 1_200);
    const busy = await registry.acquire(req('busy'));
    const orphaned = record(registry, 'session:orphaned');
    let doneAt = -1;
    const closing = registry.closeAll().then(() => {
      doneAt = clock.now();
    });
    for (let i = 0; i < 40 && doneAt < 0; i++) await clock.advance(100);
    await closing;
    busy.release();
    expect(doneAt).toBeLessThanOrEqual(3000);
    expect(orphaned).toHaveLength(1_201);
    // Idle sessions: graceful until 1 x, forced until 2 x closeTimeoutMs; the busy one drains first.
    expect(Math.max(...orphaned.filter((e) => e.downstreamSessionId !== 'busy').map((e) => e.durationMs))).toBe(2000);
    expect(orphaned.find((e) => e.downstreamSessionId === 'busy')?.durationMs).toBe(3000);
  });

  it('still logs and emits to a logger and listeners that are there', async () => {
    const debug: string[] = [];
    const logger = { debug: (_f: object, m: string) => debug.push(m), info: () => {}, warn: () => {}, error: () => {} };
    const { registry } = setup({ logger });
    await fill(registry, 3);
    const closed = record(registry, 'session:closed');
    await registry.closeAll();
    expect(debug.filter((m) => m === 'upstream session retired')).toHaveLength(3);
    expect(closed.map((e) => e.forced)).toEqual([false, false, false]);
  });
});
