import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import type { SessionFactory } from '../../src/factory.js';
import { UpstreamSessionRegistry } from '../../src/registry/index.js';
import { type FakeClient, createFakeFactory } from '../../src/testing/index.js';
import { req, record, setup } from './helpers.js';

const transportError = () => new McpError(ErrorCode.ConnectionClosed, 'Connection closed');

describe('invariant 7: transport errors retire', () => {
  it('retires on a transport error thrown from use(fn) and rethrows it', async () => {
    const { registry, fake } = setup();
    const retired = record(registry, 'session:retired');
    const error = transportError();
    await expect(registry.use(req('a'), () => Promise.reject(error))).rejects.toBe(error);
    expect(retired.map((e) => e.reason)).toEqual(['transport-error']);
    const lease = await registry.acquire(req('a'));
    expect(lease.client.id).toBe(fake.connections[1]!.client.id);
    lease.release();
  });

  it('retires on release(transport error) but not on an application error', async () => {
    const { registry, fake } = setup();
    const lease = await registry.acquire(req('a'));
    lease.release(new McpError(ErrorCode.InvalidParams, 'bad arguments'));
    const again = await registry.acquire(req('a'));
    expect(fake.calls).toBe(1);
    again.release(new TypeError('fetch failed'));
    (await registry.acquire(req('a'))).release();
    expect(fake.calls).toBe(2);
  });

  it('treats an HTTP 404 from the upstream as a lost session', async () => {
    const { registry } = setup();
    const retired = record(registry, 'session:retired');
    const lost = record(registry, 'session:lost');
    const gone = Object.assign(new Error('Streamable HTTP error: Session not found'), { code: 404 });
    Object.defineProperty(gone, 'name', { value: 'StreamableHTTPError' });
    (await registry.acquire(req('a'))).release(gone);
    expect(retired.map((e) => e.reason)).toEqual(['lost']);
    expect(lost).toHaveLength(1);
  });

  it('retires a connection that reports itself broken at once', async () => {
    const { registry, fake } = setup();
    const retired = record(registry, 'session:retired');
    (await registry.acquire(req('a'))).release();
    fake.connections[0]!.break();
    expect(retired.map((e) => e.reason)).toEqual(['lost']);
    expect(registry.size).toBe(0);
    (await registry.acquire(req('a'))).release();
    expect(fake.calls).toBe(2);
  });

  it('retires a connection that broke while it was being created', async () => {
    const fake = createFakeFactory();
    let calls = 0;
    const factory: SessionFactory<FakeClient> = async (request, ctx) => {
      const connection = await fake.factory(request, ctx);
      if (++calls === 1) ctx.onBroken(new Error('died during initialize'));
      return connection;
    };
    const registry = new UpstreamSessionRegistry<FakeClient>({ factory });
    const retired = record(registry, 'session:retired');
    const lease = await registry.acquire(req('a'));
    expect(fake.calls).toBe(2);
    expect(lease.client.id).toBe(fake.connections[1]!.client.id);
    expect(retired.map((e) => e.reason)).toEqual(['lost']);
    lease.release();
    await registry.closeAll();
    expect(fake.connections.map((c) => c.closeCalls)).toEqual([1, 1]);
  });
});

