import { describe, expect, it } from 'vitest';
import type { Affinity, ClaimResult } from '../../src/affinity.js';
import { affinityLocator } from '../../src/bridge/affinity-locator.js';
import { OwnerCache } from '../../src/bridge/owner-cache.js';
import { InvalidOptionsError } from '../../src/errors.js';
import { ManualClock } from '../../src/testing/manual-clock.js';

const OWNER = Object.freeze({ workerId: 'w2', address: 'http://10.0.0.2:3000' });

/** An affinity that names `OWNER` for every session and counts its claims. */
function namingAffinity(): Affinity & { claims: number } {
  const affinity = {
    workerId: 'w1',
    claims: 0,
    claim(): Promise<ClaimResult> {
      affinity.claims++;
      return Promise.resolve({ owned: false, owner: OWNER });
    },
    release: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  return affinity;
}

describe('OwnerCache', () => {
  it('rejects unknown and malformed options with the bad value shown', () => {
    expect(() => new OwnerCache({ size: 1 } as never)).toThrow(InvalidOptionsError);
    expect(() => new OwnerCache({ ttlMs: 0 })).toThrow(/ttlMs.*0/);
    expect(() => new OwnerCache({ maxEntries: 1.5 })).toThrow(/maxEntries.*1\.5/);
    expect(() => new OwnerCache({ clock: {} as never })).toThrow(/clock/);
  });

  it('remembers an owner for ttlMs from when it was stored', () => {
    const clock = new ManualClock();
    const cache = new OwnerCache({ ttlMs: 1_000, clock });
    cache.set('s1', OWNER);
    clock.tick(999);
    expect(cache.get('s1')).toBe(OWNER);
    clock.tick(1);
    expect(cache.get('s1')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('holds at most maxEntries, pushing out the oldest', () => {
    const cache = new OwnerCache({ maxEntries: 2, clock: new ManualClock() });
    cache.set('s1', OWNER);
    cache.set('s2', OWNER);
    cache.set('s3', OWNER);
    expect(cache.size).toBe(2);
    expect(cache.get('s1')).toBeUndefined();
    expect(cache.get('s3')).toBe(OWNER);
  });

  it('forgets an owner on 404, 421, 502, 504 and 508, not on success or 503', () => {
    const cache = new OwnerCache({ clock: new ManualClock() });
    for (const status of [200, 202, 400, 503]) {
      cache.set('s1', OWNER);
      expect(cache.noteForwardAnswer('s1', status)).toBe(false);
      expect(cache.get('s1')).toBe(OWNER);
    }
    for (const status of [404, 421, 502, 504, 508]) {
      cache.set('s1', OWNER);
      expect(cache.noteForwardAnswer('s1', status)).toBe(true);
      expect(cache.get('s1')).toBeUndefined();
    }
  });
});

describe('affinityLocator with an ownerCache', () => {
  it('asks the affinity once per session until the entry expires or a forward fails', async () => {
    const clock = new ManualClock();
    const ownerCache = new OwnerCache({ ttlMs: 1_000, clock });
    const affinity = namingAffinity();
    const locate = affinityLocator({ affinity, gatewayIds: ['g1'], ownerCache });
    for (let i = 0; i < 10; i++) expect(await locate('s1')).toEqual(OWNER);
    expect(affinity.claims).toBe(1);
    clock.tick(1_000);
    expect(await locate('s1')).toEqual(OWNER);
    expect(affinity.claims).toBe(2);
    ownerCache.noteForwardAnswer('s1', 502);
    expect(await locate('s1')).toEqual(OWNER);
    expect(affinity.claims).toBe(3);
  });

  it('refuses an ownerCache that is not an OwnerCache', () => {
    expect(() => affinityLocator({ affinity: namingAffinity(), gatewayIds: ['g1'], ownerCache: {} as never })).toThrow(/ownerCache/);
  });
});
