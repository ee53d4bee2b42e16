import { describe, expect, it } from 'vitest';
import type { Affinity, ClaimResult } from '../../src/affinity.js';
import { NotOwnerError } from '../../src/errors.js';
import { req, setup } from './helpers.js';

class RecordingAffinity implements Affinity {
  readonly workerId = 'me';
  claims: string[] = [];
  releases: string[] = [];
  owners = new Map<string, string>();
  closed = 0;
  lostListener: ((id: string) => void) | undefined;

  async claim(id: string): Promise<ClaimResult> {
    this.claims.push(id);
    const owner = this.owners.get(id);
    if (owner === undefined || owner === 'me') return { owned: true };
    return { owned: false, owner: { workerId: owner, address: `http://${owner}.internal:3000` } };
  }
  async release(id: string): Promise<void> {
    this.releases.push(id);
  }
  async close(): Promise<void> {
    this.closed++;
  }
  onOwnershipLost(listener: (id: string) => void): () => void {
    this.lostListener = listener;
    return () => {
      this.lostListener = undefined;
    };
  }
}

describe('invariant 13: one owner', () => {
  it('asks the affinity once per downstream session, not on the warm path', async () => {
    const affinity = new RecordingAffinity();
    const { registry } = setup({ affinity });
    for (let i = 0; i < 5; i++) (await registry.acquire(req('a'))).release();
    (await registry.acquire(req('a', 'g2'))).release();
    expect(affinity.claims).toEqual(['a']);
  });

  it('rejects with NotOwnerError naming the owner, and asks again next time', async () => {
    const affinity = new RecordingAffinity();
    affinity.owners.set('a', 'worker-2');
    const { registry, fake } = setup({ affinity });
    const error = await registry.acquire(req('a')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotOwnerError);
    expect(error).toMatchObject({ code: 'ERR_NOT_OWNER', owner: { workerId: 'worker-2' } });
    expect(fake.calls).toBe(0);
    affinity.owners.delete('a');
    (await registry.acquire(req('a'))).release();
    expect(affinity.claims).toEqual(['a', 'a']);
  });

  it('releases ownership on evictSession and closes the affinity on closeAll', async () => {
    const affinity = new RecordingAffinity();
    const { registry } = setup({ affinity });
    (await registry.acquire(req('a'))).release();
    (await registry.acquire(req('b'))).release();
    await registry.evictSession('a');
    expect(affinity.releases).toEqual(['a']);
    await registry.closeAll();
    expect(affinity.releases).toEqual(['a', 'b']);
    expect(affinity.closed).toBe(1);
    expect(affinity.lostListener).toBeUndefined();
  });

  it('stops serving a downstream session whose ownership another worker took', async () => {
    const affinity = new RecordingAffinity();
    const { registry, fake } = setup({ affinity });
    (await registry.acquire(req('a'))).release();
    affinity.owners.set('a', 'worker-2');
    affinity.lostListener?.('a');
    expect(registry.size).toBe(0);
    await expect(registry.acquire(req('a'))).rejects.toBeInstanceOf(NotOwnerError);
    await new Promise((r) => setImmediate(r));
    expect(fake.connections[0]!.closeCalls).toBe(1);
  });

  it('bounds a claim that never answers and sends the error to the caller', async () => {
    const affinity = new RecordingAffinity();
    affinity.claim = () => new Promise<ClaimResult>(() => {});
    const { registry, clock } = setup({ affinity, createTimeoutMs: 1000 });
    const acquiring = registry.acquire(req('a')).catch((e: unknown) => e);
    await clock.advance(1000);
    expect(await acquiring).toMatchObject({ code: 'ERR_AFFINITY_UNAVAILABLE' });
  });
});
