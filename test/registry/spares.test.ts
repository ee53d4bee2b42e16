import { describe, expect, it } from 'vitest';
import { CapacityError, InvalidOptionsError } from '../../src/errors.js';
import { UpstreamSessionRegistry } from '../../src/registry/index.js';
import type { SessionFactory } from '../../src/factory.js';
import type { SessionCreateRequest } from '../../src/request.js';
import { type FakeClient, ManualClock, createFakeFactory } from '../../src/testing/index.js';
import { deferred } from '../../src/internal/deferred.js';
import { recordingLogger } from '../fixtures/leak-scan.js';
import { record, req, setup } from './helpers.js';

/** Connections the fake made for spares (their request carries a spare id), in order. */
function spareConnections(fake: ReturnType<typeof setup>['fake']) {
  return fake.connections.filter((c) => c.request.downstreamSessionId.startsWith('mcp-upstream-registry.spare.'));
}

/** A registry (spares of g1: 1) whose connections' adopt() throws `message(the request it was made for)`. */
function throwingAdopt(message: (made: SessionCreateRequest) => string) {
  const clock = new ManualClock();
  const fake = createFakeFactory({ clock });
  const lines: unknown[] = [];
  const factory: SessionFactory<FakeClient> = async (request, ctx) => {
    const connection = await fake.factory(request, ctx);
    return {
      client: connection.client,
      close: (c) => connection.close(c),
      updateCredentials: (credentials) => connection.updateCredentials?.(credentials),
      adopt: () => {
        throw new Error(message(request));
      },
    };
  };
  const registry = new UpstreamSessionRegistry<FakeClient>({ factory, clock, spares: { g1: 1 }, logger: recordingLogger(lines) });
  const warning = () => lines.find((l) => (l as { message: string }).message.startsWith('spare: adopt() threw'));
  return { registry, fake, clock, warning };
}

