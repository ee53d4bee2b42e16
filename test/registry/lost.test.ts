import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { SessionLostError } from '../../src/errors.js';
import { req, record, setup } from './helpers.js';
import type { SessionFactory } from '../../src/factory.js';
import { UpstreamSessionRegistry } from '../../src/registry/index.js';
import { type FakeClient, ManualClock } from '../../src/testing/index.js';

const turn = () => new Promise((resolve) => setImmediate(resolve));

/** 'lease' (released at once) or the rejection's code. */
function outcomeOf(acquire: Promise<{ release(): void }>): Promise<string | undefined> {
  return acquire.then(
    (lease) => {
      lease.release();
      return 'lease';
    },
    (e: { code?: string }) => e.code,
  );
}

describe('invariant 14 (registry side): onSessionLost', () => {
  it("'reconnect' retires, emits session:lost and rebuilds on the next acquire", async () => {
    const { registry, fake } = setup({ onSessionLost: 'reconnect' });
    const lost = record(registry, 'session:lost');
    (await registry.acquire(req('a'))).release();
    fake.connections[0]!.break();
    expect(lost).toEqual([expect.objectContaining({ downstreamSessionId: 'a', reason: 'lost', policy: 'reconnect' })]);
    (await registry.acquire(req('a'))).release();
    expect(fake.created).toBe(2);
  });

  it("'fail' rejects every acquire of that downstream session until evictSession", async () => {
    const { registry, fake } = setup({ onSessionLost: 'fail' });
    (await registry.acquire(req('a', 'g1'))).release();
    (await registry.acquire(req('b', 'g1'))).release();
    fake.connections[0]!.break();
    await expect(registry.acquire(req('a', 'g1'))).rejects.toBeInstanceOf(SessionLostError);
    await expect(registry.acquire(req('a', 'g2'))).rejects.toMatchObject({ code: 'ERR_SESSION_LOST' });
    (await registry.acquire(req('b', 'g1'))).release();
    await registry.evictSession('a');
    (await registry.acquire(req('a', 'g1'))).release();
    expect(fake.created).toBe(3);
  });

  it("'fail' also applies to a transport error from a call", async () => {
    const { registry } = setup({ onSessionLost: 'fail' });
    const failing = registry.use(req('a'), () => Promise.reject(new McpError(ErrorCode.ConnectionClosed, 'Connection closed')));
    await expect(failing).rejects.toBeInstanceOf(McpError);
    await expect(registry.acquire(req('a'))).rejects.toBeInstanceOf(SessionLostError);
  });

  it('a re-attach the upstream answers with 404 reconnects once under reconnect', async () => {
    const gone = Object.assign(new Error('Streamable HTTP error: Session not found'), { code: 404 });
    Object.defineProperty(gone, 'name', { value: 'StreamableHTTPError' });
    const { registry, fake } = setup({ onSessionLost: 'reconnect' }, { fail: (_r, n) => (n === 1 ? gone : undefined) });
    const lost = record(registry, 'session:lost');
    (await registry.acquire(req('a'))).release();
    expect(fake.calls).toBe(2);
    expect(lost).toHaveLength(1);
  });

  it('a re-attach the upstream answers with 404 fails the session under fail', async () => {
    const gone = Object.assign(new Error('Streamable HTTP error: Session not found'), { code: 404 });
    Object.defineProperty(gone, 'name', { value: 'StreamableHTTPError' });
    const { registry, fake } = setup({ onSessionLost: 'fail' }, { fail: (_r, n) => (n === 1 ? gone : undefined) });
    await expect(registry.acquire(req('a'))).rejects.toBeInstanceOf(SessionLostError);
    await expect(registry.acquire(req('a'))).rejects.toBeInstanceOf(SessionLostError);
    expect(fake.calls).toBe(1);
  });
});

