import { describe, expect, it } from 'vitest';
import { req, record, setup } from './helpers.js';

const SECRET = 'sk-live-0123456789abcdef';
const secretRequest = (ds: string) =>
  req(ds, 'g1', {
    url: `https://upstream.test/mcp?token=${SECRET}#frag`, // userinfo is refused at validation
    headers: { authorization: `Bearer ${SECRET}`, 'x-api-key': SECRET },
  });

describe('invariant 12: nothing leaks out', () => {
  it('isolates a throwing listener: the registry and other listeners go on', async () => {
    const errors: unknown[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (f: object) => errors.push(f) };
    const { registry } = setup({ logger });
    const created = record(registry, 'session:created');
    registry.on('session:created', () => {
      throw new Error('listener bug');
    });
    const after = record(registry, 'session:created');
    const lease = await registry.acquire(req('a'));
    lease.release();
    expect(created).toHaveLength(1);
    expect(after).toHaveLength(1);
    expect(errors).toHaveLength(1);
  });

  it('off removes a listener', async () => {
    const { registry } = setup();
    const seen: unknown[] = [];
    const handler = (e: unknown) => seen.push(e);
    registry.on('session:created', handler);
    registry.off('session:created', handler);
    (await registry.acquire(req('a'))).release();
    expect(seen).toHaveLength(0);
  });

  it('never puts header values, URL credentials or query strings in snapshots, events or logs', async () => {
    const logged: unknown[] = [];
    const log = (fields: object, message: string) => logged.push(fields, message);
    const logger = { debug: log, info: log, warn: log, error: log };
    const { registry, fake } = setup({ logger, idleTtlMs: 1000 });
    const events: unknown[] = [];
    for (const type of [
      'session:created',
      'session:reused',
      'session:retired',
      'session:closed',
      'session:lost',
      'session:create-failed',
    ] as const) {
      registry.on(type, (e) => events.push(e));
    }
    (await registry.acquire(secretRequest('a'))).release();
    (await registry.acquire(secretRequest('a'))).release();
    const snapshot = registry.snapshot();
    expect(snapshot.sessions[0]?.url).toBe('https://upstream.test/mcp');
    fake.failNext(new Error(`connect to https://user:${SECRET}@upstream.test/mcp?token=${SECRET} failed`));
    await registry.acquire(secretRequest('b')).catch(() => undefined);
    fake.connections[0]!.break();
    await registry.closeAll();
    const text = JSON.stringify([snapshot, registry.snapshot(), events.map(stripError), logged]);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('token=');
    expect(events.length).toBeGreaterThan(5);
    expect(logged.length).toBeGreaterThan(5);
  });

  it('returns frozen plain data', async () => {
    const { registry } = setup();
    (await registry.acquire(req('a'))).release();
    const snapshot = registry.snapshot();
    expect(Object.isFrozen(snapshot)).toBe(true);
    expect(Object.isFrozen(snapshot.sessions[0])).toBe(true);
    expect(Object.isFrozen(snapshot.totals.retired)).toBe(true);
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
    expect(snapshot).toMatchObject({
      live: 1,
      creating: 0,
      gateways: { g1: { live: 1, creating: 0 } },
      totals: { created: 1, reused: 0 },
      sessions: [{ downstreamSessionId: 'a', gatewayId: 'g1', transport: 'streamable-http', useCount: 1, inFlight: 0, state: 'ready' }],
    });
  });
});

/** A create-failed event carries the error object; its message must be clean too. */
function stripError(event: unknown): unknown {
  const e = event as { error?: Error };
  return e.error === undefined ? event : { ...e, error: e.error.message };
}

describe('snapshot by state (issue 9, §1)', () => {
  it('counts draining and closing sessions in retiring and lists only sessions in service', async () => {
    const hang = () => new Promise<void>(() => {});
    const affinity = { workerId: 'w', claim: async () => ({ owned: true as const }), release: hang, close: async () => {} };
    const { registry } = setup({ affinity }, { close: 'hang' });
    const lease = await registry.acquire(req('a'));
    (await registry.acquire(req('b'))).release();
    void registry.evictSession('a');
    void registry.evictSession('b');
    (await registry.acquire(req('c'))).release();
    const states = registry.snapshot().sessions.map((s) => `${s.downstreamSessionId}:${s.state}`);
    expect(states).toEqual(['c:ready']);
    expect(registry.snapshot()).toMatchObject({ retiring: 2, live: 1, creating: 0 });
    lease.release();
  });

  it('regression: ownership releases in progress are not counted as retiring sessions', async () => {
    const hang = () => new Promise<void>(() => {});
    const affinity = { workerId: 'w', claim: async () => ({ owned: true as const }), release: hang, close: async () => {} };
    const { registry } = setup({ affinity });
    // A transport error retires the only session of 'a': its ownership is given back (and hangs).
    (await registry.acquire(req('a'))).release(new TypeError('fetch failed'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(registry.snapshot()).toMatchObject({ retiring: 0, live: 0, creating: 0 });
    expect(registry.snapshot().totals.closed).toBe(1);
  });
});

describe('found by review', () => {
  it('keeps a gateway id named __proto__ as data in the snapshot', async () => {
    const { registry } = setup();
    (await registry.acquire(req('x', '__proto__'))).release();
    expect(Object.keys(registry.snapshot().gateways)).toEqual(['__proto__']);
  });
});