describe('warm spares', () => {
  it('hands a new downstream session a ready spare without calling the factory, and replaces it in the background', async () => {
    const { registry, fake, clock } = setup({ spares: { g1: 1 } });
    const created = record(registry, 'session:created');
    (await registry.acquire(req('a'))).release();
    await clock.advance(0);
    expect(fake.calls).toBe(2); // a's own session + one spare
    const [spare] = spareConnections(fake);
    const lease = await registry.acquire(req('b'));
    expect(lease.client).toBe(spare?.client);
    expect(lease.info.downstreamSessionId).toBe('b');
    expect(created.map((e) => e.downstreamSessionId)).toEqual(['a', 'b']);
    lease.release();
    await clock.advance(0);
    expect(fake.calls).toBe(3); // the replacement
    expect(spareConnections(fake)).toHaveLength(2);
  });

  it('never serves two downstream sessions with one spare, and a spare is fresh (no one used it)', async () => {
    const { registry, fake, clock } = setup({ spares: { g1: 1 } });
    (await registry.acquire(req('a'))).release();
    await clock.advance(0);
    const [spare] = spareConnections(fake);
    expect(spare?.client.calls).toEqual([]);
    const b = await registry.acquire(req('b'));
    const c = await registry.acquire(req('c'));
    expect(new Set([b.client, c.client]).size).toBe(2);
    // b keeps its connection; c got the replacement or its own, never b's.
    expect((await registry.acquire(req('b'))).client).toBe(b.client);
    b.release();
    c.release();
  });

  it('does not use a spare whose fingerprint differs from the request, and follows the new configuration', async () => {
    const { registry, fake, clock } = setup({ spares: { g1: 1 } });
    (await registry.acquire(req('a'))).release();
    await clock.advance(0);
    const [old] = spareConnections(fake);
    const other = req('b', 'g1', { headers: { 'x-tenant': 'two' } });
    const lease = await registry.acquire(other);
    expect(lease.client).not.toBe(old?.client);
    expect(fake.connections.find((c) => c.client === lease.client)?.request.downstreamSessionId).toBe('b');
    lease.release();
    await clock.advance(0);
    expect(old?.closed).toBe(true);
    const fresh = spareConnections(fake).at(-1);
    expect(fresh?.request.fingerprint).toBe(other.fingerprint);
  });

  it('counts spares against maxSessions and gives their room to a real session first', async () => {
    const { registry, fake, clock } = setup({ spares: { g1: 1 }, maxSessions: 2 });
    (await registry.acquire(req('a'))).release();
    await clock.advance(0);
    expect(spareConnections(fake)).toHaveLength(1);
    // a + spare = 2: a new key of another gateway takes the spare's room.
    (await registry.acquire(req('b', 'g2'))).release();
    await clock.advance(0);
    expect(spareConnections(fake)[0]?.closed).toBe(true);
    expect(registry.size).toBe(2);
    // Full of real sessions: no new spare, and the cap still holds.
    expect(spareConnections(fake)).toHaveLength(1);
    await expect(registry.acquire(req('c', 'g2'))).rejects.toBeInstanceOf(CapacityError);
  });

  it('counts spares against maxSessionsPerGateway', async () => {
    const { registry, fake, clock } = setup({ spares: { g1: 3 }, maxSessionsPerGateway: 2 });
    (await registry.acquire(req('a'))).release();
    await clock.advance(0);
    expect(spareConnections(fake)).toHaveLength(1); // 1 session + 1 spare = the cap
    (await registry.acquire(req('b'))).release(); // takes the spare
    await clock.advance(0);
    expect(spareConnections(fake)).toHaveLength(1);
    await expect(registry.acquire(req('c'))).rejects.toBeInstanceOf(CapacityError);
  });

  it("keeps another gateway's spare when a full gateway is refused anyway (its room would not help)", async () => {
    const { registry, fake, clock } = setup({ spares: { g2: 1 }, maxSessions: 4, maxSessionsPerGateway: 2 });
    (await registry.acquire(req('a', 'g1'))).release();
    (await registry.acquire(req('b', 'g1'))).release();
    (await registry.acquire(req('a', 'g2'))).release();
    await clock.advance(0);
    const [spare] = spareConnections(fake);
    expect(spare).toBeDefined();
    // g1 is full and so is the registry: freeing g2's spare cannot make room on g1.
    await expect(registry.acquire(req('c', 'g1'))).rejects.toBeInstanceOf(CapacityError);
    expect(spare?.closed).toBe(false);
  });

  it('closes a spare unused for idleTtlMs and does not replace it until the next create', async () => {
    const { registry, fake, clock } = setup({ spares: { g1: 1 }, idleTtlMs: 1_000 });
    const a = await registry.acquire(req('a')); // held: only the spare is idle
    await clock.advance(0);
    const [spare] = spareConnections(fake);
    await clock.advance(1_000);
    expect(spare?.closed).toBe(true);
    await clock.advance(5_000);
    expect(spareConnections(fake)).toHaveLength(1);
    (await registry.acquire(req('b'))).release();
    await clock.advance(0);
    expect(spareConnections(fake)).toHaveLength(2);
    a.release();
  });

  it('closes spares in closeAll, bounded even when their close hangs', async () => {
    const { registry, fake, clock } = setup({ spares: { g1: 2 }, closeTimeoutMs: 100 }, { close: 'hang' });
    (await registry.acquire(req('a'))).release();
    await clock.advance(0);
    expect(spareConnections(fake)).toHaveLength(2);
    let done = false;
    const closing = registry.closeAll().then(() => {
      done = true;
    });
    await clock.advance(199);
    expect(done).toBe(false);
    await clock.advance(1);
    await closing;
    expect(spareConnections(fake).every((c) => c.closeCalls === 1)).toBe(true);
  });

  it('stops a spare still starting at closeAll and closes it if the factory delivers late', async () => {
    const { registry, fake, clock } = setup({ spares: { g1: 1 } }, { createLatencyMs: (r) => (r.downstreamSessionId === 'a' ? 0 : 50) });
    (await registry.acquire(req('a'))).release();
    await clock.advance(0);
    expect(fake.inProgress).toBe(1);
    const closing = registry.closeAll();
    await clock.advance(10_000);
    await closing;
    expect(fake.live).toBe(0);
  });

  it('closes a spare whose factory ignores the abort and delivers after the drain phase, when it arrives', async () => {
    const clock = new ManualClock();
    const fake = createFakeFactory({ clock });
    const delivery = deferred<void>();
    const closed = deferred<void>();
    // The spare's create ignores its signal: it delivers when the test says, whatever the registry asked.
    const factory: SessionFactory<FakeClient> = async (request, ctx) => {
      if (!request.downstreamSessionId.startsWith('mcp-upstream-registry.spare.')) return fake.factory(request, ctx);
      await delivery.promise;
      const connection = await fake.factory(request, { signal: new AbortController().signal, onBroken: ctx.onBroken });
      return { client: connection.client, close: (c) => connection.close(c).finally(closed.resolve) };
    };
    const registry = new UpstreamSessionRegistry<FakeClient>({ factory, clock, spares: { g1: 1 }, closeTimeoutMs: 100 });
    try {
      (await registry.acquire(req('a'))).release();
      await clock.advance(0);
      const evicted = registry.evictGateway('g1');
      await clock.advance(1_000);
      await evicted;
      delivery.resolve();
      // Without the close on arrival this never settles (the test times out), and the connection stays open.
      await closed.promise;
      expect(spareConnections(fake)[0]?.closed).toBe(true);
    } finally {
      await registry.closeAll();
    }
  });

  it('closes the spares of an evicted gateway and forgets its pool', async () => {
    const { registry, fake, clock } = setup({ spares: { g1: 1 } });
    (await registry.acquire(req('a'))).release();
    await clock.advance(0);
    expect(await registry.evictGateway('g1')).toBe(1);
    expect(spareConnections(fake)[0]?.closed).toBe(true);
    await clock.advance(0);
    expect(spareConnections(fake)).toHaveLength(1);
  });

  it('drops a spare that breaks before it is taken; breakage after the hand-over retires that session', async () => {
    const { registry, fake, clock } = setup({ spares: { g1: 1 } });
    const retired = record(registry, 'session:retired');
    (await registry.acquire(req('a'))).release();
    await clock.advance(0);
    spareConnections(fake)[0]?.break(new Error('gone'));
    await clock.advance(0);
    expect(spareConnections(fake)[0]?.closed).toBe(true);
    // b creates its own session (no spare), which tops the pool up again.
    const b = await registry.acquire(req('b'));
    b.release();
    await clock.advance(0);
    const second = spareConnections(fake).at(-1);
    const c = await registry.acquire(req('c'));
    expect(c.client).toBe(second?.client);
    c.release();
    second?.break(new Error('gone'));
    await clock.advance(0);
    expect(retired).toContainEqual(expect.objectContaining({ downstreamSessionId: 'c', reason: 'lost' }));
  });

  it('tells a spare which downstream session took it (adopt, once, before the first lease); own creates are not adopted', async () => {
    const { registry, fake, clock } = setup({ spares: { g1: 1 } });
    (await registry.acquire(req('a'))).release();
    await clock.advance(0);
    const [spare] = spareConnections(fake);
    expect(spare?.adoptions).toEqual([]);
    const b = await registry.acquire(req('b'));
    expect(b.client).toBe(spare?.client);
    expect(spare?.adoptions.map((r) => r.downstreamSessionId)).toEqual(['b']);
    b.release();
    (await registry.acquire(req('b'))).release();
    expect(spare?.adoptions).toHaveLength(1);
    const own = fake.connections.find((c) => c.request.downstreamSessionId === 'a');
    expect(own?.adoptions).toEqual([]);
  });

  it('serves the session when a spare\'s adopt() throws, and logs it without the request\'s header values', async () => {
    const { registry, fake, clock, warning } = throwingAdopt(() => 'adopt failed for token SECRET-VALUE');
    try {
      const secret = { headers: { authorization: 'Bearer SECRET-VALUE' } };
      (await registry.acquire(req('a', 'g1', secret))).release();
      await clock.advance(0);
      const b = await registry.acquire(req('b', 'g1', secret));
      expect(b.client).toBe(spareConnections(fake)[0]?.client);
      b.release();
      expect(warning()).toMatchObject({ level: 'warn', fields: { downstreamSessionId: 'b', gatewayId: 'g1' } });
      expect(JSON.stringify(warning())).not.toContain('SECRET-VALUE');
    } finally {
      await registry.closeAll();
    }
  });

  it('never hands a spare made with one set of credentials to a request with others, even when the connection can rotate them', async () => {
    // An upstream may bind its session to the identity it saw at initialize: B must not be served as A.
    const { registry, fake, clock } = setup({ spares: { g1: 1 } }, { updateCredentials: true });
    const asA = { credentials: { authorization: 'Bearer A-SECRET' } };
    (await registry.acquire(req('a', 'g1', asA))).release();
    await clock.advance(0);
    const [spare] = spareConnections(fake);
    const b = await registry.acquire(req('b', 'g1', { credentials: { authorization: 'Bearer B-SECRET' } }));
    expect(b.client).not.toBe(spare?.client);
    expect(spare?.credentialUpdates).toEqual([]);
    b.release();
    // The spare still serves a session with the credentials it was made with.
    const c = await registry.acquire(req('c', 'g1', asA));
    expect(c.client).toBe(spare?.client);
    c.release();
  });

  it('starts spares within createConcurrencyPerGateway', async () => {
    const { registry, fake, clock } = setup({ spares: { g1: 5 }, createConcurrencyPerGateway: 2 }, { createLatencyMs: 10 });
    const first = registry.acquire(req('a'));
    await clock.advance(10);
    (await first).release();
    for (let i = 0; i < 5; i++) await clock.advance(10);
    expect(spareConnections(fake)).toHaveLength(5);
    expect(fake.maxConcurrentCreates).toBeLessThanOrEqual(2);
  });

  it('rejects a malformed spares option', () => {
    expect(() => new UpstreamSessionRegistry({ spares: { g1: -1 } })).toThrow(InvalidOptionsError);
    expect(() => new UpstreamSessionRegistry({ spares: { g1: 1.5 } })).toThrow(InvalidOptionsError);
    expect(() => new UpstreamSessionRegistry({ spares: [] as never })).toThrow(InvalidOptionsError);
    expect(() => new UpstreamSessionRegistry({ spares: { g1: 100_000 } })).toThrow(/spares/);
  });
});
