import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { req, record, settle, setup } from './helpers.js';

const IDLE = 60_000;

describe('invariant 6: probe after idle', () => {
  it('does not probe a connection used within idleValidationMs', async () => {
    const { registry, clock, fake } = setup({ idleValidationMs: IDLE });
    (await registry.acquire(req('a'))).release();
    await clock.advance(IDLE - 1);
    (await registry.acquire(req('a'))).release();
    expect(fake.connections[0]?.client.calls.filter((c) => c.method === 'ping')).toHaveLength(0);
  });

  it('probes an idle connection before handing it out, and reuses it when healthy', async () => {
    const { registry, clock, fake } = setup({ idleValidationMs: IDLE });
    const probed = record(registry, 'session:probed');
    (await registry.acquire(req('a'))).release();
    await clock.advance(IDLE);
    const lease = await registry.acquire(req('a'));
    expect(probed).toEqual([expect.objectContaining({ healthy: true, step: 'ping' })]);
    expect(fake.calls).toBe(1);
    lease.release();
  });

  it('advances on method-not-found and ends healthy at the first answer', async () => {
    const { registry, clock, fake } = setup({ idleValidationMs: IDLE });
    const probed = record(registry, 'session:probed');
    (await registry.acquire(req('a'))).release();
    const client = fake.connections[0]!.client;
    client.setAnswer('ping', { kind: 'error', error: new McpError(ErrorCode.MethodNotFound, 'no ping') });
    client.setAnswer('listTools', { kind: 'error', error: new Error('Server does not support tools (required for tools/list)') });
    await clock.advance(IDLE);
    (await registry.acquire(req('a'))).release();
    expect(probed[0]).toMatchObject({ healthy: true, step: 'prompts/list' });
    expect(fake.calls).toBe(1);
  });

  it('replaces a connection whose probe hits a transport error', async () => {
    const { registry, clock, fake } = setup({ idleValidationMs: IDLE });
    const retired = record(registry, 'session:retired');
    (await registry.acquire(req('a'))).release();
    fake.connections[0]!.client.failProbes(new McpError(ErrorCode.ConnectionClosed, 'Connection closed'));
    await clock.advance(IDLE);
    const lease = await registry.acquire(req('a'));
    expect(lease.client.id).not.toBe(fake.connections[0]!.client.id);
    expect(retired.map((e) => e.reason)).toEqual(['probe-failed']);
    lease.release();
  });

  it('treats a chain where every step timed out as unhealthy', async () => {
    const { registry, clock, fake } = setup({ idleValidationMs: IDLE, probeTimeoutMs: 100 });
    (await registry.acquire(req('a'))).release();
    fake.connections[0]!.client.hangProbes();
    await clock.advance(IDLE);
    const acquiring = registry.acquire(req('a'));
    for (let i = 0; i < 4; i++) await clock.advance(100);
    const lease = await acquiring;
    expect(lease.client.id).toBe(fake.connections[1]!.client.id);
    lease.release();
  });

  it('propagates an application error from a probe and keeps the connection', async () => {
    const { registry, clock, fake } = setup({ idleValidationMs: IDLE });
    (await registry.acquire(req('a'))).release();
    const bug = new McpError(ErrorCode.InternalError, 'server bug');
    fake.connections[0]!.client.setAnswer('ping', { kind: 'error', error: bug });
    await clock.advance(IDLE);
    await expect(registry.acquire(req('a'))).rejects.toBe(bug);
    const lease = await registry.acquire(req('a'));
    expect(fake.calls).toBe(1);
    lease.release();
  });

  it('runs one probe for concurrent acquires', async () => {
    const { registry, clock, fake } = setup({ idleValidationMs: IDLE });
    (await registry.acquire(req('a'))).release();
    await clock.advance(IDLE);
    const leases = await Promise.all([registry.acquire(req('a')), registry.acquire(req('a'))]);
    expect(fake.connections[0]!.client.calls.filter((c) => c.method === 'ping')).toHaveLength(1);
    for (const l of leases) l.release();
  });

  it('evict during a probe rejects the waiter and closes the connection once', async () => {
    const { registry, clock, fake } = setup({ idleValidationMs: IDLE });
    (await registry.acquire(req('a'))).release();
    fake.connections[0]!.client.hangProbes();
    await clock.advance(IDLE);
    const waiting = settle(registry.acquire(req('a')));
    await new Promise((r) => setImmediate(r));
    expect(await registry.evictSession('a')).toBe(1);
    const result = await waiting;
    expect(result.ok).toBe(false);
    expect((result as { error: { code: string } }).error.code).toBe('ERR_SESSION_RETIRED');
    expect(fake.connections[0]!.closeCalls).toBe(1);
    expect(fake.calls).toBe(1);
  });
});

describe('probing is a state (issue 9, §2.7)', () => {
  it('regression 2.7: a session whose probe wait was aborted stays probing; the sweeper does not expire it mid-probe', async () => {
    const { registry, clock, fake } = setup({ idleTtlMs: 1000, idleValidationMs: 500, probeTimeoutMs: 2000 });
    const retired = record(registry, 'session:retired');
    (await registry.acquire(req('a'))).release();
    await clock.advance(400);
    (await registry.acquire(req('b'))).release();
    await clock.advance(200); // t = 600: a is due for a probe
    fake.connections[0]!.client.hangProbes();
    const controller = new AbortController();
    const waiting = settle(registry.acquire(req('a'), { signal: controller.signal }));
    controller.abort(new Error('client went away'));
    expect(await waiting).toMatchObject({ ok: false });
    await clock.advance(900); // t = 1500: b expired; a is still being probed
    expect(retired.map((e) => `${e.downstreamSessionId}:${e.reason}`)).toEqual(['b:idle-expired']);
    expect(registry.snapshot().sessions.map((s) => `${s.downstreamSessionId}:${s.state}`)).toContain('a:probing');
  });
});
