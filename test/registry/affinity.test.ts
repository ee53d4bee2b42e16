import { describe, expect, it } from 'vitest';
import type { Affinity, ClaimResult } from '../../src/affinity.js';
import { NotOwnerError } from '../../src/errors.js';
import { req, setup } from './helpers.js';

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

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

/** An affinity whose claims wait for the test; it records who it thinks owns what. */
class ManualAffinity implements Affinity {
  readonly workerId = 'me';
  readonly owners = new Set<string>();
  readonly claims: { id: string; grant(): void }[] = [];

  claim(id: string): Promise<ClaimResult> {
    return new Promise((resolve) => {
      this.claims.push({
        id,
        grant: () => {
          this.owners.add(id);
          resolve({ owned: true });
        },
      });
    });
  }
  async release(id: string): Promise<void> {
    this.owners.delete(id);
  }
  async close(): Promise<void> {}
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('affinity claims (issue 9, §2.1, §2.2, §2.7)', () => {
  it('regression 2.1: a claim granted after its acquire was aborted is released, not leaked', async () => {
    const affinity = new ManualAffinity();
    const { registry } = setup({ affinity });
    for (let i = 0; i < 20; i++) {
      const controller = new AbortController();
      const acquiring = registry.acquire(req(`ds-${i}`), { signal: controller.signal }).catch((e: unknown) => e);
      await turn();
      controller.abort(new Error('client went away'));
      expect(await acquiring).toMatchObject({ message: 'client went away' });
    }
    for (const claim of affinity.claims) claim.grant();
    await turn();
    expect([...affinity.owners]).toEqual([]);
    expect(registry.snapshot().downstreamSessions).toBe(0);
  });

  it('regression 2.1: a claim that times out and is granted later is released', async () => {
    const affinity = new ManualAffinity();
    const { registry, clock } = setup({ affinity, createTimeoutMs: 1000 });
    const acquiring = registry.acquire(req('x')).catch((e: unknown) => e);
    await turn();
    await clock.advance(1000);
    expect(await acquiring).toMatchObject({ code: 'ERR_AFFINITY_UNAVAILABLE' });
    affinity.claims[0]!.grant();
    await turn();
    expect(affinity.owners.has('x')).toBe(false);
  });

  it('regression 2.2: closeAll rejects an acquire waiting on a claim with RegistryClosedError and leaves no timer', async () => {
    const affinity = new ManualAffinity();
    const { registry, clock } = setup({ affinity });
    const acquiring = registry.acquire(req('x')).catch((e: unknown) => e);
    await turn();
    expect(clock.pendingTimers).toBe(1); // the claim's deadline
    await registry.closeAll();
    expect(await acquiring).toMatchObject({ code: 'ERR_REGISTRY_CLOSED' });
    expect(clock.pendingTimers).toBe(0);
    // A grant that arrives after closeAll is given back.
    affinity.claims[0]!.grant();
    await turn();
    expect(affinity.owners.has('x')).toBe(false);
  });

  it('regression 2.7: a claim() that throws synchronously rejects that acquire only; the next one claims again', async () => {
    let calls = 0;
    const affinity: Affinity = {
      workerId: 'me',
      claim(): Promise<ClaimResult> {
        calls++;
        if (calls === 1) throw new Error('claim blew up');
        return Promise.resolve({ owned: true });
      },
      release: async () => {},
      close: async () => {},
    };
    const { registry } = setup({ affinity });
    const [first, second] = await Promise.all([
      registry.acquire(req('x')).catch((e: unknown) => e),
      registry.acquire(req('x')).catch((e: unknown) => e),
    ]);
    expect(first).toMatchObject({ message: 'claim blew up' });
    expect(second).toMatchObject({ message: 'claim blew up' });
    const lease = await registry.acquire(req('x'));
    lease.release();
    expect(calls).toBe(2);
  });
});

describe('found by review', () => {
  it('a stale claim does not release the ownership a newer acquire holds', async () => {
    const owners = new Set<string>();
    const claims: ReturnType<typeof deferred<ClaimResult>>[] = [];
    const affinity: Affinity = {
      workerId: 'w',
      claim(id) {
        const d = deferred<ClaimResult>();
        claims.push(d);
        return d.promise.then((r) => {
          owners.add(id);
          return r;
        });
      },
      async release(id) {
        owners.delete(id);
      },
      async close() {},
    };
    const { registry } = setup({ affinity });
    const first = registry.acquire(req('x')).catch((e: unknown) => e);
    await turn();
    await registry.evictSession('x');
    const second = registry.acquire(req('x'));
    await turn();
    claims[1]!.resolve({ owned: true });
    const lease = await second;
    claims[0]!.resolve({ owned: true });
    expect(await first).toMatchObject({ code: 'ERR_SESSION_RETIRED' });
    await turn();
    expect(owners.has('x')).toBe(true);
    lease.release();
  });
});
