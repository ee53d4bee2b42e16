import { describe, expect, expectTypeOf, it } from 'vitest';
import type { RetireReason } from '../../src/events.js';
import { UpstreamSessionRegistry } from '../../src/registry/registry.js';
import { createFakeFactory } from '../../src/testing/fake-factory.js';

/** Every reason, checked both ways by the compiler: no unknown entry (`satisfies`), none missing (the type test below). */
const ALL_REASONS = [
  'downstream-evicted',
  'gateway-evicted',
  'config-changed',
  'probe-failed',
  'transport-error',
  'idle-expired',
  'capacity',
  'lost',
  'ownership-lost',
  'registry-closed',
  'handover',
] as const satisfies readonly RetireReason[];

describe('retire reason counters', () => {
  it('the test list covers the RetireReason union', () => {
    expectTypeOf<Exclude<RetireReason, (typeof ALL_REASONS)[number]>>().toEqualTypeOf<never>();
  });

  it('a new registry counts every reason, and only those, at zero', async () => {
    const registry = new UpstreamSessionRegistry({ factory: createFakeFactory().factory });
    try {
      const { retired } = registry.snapshot().totals;
      expect(Object.keys(retired).sort()).toEqual([...ALL_REASONS].sort());
      expect(Object.values(retired).every((n) => n === 0)).toBe(true);
    } finally {
      await registry.closeAll();
    }
  });
});