describe('reconnect-storm guard', () => {
  it('fails fast during a growing backoff window and resets on success', async () => {
    const { registry, fake, clock } = setup(
      { createBackoff: { afterFailures: 2, initialMs: 1000, maxMs: 4000 } },
      { fail: (_r, n) => (n <= 3 ? new Error(`refused ${n}`) : undefined) },
    );
    const backoffs = record(registry, 'gateway:backoff');
    await expect(registry.acquire(req('a'))).rejects.toMatchObject({ code: 'ERR_CREATE_FAILED' });
    await expect(registry.acquire(req('b'))).rejects.toMatchObject({ code: 'ERR_CREATE_FAILED' });
    expect(backoffs).toEqual([expect.objectContaining({ gatewayId: 'g1', consecutiveFailures: 2, backoffMs: 1000 })]);
    const fast = await registry.acquire(req('c')).catch((e: unknown) => e);
    expect(fast).toMatchObject({ code: 'ERR_CREATE_FAILED' });
    expect((fast as Error).message).toMatch(/backing off/);
    expect(((fast as Error).cause as Error).message).toBe('refused 2');
    expect(fake.calls).toBe(2);
    expect(registry.snapshot().gateways.g1?.backoffRemainingMs).toBe(1000);
    await clock.advance(1000);
    await expect(registry.acquire(req('c'))).rejects.toMatchObject({ code: 'ERR_CREATE_FAILED' });
    expect(backoffs.at(-1)?.backoffMs).toBe(2000);
    await clock.advance(2000);
    (await registry.acquire(req('c'))).release();
    expect(registry.snapshot().gateways.g1).toMatchObject({ consecutiveFailures: 0, backoffRemainingMs: 0 });
  });
});

