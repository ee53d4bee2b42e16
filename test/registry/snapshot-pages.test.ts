import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../src/errors.js';
import { req, setup } from './helpers.js';

describe('snapshot({ sessions: false }) and sessions({ cursor, limit })', () => {
  it('the counts-only form has every count of the full one and no sessions', async () => {
    const { registry } = setup();
    for (const ds of ['a', 'b', 'c']) (await registry.acquire(req(ds, ds === 'c' ? 'search' : 'weather'))).release();
    const full = registry.snapshot();
    const counts = registry.snapshot({ sessions: false });
    expect(counts.sessions).toEqual([]);
    expect(Object.isFrozen(counts) && Object.isFrozen(counts.gateways)).toBe(true);
    expect({ ...counts, sessions: full.sessions, uptimeMs: full.uptimeMs }).toEqual(full);
    expect(counts.gateways).toEqual({
      weather: expect.objectContaining({ live: 2, creating: 0 }),
      search: expect.objectContaining({ live: 1, creating: 0 }),
    });
  });

  it('gateway live counts follow retirements and evictions', async () => {
    const { registry, fake } = setup();
    (await registry.acquire(req('a', 'weather'))).release();
    (await registry.acquire(req('b', 'weather'))).release();
    fake.connections[0]!.break();
    expect(registry.snapshot({ sessions: false }).gateways.weather?.live).toBe(1);
    await registry.evictSession('b');
    expect(registry.snapshot({ sessions: false }).gateways.weather).toBeUndefined();
    (await registry.acquire(req('a', 'weather'))).release();
    expect(registry.snapshot({ sessions: false }).gateways.weather?.live).toBe(1);
  });

  it('per-gateway counters agree with a walk of the sessions through breaks, config changes, evictions and capacity', async () => {
    const { registry, fake, clock } = setup({ maxSessions: 6, overflow: 'evict-idle', idleValidationMs: 1000 });
    const agree = () => {
      const full = registry.snapshot();
      const walked: Record<string, { live: number; creating: number }> = {};
      for (const s of full.sessions) {
        const counts = walked[s.gatewayId] ?? { live: 0, creating: 0 };
        walked[s.gatewayId] = counts;
        if (s.state === 'creating') counts.creating++;
        else counts.live++;
      }
      const counted = Object.fromEntries(
        Object.entries(registry.snapshot({ sessions: false }).gateways)
          .filter(([, g]) => g.live + g.creating > 0)
          .map(([id, g]) => [id, { live: g.live, creating: g.creating }]),
      );
      expect(counted).toEqual(walked);
    };
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 8; i++) (await registry.acquire(req(`d${i}`, `g${i % 3}`, { headers: { 'x-round': String(round % 2) } }))).release();
      agree();
      fake.connections[fake.connections.length - 1]?.break();
      agree();
      await registry.evictSession(`d${round}`);
      agree();
      await clock.advance(1000);
      (await registry.acquire(req('d7', 'g1'))).release();
      agree();
    }
    await registry.evictGateway('g2');
    agree();
  });

  it('pages through every session in service exactly once, oldest connection first', async () => {
    const { registry } = setup();
    for (let i = 0; i < 7; i++) (await registry.acquire(req(`d${i}`))).release();
    const seen: number[] = [];
    let page = registry.sessions({ limit: 3 });
    seen.push(...page.sessions.map((s) => s.connectionId));
    // A session retired between pages does not shift the next page.
    await registry.evictSession('d0');
    while (page.nextCursor !== undefined) {
      page = registry.sessions({ cursor: page.nextCursor, limit: 3 });
      seen.push(...page.sessions.map((s) => s.connectionId));
    }
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(Object.isFrozen(page) && Object.isFrozen(page.sessions) && Object.isFrozen(page.sessions[0])).toBe(true);
    expect(registry.sessions().sessions).toHaveLength(6);
    expect(registry.sessions().nextCursor).toBeUndefined();
  });

  it('rejects bad options with InvalidRequestError showing the value', () => {
    const { registry } = setup();
    expect(() => registry.snapshot({ sessions: 'no' as never })).toThrow(InvalidRequestError);
    expect(() => registry.snapshot({ session: false } as never)).toThrow(/options\.session/);
    expect(() => registry.sessions({ limit: 0 })).toThrow(/options\.limit.*0/);
    expect(() => registry.sessions({ limit: 1001 })).toThrow(InvalidRequestError);
    expect(() => registry.sessions({ cursor: '-1' })).toThrow(/options\.cursor.*"-1"/);
    expect(() => registry.sessions(null as never)).toThrow(InvalidRequestError);
  });
});
