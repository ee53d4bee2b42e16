import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { classifyError } from '../../src/classify.js';
import { InvalidOptionsError } from '../../src/errors.js';
import type { FactoryContext } from '../../src/factory.js';
import { SessionCreateRequest } from '../../src/request.js';
import { type FakeFactoryOptions, createFakeFactory } from '../../src/testing/fake-factory.js';
import { ManualClock } from '../../src/testing/manual-clock.js';

function request(downstreamSessionId = 'session-a', gatewayId = 'gw'): SessionCreateRequest {
  return SessionCreateRequest.from({ downstreamSessionId, gatewayId, url: 'http://127.0.0.1:1/mcp' });
}

interface TestContext extends FactoryContext {
  readonly controller: AbortController;
  readonly broken: unknown[];
}

function context(): TestContext {
  const controller = new AbortController();
  const broken: unknown[] = [];
  return { controller, broken, signal: controller.signal, onBroken: (reason) => broken.push(reason) };
}

/** Observes a promise without letting a rejection go unhandled while the clock advances. */
function track<T>(promise: Promise<T>): { settled: boolean; rejected: boolean; value?: T; error?: unknown } {
  const state: { settled: boolean; rejected: boolean; value?: T; error?: unknown } = { settled: false, rejected: false };
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, rejected: true, error }),
  );
  return state;
}