describe('no silent state loss and bounded lost marks (issue 9, §2.4, §2.5)', () => {
  it("regression 2.5: 'fail': an idle-expired upstream session emits session:lost and the next acquire rejects", async () => {
    const { registry, clock, fake } = setup({ onSessionLost: 'fail', idleTtlMs: 1000 });
    const lost = record(registry, 'session:lost');
    (await registry.acquire(req('a'))).release();
    await clock.advance(2000);
    expect(lost).toEqual([expect.objectContaining({ downstreamSessionId: 'a', reason: 'idle-expired', policy: 'fail' })]);
    await expect(registry.acquire(req('a'))).rejects.toBeInstanceOf(SessionLostError);
    expect(fake.created).toBe(1);
  });

  it("regression 2.5: 'fail': a capacity-evicted upstream session emits session:lost and its next acquire rejects", async () => {
    const { registry } = setup({ onSessionLost: 'fail', maxSessions: 1, overflow: 'evict-idle' });
    const lost = record(registry, 'session:lost');
    (await registry.acquire(req('a'))).release();
    (await registry.acquire(req('b'))).release();
    expect(lost).toEqual([expect.objectContaining({ downstreamSessionId: 'a', reason: 'capacity', policy: 'fail' })]);
    await expect(registry.acquire(req('a'))).rejects.toBeInstanceOf(SessionLostError);
  });

  it("regression 2.5: 'reconnect': idle expiry emits session:lost too, and the next acquire rebuilds", async () => {
    const { registry, clock, fake } = setup({ idleTtlMs: 1000 });
    const lost = record(registry, 'session:lost');
    (await registry.acquire(req('a'))).release();
    await clock.advance(2000);
    expect(lost).toEqual([expect.objectContaining({ reason: 'idle-expired', policy: 'reconnect' })]);
    (await registry.acquire(req('a'))).release();
    expect(fake.created).toBe(2);
  });

  it('regression 2.4: lost marks are bounded in count (maxLostSessions); the oldest goes first', async () => {
    const { registry, fake } = setup({ onSessionLost: 'fail', maxLostSessions: 3 });
    for (let i = 0; i < 10; i++) {
      (await registry.acquire(req(`d${i}`))).release();
      fake.connections[i]!.break();
    }
    expect(registry.snapshot().downstreamSessions).toBe(3);
    await expect(registry.acquire(req('d9'))).rejects.toBeInstanceOf(SessionLostError);
  });

  it('regression 2.4: lost marks are bounded in age (lostSessionTtlMs), also with idleTtlMs 0', async () => {
    const { registry, clock, fake } = setup({ onSessionLost: 'fail', idleTtlMs: 0, lostSessionTtlMs: 1000 });
    for (let i = 0; i < 5; i++) {
      (await registry.acquire(req(`d${i}`))).release();
      fake.connections[i]!.break();
    }
    expect(registry.snapshot().downstreamSessions).toBe(5);
    await clock.advance(1000);
    expect(registry.snapshot().downstreamSessions).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('regression 2.4: a lost mark that expires takes the rest of its downstream session with it', async () => {
    const { registry, clock, fake } = setup({ onSessionLost: 'fail', idleTtlMs: 0, lostSessionTtlMs: 1000 });
    (await registry.acquire(req('a', 'g1'))).release();
    (await registry.acquire(req('a', 'g2'))).release();
    fake.connections[0]!.break();
    expect(registry.size).toBe(1);
    await clock.advance(1000);
    expect(registry.size).toBe(0);
    expect(registry.snapshot().totals.retired['downstream-evicted']).toBe(1);
  });
});

/**
 * Downstream session x holds a live g2 session (manual creates), then waits
 * for its g1 create: `g1` is that acquire's outcome, its create still pending.
 */
async function waitingOnG1WhileG2Lives(options: Parameters<typeof setup>[0]) {
  const { registry, fake } = setup(options, { mode: 'manual' });
  const g2 = registry.acquire(req('x', 'g2'));
  await turn();
  fake.pending[0]!.resolve();
  (await g2).release();
  const g1 = outcomeOf(registry.acquire(req('x', 'g1')));
  await turn();
  return { registry, fake, g1 };
}

describe('found by review', () => {
  it("onSessionLost 'fail': a waiter on another gateway gets SessionLostError, not a lease", async () => {
    const { fake, g1 } = await waitingOnG1WhileG2Lives({ onSessionLost: 'fail' });
    fake.connections[0]!.break();
    fake.pending[0]!.resolve();
    expect(await g1).toBe('ERR_SESSION_LOST');
  });

  it("found by the property test: an acquire waiting while its session's lost mark is pushed out gets SessionLostError, not 'downstream-evicted'", async () => {
    const { registry, fake, g1 } = await waitingOnG1WhileG2Lives({ onSessionLost: 'fail', maxLostSessions: 1 });
    // x waits for its g1 create while its g2 session is lost, then y's loss pushes x's mark out.
    fake.connections[0]!.break();
    const y = registry.acquire(req('y', 'g1'));
    await turn();
    fake.pending[1]!.resolve();
    (await y).release();
    fake.connections[fake.connections.length - 1]!.break();
    fake.pending[0]?.resolve(); // already gone when the retirement aborted the create
    expect(await g1).toBe('ERR_SESSION_LOST');
  });

  it('does not call the factory again for a session a session:lost listener evicted', async () => {
    const clock = new ManualClock();
    let calls = 0;
    let closed = 0;
    const gone = Object.assign(new Error('Session not found'), { code: 404, name: 'StreamableHTTPError' });
    const factory: SessionFactory<FakeClient> = async () => {
      calls++;
      if (calls === 1) throw gone;
      return {
        client: {} as FakeClient,
        close: async () => {
          closed++;
        },
      };
    };
    const registry = new UpstreamSessionRegistry<FakeClient>({ factory, clock });
    registry.on('session:lost', (event) => void registry.evictSession(event.downstreamSessionId));
    await registry.acquire(req('x')).catch(() => undefined);
    await registry.closeAll();
    expect(calls - 1).toBe(closed);
  });
});
