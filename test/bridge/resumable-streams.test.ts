/**
 * Resumable streams through the example proxy: every SSE event carries an id,
 * and a client whose stream dropped in the middle of a progress-reporting tool
 * call reconnects with `Last-Event-ID` and receives every remaining
 * notification and the result exactly once. Plus the bounds of
 * `MemoryEventStore` and the per-session scope of event ids.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExpressProxy, startProxy } from '../../examples/express/proxy.js';
import { type McpHost, hostMcpServer } from '../../examples/shared/mcp-host.js';
import { MemoryEventStore } from '../../src/bridge/memory-event-store.js';
import { sessionEventStore } from '../../src/bridge/session-event-store.js';
import { InvalidOptionsError } from '../../src/errors.js';
import { ManualClock } from '../../src/testing/manual-clock.js';

const STEPS = 6;
const PROTOCOL = '2025-11-25';

/** A store that tells the test when it has kept a given number of events. */
class WatchedStore extends MemoryEventStore {
  readonly #waiters: { count: number; resolve: () => void }[] = [];
  stored = 0;
  override async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const id = await super.storeEvent(streamId, message);
    this.stored++;
    for (const w of this.#waiters.filter((w) => this.stored >= w.count)) w.resolve();
    return id;
  }
  until(count: number): Promise<void> {
    if (this.stored >= count) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }
}

/** Reads SSE events off a fetch body, one at a time. */
function sseReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return {
    async next(): Promise<{ id?: string; data: string } | undefined> {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const id = /^id: ?(.*)$/m.exec(block)?.[1];
          const data = [...block.matchAll(/^data: ?(.*)$/gm)].map((m) => m[1]).join('\n');
          return { ...(id !== undefined && { id }), data };
        }
        const { value, done } = await reader.read();
        if (done) return undefined;
        buffer += decoder.decode(value, { stream: true });
      }
    },
    cancel: () => reader.cancel().catch(() => undefined),
  };
}