describe('createFakeFactory: creates', () => {
  it('creates at once by default and counts precisely', async () => {
    const fake = createFakeFactory();
    const req = request();
    const connection = await fake.factory(req, context());
    expect(fake).toMatchObject({ calls: 1, created: 1, live: 1, closed: 0, inProgress: 0, maxConcurrentCreates: 1 });
    expect(fake.connections).toHaveLength(1);
    const handle = fake.connections[0]!;
    expect(handle.client).toBe(connection.client);
    expect(handle.id).toBe(connection.client.id);
    expect(handle.request).toBe(req);
    expect(handle).toMatchObject({ closeCalls: 0, closing: false, closed: false, forced: false });
  });

  it('gives every connection its own client', async () => {
    const fake = createFakeFactory();
    const a = await fake.factory(request('a'), context());
    const b = await fake.factory(request('b'), context());
    expect(a.client).not.toBe(b.client);
    await a.client.callTool({ name: 'increment' });
    expect(b.client.counter).toBe(0);
  });

  it('takes createLatencyMs on the injected clock and tracks concurrent creates', async () => {
    const clock = new ManualClock();
    const fake = createFakeFactory({ clock, createLatencyMs: 100 });
    const creates = [0, 1, 2].map((i) => track(fake.factory(request(`s${i}`), context())));
    await clock.advance(99);
    expect(creates.some((create) => create.settled)).toBe(false);
    expect(fake).toMatchObject({ calls: 3, created: 0, inProgress: 3, maxConcurrentCreates: 3 });
    await clock.advance(1);
    expect(creates.every((create) => create.settled && !create.rejected)).toBe(true);
    expect(fake).toMatchObject({ created: 3, live: 3, inProgress: 0, maxConcurrentCreates: 3 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('calls a latency function with the request and the 1-based call number', async () => {
    const clock = new ManualClock();
    const seen: Array<[string, number]> = [];
    const fake = createFakeFactory({
      clock,
      createLatencyMs: (req, n) => {
        seen.push([req.downstreamSessionId, n]);
        return n * 10;
      },
    });
    const first = track(fake.factory(request('a'), context()));
    const second = track(fake.factory(request('b'), context()));
    await clock.advance(10);
    expect([first.settled, second.settled]).toEqual([true, false]);
    await clock.advance(10);
    expect(second.settled).toBe(true);
    expect(seen).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
  });

  it('rejects with signal.reason when the create is aborted during its latency, and clears its timer', async () => {
    const clock = new ManualClock();
    const fake = createFakeFactory({ clock, createLatencyMs: 100 });
    const ctx = context();
    const create = track(fake.factory(request(), ctx));
    await clock.advance(50);
    const reason = new Error('create timeout');
    ctx.controller.abort(reason);
    await clock.flush();
    expect(create.error).toBe(reason);
    expect(fake).toMatchObject({ calls: 1, created: 0, live: 0, inProgress: 0 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects at once on an already aborted signal, and with 0 latency when aborted before it resolves', async () => {
    const fake = createFakeFactory();
    const reason = new Error('gone');
    const ctx = context();
    ctx.controller.abort(reason);
    await expect(fake.factory(request(), ctx)).rejects.toBe(reason);
    const late = context();
    const create = fake.factory(request(), late);
    late.controller.abort(reason);
    await expect(create).rejects.toBe(reason);
    expect(fake).toMatchObject({ calls: 2, created: 0 });
  });

  it('fails the creates that fail() picks, after their latency', async () => {
    const clock = new ManualClock();
    const boom = new Error('connect refused');
    const fake = createFakeFactory({ clock, createLatencyMs: 10, fail: (_req, n) => (n === 2 ? boom : undefined) });
    const creates = [1, 2, 3].map(() => track(fake.factory(request(), context())));
    await clock.advance(9);
    expect(creates[1]!.settled).toBe(false);
    await clock.advance(1);
    expect(creates.map((create) => create.rejected)).toEqual([false, true, false]);
    expect(creates[1]!.error).toBe(boom);
    expect(fake).toMatchObject({ calls: 3, created: 2 });
  });

  it('failNext() fails the next creates, one queued error each', async () => {
    const fake = createFakeFactory();
    const first = new Error('first');
    const second = new Error('second');
    fake.failNext(first);
    fake.failNext(second);
    await expect(fake.factory(request(), context())).rejects.toBe(first);
    await expect(fake.factory(request(), context())).rejects.toBe(second);
    await expect(fake.factory(request(), context())).resolves.toBeDefined();
    expect(fake).toMatchObject({ calls: 3, created: 1 });
  });

  it('reports the connection broken through ctx.onBroken and breaks its client', async () => {
    const fake = createFakeFactory();
    const ctx = context();
    const connection = await fake.factory(request(), ctx);
    fake.connections[0]!.break();
    expect(ctx.broken).toHaveLength(1);
    expect(ctx.broken[0]).toBeInstanceOf(McpError);
    expect(ctx.broken[0]).toMatchObject({ code: ErrorCode.ConnectionClosed });
    await expect(connection.client.ping()).rejects.toBe(ctx.broken[0]);
    const reason = new Error('socket reset');
    fake.connections[0]!.break(reason);
    expect(ctx.broken[1]).toBe(reason);
  });
});

describe("createFakeFactory: mode 'manual'", () => {
  it('waits in pending until resolve() or reject()', async () => {
    const fake = createFakeFactory({ mode: 'manual' });
    const req = request();
    const ctx = context();
    const first = track(fake.factory(req, ctx));
    const second = track(fake.factory(request('b'), context()));
    await Promise.resolve();
    expect(fake.pending).toHaveLength(2);
    expect(fake.pending[0]!.request).toBe(req);
    expect(fake.pending[0]!.signal).toBe(ctx.signal);
    expect(fake.inProgress).toBe(2);
    const refused = new Error('refused');
    fake.pending[1]!.reject(refused);
    fake.pending[0]!.resolve();
    await new ManualClock().flush();
    expect(first.value?.client).toBe(fake.connections[0]!.client);
    expect(second.error).toBe(refused);
    expect(fake).toMatchObject({ pending: [], created: 1, calls: 2, inProgress: 0, maxConcurrentCreates: 2 });
  });

  it('rejects with signal.reason on abort, leaves pending, and ignores a later resolve()', async () => {
    const fake = createFakeFactory({ mode: 'manual' });
    const ctx = context();
    const create = fake.factory(request(), ctx);
    const entry = fake.pending[0]!;
    const reason = new Error('abandoned');
    ctx.controller.abort(reason);
    await expect(create).rejects.toBe(reason);
    expect(fake.pending).toHaveLength(0);
    entry.resolve();
    await Promise.resolve();
    expect(fake.created).toBe(0);
  });

  it('applies failNext() when the test resolves the create', async () => {
    const fake = createFakeFactory({ mode: 'manual' });
    const planned = new Error('planned');
    fake.failNext(planned);
    const create = fake.factory(request(), context());
    fake.pending[0]!.resolve();
    await expect(create).rejects.toBe(planned);
  });
});

describe('createFakeFactory: close behaviours', () => {
  async function connected(options: FakeFactoryOptions = {}) {
    const fake = createFakeFactory(options);
    const connection = await fake.factory(request(), context());
    return { fake, connection, handle: fake.connections[0]! };
  }

  it("'ok' closes at once; the client then answers 'Not connected' (transport)", async () => {
    const { fake, connection, handle } = await connected();
    await connection.close({ signal: new AbortController().signal });
    expect(handle).toMatchObject({ closeCalls: 1, closing: false, closed: true, forced: false });
    expect(fake).toMatchObject({ created: 1, closed: 1, live: 0 });
    const error = await connection.client.ping().catch((caught: unknown) => caught);
    expect(classifyError(error)).toBe('transport');
  });

  it('counts every close call; a second call joins the first', async () => {
    const { fake, connection, handle } = await connected();
    const signal = new AbortController().signal;
    await connection.close({ signal });
    await connection.close({ signal });
    expect(handle.closeCalls).toBe(2);
    expect(fake.closed).toBe(1);
  });

  it("'ok' with an already aborted signal counts as forced", async () => {
    const { connection, handle } = await connected();
    await connection.close({ signal: AbortSignal.abort() });
    expect(handle.forced).toBe(true);
  });

  it("'throw' rejects, and the connection counts as closed", async () => {
    const { fake, connection, handle } = await connected({ close: 'throw' });
    await expect(connection.close({ signal: new AbortController().signal })).rejects.toThrow('close failed');
    expect(handle.closed).toBe(true);
    expect(fake.live).toBe(0);
  });

  it('{ slowMs } finishes gracefully after slowMs on the clock', async () => {
    const clock = new ManualClock();
    const { fake, connection, handle } = await connected({ clock, close: { slowMs: 500 } });
    const closing = track(connection.close({ signal: new AbortController().signal }));
    await clock.advance(499);
    expect(closing.settled).toBe(false);
    expect(handle.closing).toBe(true);
    expect(fake.live).toBe(1);
    await clock.advance(1);
    expect(closing.settled).toBe(true);
    expect(handle).toMatchObject({ closed: true, forced: false });
    expect(clock.pendingTimers).toBe(0);
  });

  it('{ slowMs } finishes at once, forced, when its signal aborts', async () => {
    const clock = new ManualClock();
    const { connection, handle } = await connected({ clock, close: { slowMs: 500 } });
    const controller = new AbortController();
    const closing = track(connection.close({ signal: controller.signal }));
    await clock.advance(100);
    controller.abort();
    await clock.flush();
    expect(closing.settled).toBe(true);
    expect(handle).toMatchObject({ closed: true, forced: true });
    expect(clock.pendingTimers).toBe(0);
  });

  it("'until-abort' ignores the graceful phase and finishes when its signal aborts", async () => {
    const clock = new ManualClock();
    const { connection, handle } = await connected({ clock, close: 'until-abort' });
    const controller = new AbortController();
    const closing = track(connection.close({ signal: controller.signal }));
    await clock.advance(60_000);
    expect(closing.settled).toBe(false);
    controller.abort();
    await clock.flush();
    expect(closing.settled).toBe(true);
    expect(handle).toMatchObject({ closed: true, forced: true });
  });

  it("'hang' never settles, even after the abort; it stays live", async () => {
    const clock = new ManualClock();
    const { fake, connection, handle } = await connected({ clock, close: 'hang' });
    const controller = new AbortController();
    const closing = track(connection.close({ signal: controller.signal }));
    await clock.advance(60_000);
    controller.abort();
    await clock.flush();
    expect(closing.settled).toBe(false);
    expect(handle).toMatchObject({ closeCalls: 1, closing: true, closed: false, forced: true });
    expect(fake.live).toBe(1);
  });

  it('setCloseBehaviour() applies to later closes; a per-connection override wins', async () => {
    const fake = createFakeFactory();
    const a = await fake.factory(request('a'), context());
    const b = await fake.factory(request('b'), context());
    fake.setCloseBehaviour('throw');
    fake.connections[1]!.setCloseBehaviour('ok');
    const signal = new AbortController().signal;
    await expect(a.close({ signal })).rejects.toThrow();
    await expect(b.close({ signal })).resolves.toBeUndefined();
  });
});

describe('createFakeFactory: options', () => {
  it.each<[string, unknown]>([
    ['unknown key', { latency: 5 }],
    ['negative latency', { createLatencyMs: -1 }],
    ['NaN latency', { createLatencyMs: Number.NaN }],
    ['bad close', { close: 'later' }],
    ['bad slowMs', { close: { slowMs: -5 } }],
    ['bad mode', { mode: 'sometimes' }],
    ['bad fail', { fail: 'yes' }],
    ['bad clock', { clock: {} }],
    ['bad updateCredentials', { updateCredentials: 'yes' }],
  ])('rejects %s with InvalidOptionsError', (_label, options) => {
    expect(() => createFakeFactory(options as FakeFactoryOptions)).toThrow(InvalidOptionsError);
  });

  it('rejects a bad setCloseBehaviour()', () => {
    expect(() => createFakeFactory().setCloseBehaviour({ slowMs: Number.NaN })).toThrow(InvalidOptionsError);
  });

  it('fails the create whose latency function returns a bad value', async () => {
    const fake = createFakeFactory({ createLatencyMs: () => -1 });
    await expect(fake.factory(request(), context())).rejects.toBeInstanceOf(InvalidOptionsError);
    expect(fake.inProgress).toBe(0);
  });
});

describe('createFakeFactory: credentials (issue #10 §3)', () => {
  const withToken = (token: string) =>
    SessionCreateRequest.from({ downstreamSessionId: 'a', gatewayId: 'gw', url: 'http://127.0.0.1:1/mcp', credentials: { authorization: token } });

  it('starts with the request credentials and records every updateCredentials call', async () => {
    const fake = createFakeFactory();
    const connection = await fake.factory(withToken('Bearer 0'), context());
    const handle = fake.connections[0]!;
    expect(handle.credentials).toEqual({ authorization: 'Bearer 0' });
    expect(handle.credentialUpdates).toEqual([]);
    connection.updateCredentials?.(withToken('Bearer 1').credentials);
    connection.updateCredentials?.(withToken('Bearer 2').credentials);
    expect(handle.credentials).toEqual({ authorization: 'Bearer 2' });
    expect(handle.credentialUpdates).toEqual([{ authorization: 'Bearer 1' }, { authorization: 'Bearer 2' }]);
  });

  it('makes connections without updateCredentials when told to', async () => {
    const fake = createFakeFactory({ updateCredentials: false });
    const connection = await fake.factory(withToken('Bearer 0'), context());
    expect(connection.updateCredentials).toBeUndefined();
    expect(fake.connections[0]!.credentials).toEqual({ authorization: 'Bearer 0' });
  });
});
