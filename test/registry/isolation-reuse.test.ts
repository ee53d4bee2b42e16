import { describe, expect, it } from 'vitest';
import { req, record, setup } from './helpers.js';

describe('invariant 1: isolation', () => {
  it('gives two downstream sessions two different connections on every gateway', async () => {
    const { registry, fake } = setup();
    const seen = new Map<number, string>();
    for (const gw of ['g1', 'g2']) {
      for (const ds of ['tab-a', 'tab-b']) {
        const lease = await registry.acquire(req(ds, gw));
        const owner = seen.get(lease.client.id);
        expect(owner).toBeUndefined();
        seen.set(lease.client.id, `${ds}/${gw}`);
        lease.release();
      }
    }
    expect(fake.created).toBe(4);
    expect(registry.size).toBe(4);
  });

  it('keeps upstream state apart: 5 increments on A and 3 on B read 5 and 3', async () => {
    const { registry } = setup();
    const a = req('tab-a');
    const b = req('tab-b');
    for (let i = 0; i < 5; i++) await registry.use(a, (client) => client.callTool({ name: 'increment' }));
    for (let i = 0; i < 3; i++) await registry.use(b, (client) => client.callTool({ name: 'increment' }));
    const readA = await registry.use(a, (client) => client.callTool({ name: 'get' }));
    const readB = await registry.use(b, (client) => client.callTool({ name: 'get' }));
    expect(JSON.stringify(readA)).toContain('5');
    expect(JSON.stringify(readB)).toContain('3');
  });

  it('does not confuse ids that only differ by where the separator falls', async () => {
    const { registry } = setup();
    const one = await registry.acquire(req('a', 'b c'));
    const two = await registry.acquire(req('a', 'b'));
    expect(one.client.id).not.toBe(two.client.id);
    one.release();
    two.release();
  });
});

describe('invariant 2: reuse', () => {
  it('hands the same connection to every acquire of one key while it is healthy', async () => {
    const { registry, fake } = setup();
    const reused = record(registry, 'session:reused');
    const ids = new Set<number>();
    for (let i = 0; i < 10; i++) {
      const lease = await registry.acquire(req('tab-a'));
      ids.add(lease.client.id);
      lease.release();
    }
    expect(ids.size).toBe(1);
    expect(fake.calls).toBe(1);
    expect(reused).toHaveLength(9);
    expect(reused.at(-1)?.useCount).toBe(10);
  });

  it('reuses a connection while leases overlap', async () => {
    const { registry, fake } = setup();
    const first = await registry.acquire(req('tab-a'));
    const second = await registry.acquire(req('tab-a'));
    expect(second.client).toBe(first.client);
    expect(registry.snapshot().sessions[0]?.inFlight).toBe(2);
    first.release();
    second.release();
    expect(fake.calls).toBe(1);
  });

  it('accepts a plain init object as well as a prebuilt request', async () => {
    const { registry, fake } = setup();
    const init = { downstreamSessionId: 'tab-a', gatewayId: 'g1', url: 'http://upstream.test/mcp' };
    const one = await registry.acquire(init);
    one.release();
    const two = await registry.acquire(req('tab-a'));
    two.release();
    expect(two.client).toBe(one.client);
    expect(fake.calls).toBe(1);
  });

  it('releases are idempotent and asyncDispose releases', async () => {
    const { registry } = setup();
    const lease = await registry.acquire(req('tab-a'));
    lease.release();
    lease.release();
    expect(registry.snapshot().sessions[0]?.inFlight).toBe(0);
    const again = await registry.acquire(req('tab-a'));
    await again[Symbol.asyncDispose]();
    expect(registry.snapshot().sessions[0]?.inFlight).toBe(0);
  });
});

describe('found by review', () => {
  it('does not expose the binding (and its request headers) on a lease', async () => {
    const { registry } = setup();
    const lease = await registry.acquire(req('x', 'g1', { headers: { authorization: 'Bearer SECRET' } }));
    expect(Object.keys(lease)).not.toContain('binding');
    expect(JSON.stringify(Object.values(lease))).not.toContain('SECRET');
    lease.release();
  });
});