describe('invariant 8: retire drains', () => {
  it('takes a retired connection out of the map at once and closes it when its lease ends', async () => {
    const { registry, fake } = setup();
    const closed = record(registry, 'session:closed');
    const inFlight = await registry.acquire(req('a'));
    const evicting = registry.evictSession('a');
    expect(registry.size).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(fake.connections[0]!.closeCalls).toBe(0);
    const fresh = await registry.acquire(req('a'));
    expect(fresh.client).not.toBe(inFlight.client);
    inFlight.release();
    expect(await evicting).toBe(1);
    expect(fake.connections[0]!.closeCalls).toBe(1);
    expect(closed).toEqual([expect.objectContaining({ forced: false })]);
    fresh.release();
  });

  it('closes after closeTimeoutMs when a lease is never released', async () => {
    const { registry, fake, clock } = setup({ closeTimeoutMs: 1000 });
    await registry.acquire(req('a'));
    const evicting = registry.evictSession('a');
    await clock.advance(999);
    expect(fake.connections[0]!.closeCalls).toBe(0);
    await clock.advance(1);
    expect(await evicting).toBe(1);
    expect(fake.connections[0]!.closeCalls).toBe(1);
  });

  it('evictGateway retires only that gateway and counts them', async () => {
    const { registry, fake } = setup();
    for (const ds of ['a', 'b', 'c']) {
      (await registry.acquire(req(ds, 'g1'))).release();
      (await registry.acquire(req(ds, 'g2'))).release();
    }
    expect(await registry.evictGateway('g1')).toBe(3);
    expect(await registry.evictGateway('nope')).toBe(0);
    expect(registry.size).toBe(3);
    expect(fake.closed).toBe(3);
    expect(registry.snapshot().sessions.every((s) => s.gatewayId === 'g2')).toBe(true);
  });

  it('evictSession retires every gateway of that downstream session only', async () => {
    const { registry } = setup();
    for (const gw of ['g1', 'g2']) {
      (await registry.acquire(req('a', gw))).release();
      (await registry.acquire(req('b', gw))).release();
    }
    expect(await registry.evictSession('a')).toBe(2);
    expect(await registry.evictSession('a')).toBe(0);
    expect(registry.snapshot().sessions.map((s) => s.downstreamSessionId)).toEqual(['b', 'b']);
  });
});

describe('invariant 9: bounded close', () => {
  it('aborts the close signal after closeTimeoutMs and stops waiting after 2x', async () => {
    const { registry, fake, clock } = setup({ closeTimeoutMs: 1000 }, { close: 'hang' });
    const orphaned = record(registry, 'session:orphaned');
    (await registry.acquire(req('a'))).release();
    let done = false;
    const evicting = registry.evictSession('a').then(() => {
      done = true;
    });
    await clock.advance(999);
    expect(fake.connections[0]!.forced).toBe(false);
    await clock.advance(1);
    expect(fake.connections[0]!.forced).toBe(true);
    expect(done).toBe(false);
    await clock.advance(999);
    expect(done).toBe(false);
    await clock.advance(1);
    await evicting;
    expect(orphaned).toHaveLength(1);
    expect(registry.snapshot().totals.orphaned).toBe(1);
  });

  it('reports a forced close when the close only ends on abort', async () => {
    const { registry, fake, clock } = setup({ closeTimeoutMs: 1000 }, { close: 'until-abort' });
    const closed = record(registry, 'session:closed');
    (await registry.acquire(req('a'))).release();
    const evicting = registry.evictSession('a');
    await clock.advance(1000);
    await evicting;
    expect(fake.connections[0]!.forced).toBe(true);
    expect(closed).toEqual([expect.objectContaining({ forced: true })]);
  });

  it('counts a close that throws as closed and logs it', async () => {
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (_f: object, m: string) => warnings.push(m), error() {} };
    const { registry, fake } = setup({ logger }, { close: 'throw' });
    (await registry.acquire(req('a'))).release();
    await registry.evictSession('a');
    expect(fake.connections[0]!.closeCalls).toBe(1);
    expect(registry.snapshot().totals.closed).toBe(1);
    expect(warnings).toContain('upstream close failed');
  });

  it('retire with a stuck lease and a hung close takes 3 x closeTimeoutMs at most', async () => {
    const { registry, clock } = setup({ closeTimeoutMs: 1000 }, { close: 'hang' });
    await registry.acquire(req('a'));
    let done = false;
    const evicting = registry.evictSession('a').then(() => {
      done = true;
    });
    await clock.advance(2999);
    expect(done).toBe(false);
    await clock.advance(1);
    await evicting;
    expect(done).toBe(true);
  });
});

describe('found by review', () => {
  it('forgets a downstream session whose upstream session was retired for a transport error', async () => {
    const { registry } = setup();
    const lease = await registry.acquire(req('x'));
    lease.release(new TypeError('fetch failed'));
    expect(registry.snapshot().downstreamSessions).toBe(0);
  });
});
