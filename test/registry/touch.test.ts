import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../src/errors.js';
import { req, record, setup } from './helpers.js';

describe('touch(): a live downstream session keeps its upstream sessions (issue 9, §2.5)', () => {
  it('refreshes the idle-expiry clock of every live upstream session of that downstream session', async () => {
    const { registry, clock } = setup({ idleTtlMs: 1000, onSessionLost: 'fail' });
    const retired = record(registry, 'session:retired');
    (await registry.acquire(req('a', 'g1'))).release();
    (await registry.acquire(req('a', 'g2'))).release();
    (await registry.acquire(req('b', 'g1'))).release();
    for (let t = 0; t < 5; t++) {
      await clock.advance(600);
      expect(registry.touch('a')).toBe(2);
    }
    expect(retired.map((e) => `${e.downstreamSessionId}:${e.reason}`)).toEqual(['b:idle-expired']);
    expect(registry.size).toBe(2);
    (await registry.acquire(req('a', 'g1'))).release();
  });

  it('does not count as use: a touched session idle past idleValidationMs is still probed', async () => {
    const { registry, clock } = setup({ idleTtlMs: 1000, idleValidationMs: 500 });
    (await registry.acquire(req('a'))).release();
    await clock.advance(600);
    registry.touch('a');
    (await registry.acquire(req('a'))).release();
    expect(registry.snapshot().totals.probes).toBe(1);
  });

  it('returns 0 for an unknown downstream session and after closeAll', async () => {
    const { registry } = setup();
    expect(registry.touch('nobody')).toBe(0);
    (await registry.acquire(req('a'))).release();
    await registry.closeAll();
    expect(registry.touch('a')).toBe(0);
  });

  it('rejects a non-string id with InvalidRequestError and changes nothing', () => {
    const { registry } = setup();
    expect(() => registry.touch(42 as unknown as string)).toThrow(InvalidRequestError);
    expect(() => registry.touch(42 as unknown as string)).toThrow(/downstreamSessionId.*42/);
  });
});