describe('resumable streams through the proxy', () => {
  let upstream: McpHost;
  let proxy: ExpressProxy;
  const store = new WatchedStore();
  // The upstream tool sends progress step i once the test opens gate i.
  const gates: (() => void)[] = [];
  const opened: Promise<void>[] = Array.from({ length: STEPS }, (_, i) => new Promise<void>((resolve) => (gates[i] = resolve)));
  let sessionId = '';

  beforeAll(async () => {
    upstream = await hostMcpServer(() => {
      const server = new McpServer({ name: 'steps', version: '1.0.0' });
      server.registerTool('steps', {}, async (extra) => {
        const token = extra._meta?.progressToken;
        for (let i = 0; i < STEPS && token !== undefined; i++) {
          await opened[i];
          await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: i + 1, total: STEPS } });
        }
        return { content: [{ type: 'text', text: 'all steps done' }] };
      });
      return server;
    });
    proxy = await startProxy({ gateways: [{ id: 'steps', url: upstream.url }], eventStore: store });
    const init = await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    sessionId = init.headers.get('mcp-session-id') ?? '';
    await init.text();
    await (await post({ jsonrpc: '2.0', method: 'notifications/initialized' })).text();
  });

  afterAll(async () => {
    for (const open of gates) open();
    await proxy?.close();
    await upstream?.close();
  });

  function headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': PROTOCOL,
      ...(sessionId && { 'mcp-session-id': sessionId }),
      ...extra,
    };
  }

  function post(body: object, signal?: AbortSignal): Promise<Response> {
    return fetch(proxy.url, { method: 'POST', headers: headers(), body: JSON.stringify(body), ...(signal && { signal }) });
  }

  it('a client that drops its stream mid-call resumes with Last-Event-ID and gets the rest exactly once', async () => {
    const drop = new AbortController();
    const call = await post({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'steps', arguments: {}, _meta: { progressToken: 'p' } } }, drop.signal);
    expect(call.headers.get('content-type')).toMatch(/text\/event-stream/);
    const first = sseReader(call.body!);
    const seen: { id?: string; data: string }[] = [];
    const progress: number[] = [];
    const results: unknown[] = [];
    const take = (event: { id?: string; data: string }): void => {
      seen.push(event);
      if (event.data === '') return; // the priming event
      const message = JSON.parse(event.data) as { method?: string; params?: { progress: number }; result?: unknown };
      if (message.method === 'notifications/progress') progress.push(message.params!.progress);
      if (message.result !== undefined) results.push(message.result);
    };

    gates[0]!();
    gates[1]!();
    while (progress.length < 2) take((await first.next())!);
    const lastEventId = seen.at(-1)!.id!;

    // The stream drops; steps 3 and 4 happen while the client is away.
    drop.abort();
    await first.cancel();
    const before = store.stored;
    gates[2]!();
    gates[3]!();
    await store.until(before + 2);

    const resumed = await fetch(proxy.url, { method: 'GET', headers: headers({ accept: 'text/event-stream', 'last-event-id': lastEventId }) });
    expect(resumed.status).toBe(200);
    const second = sseReader(resumed.body!);
    while (progress.length < 4) take((await second.next())!);
    gates[4]!();
    gates[5]!();
    for (let event = await second.next(); event !== undefined; event = await second.next()) take(event);

    expect(progress).toEqual([1, 2, 3, 4, 5, 6]);
    expect(results).toEqual([{ content: [{ type: 'text', text: 'all steps done' }] }]);
    // Every event carried an id, each one different.
    const ids = seen.map((e) => e.id);
    expect(ids.every((id) => typeof id === 'string' && id !== '')).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('MemoryEventStore', () => {
  const message = (n: number): JSONRPCMessage => ({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'p', progress: n } });
  async function replay(store: MemoryEventStore, after: string): Promise<number[]> {
    const sent: number[] = [];
    await store.replayEventsAfter(after, { send: async (_id, m) => void sent.push((m as unknown as { params: { progress: number } }).params.progress) });
    return sent;
  }

  it('rejects malformed options with the bad value shown', () => {
    expect(() => new MemoryEventStore({ maxEvents: 0 })).toThrow(/maxEvents.*0/);
    expect(() => new MemoryEventStore({ maxBytes: -1 })).toThrow(InvalidOptionsError);
    expect(() => new MemoryEventStore({ ttl: 1 } as never)).toThrow(/ttl/);
  });

  it('replays the events of one stream after the given id, and bounds count, bytes and age', async () => {
    const clock = new ManualClock();
    const store = new MemoryEventStore({ maxEvents: 4, maxAgeMs: 1_000, clock });
    const a1 = await store.storeEvent('a', message(1));
    await store.storeEvent('b', message(100));
    await store.storeEvent('a', message(2));
    await store.storeEvent('a', message(3));
    expect(await replay(store, a1)).toEqual([2, 3]);
    await store.storeEvent('a', message(4)); // the fifth event pushes out the first
    expect(await store.getStreamIdForEventId(a1)).toBeUndefined();
    expect(store.size).toBe(4);
    clock.tick(1_000);
    expect(await store.getStreamIdForEventId(String(5))).toBeUndefined();
    expect(store.size).toBe(0);
    expect(store.bytes).toBe(0);

    const small = new MemoryEventStore({ maxBytes: 200 });
    for (let i = 0; i < 10; i++) await small.storeEvent('a', message(i));
    expect(small.bytes).toBeLessThanOrEqual(200);
    expect(small.size).toBeLessThan(10);
  });

  it('scopes event ids per session: another session cannot replay them', async () => {
    const shared = new MemoryEventStore();
    const mine = sessionEventStore(shared, 'session-1');
    const theirs = sessionEventStore(shared, 'session-2');
    const id = await mine.storeEvent('_GET_stream', message(1));
    await mine.storeEvent('_GET_stream', message(2));
    expect(await mine.getStreamIdForEventId!(id)).toBe('_GET_stream');
    expect(await theirs.getStreamIdForEventId!(id)).toBeUndefined();
    await expect(theirs.replayEventsAfter(id, { send: async () => undefined })).rejects.toThrow(/Unknown event id/);
    const sent: JSONRPCMessage[] = [];
    expect(await mine.replayEventsAfter(id, { send: async (_id, m) => void sent.push(m) })).toBe('_GET_stream');
    expect(sent).toHaveLength(1);
  });
});
