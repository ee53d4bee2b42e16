import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { SessionLostError } from '../../src/errors.js';
import { req, record, setup } from './helpers.js';

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
