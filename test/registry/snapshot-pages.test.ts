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
