/**
 * Issue #10 item 4: the SDK's StreamableHTTPClientTransport keeps ONE
 * `_reconnectionTimeout` for all its streams and schedules the next reconnect
 * even when `close()` aborted the reconnect in flight, so a timer (and a fetch)
 * outlived the connection. Against a real SDK server with an event store that
 * ends its standalone GET stream (retry 10 ms): after the default factory's
 * connection is closed, no upstream request is ever made again.
 */
import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { Socket } from 'node:net';
import { InMemoryEventStore } from '@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { afterEach, expect, it, vi } from 'vitest';
import { mcpSessionFactory } from '../../src/mcp/factory.js';
import { createTransport } from '../../src/mcp/transport.js';
import { SessionCreateRequest } from '../../src/request.js';
import { recordingContext } from '../fixtures/factory-harness.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface ResumableServer {
  readonly url: string;
  /** Resolves with the next GET the server receives (and leaves unanswered while `hangGets`). */
  nextGet(): Promise<void>;
  hangGets: boolean;
  /** Ends every session's standalone GET stream gracefully (SEP-1699 polling). */
  endStreams(): void;
}

async function startResumableServer(): Promise<ResumableServer> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const sockets = new Set<Socket>();
  const getWaiters: (() => void)[] = [];
  const state = { hangGets: false };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
    const id = req.headers['mcp-session-id'];
    if (req.method === 'GET') {
      for (const wake of getWaiters.splice(0)) wake();
      if (state.hangGets) return;
    }
    const existing = typeof id === 'string' ? transports.get(id) : undefined;
    if (existing !== undefined) return existing.handleRequest(req, res, body);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: new InMemoryEventStore(),
      retryInterval: 10,
      onsessioninitialized: (sid): void => {
        transports.set(sid, transport);
      },
    });
    const mcp = new McpServer({ name: 'resumable', version: '1.0.0' });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, body);
  };
  const http = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  http.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const address = http.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all([...transports.values()].map((t) => t.close().catch(() => {})));
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });
  return {
    url: `http://127.0.0.1:${address.port}/mcp`,
    nextGet: () => new Promise((resolve) => getWaiters.push(resolve)),
    get hangGets() {
      return state.hangGets;
    },
    set hangGets(value: boolean) {
      state.hangGets = value;
    },
    endStreams: () => {
      for (const transport of transports.values()) transport.closeStandaloneSSEStream();
    },
  };
}

it('leaves no reconnection timer and makes no request after close, when the upstream ended its stream and the reconnect hangs', async () => {
  const server = await startResumableServer();
  const calls: { method: string; afterClose: boolean }[] = [];
  let closed = false;
  const spy: FetchLike = (url, init) => {
    calls.push({ method: init?.method ?? 'GET', afterClose: closed });
    return fetch(url, init);
  };
  const firstGet = server.nextGet();
  const request = SessionCreateRequest.from({ downstreamSessionId: 'ds', gatewayId: 'resumable', url: server.url });
  const ctx = recordingContext();
  const connection = await mcpSessionFactory({ fetch: spy })(request, ctx);
  await firstGet;

  // The upstream ends the standalone stream; the client reconnects after 10 ms, and that GET hangs.
  server.hangGets = true;
  const reconnect = server.nextGet();
  server.endStreams();
  await reconnect;

  await connection.close({ signal: new AbortController().signal });
  closed = true;
  // The aborted reconnect used to schedule the next one (10 ms) and fetch again.
  // Generous bound for a busy machine; the failure shows up within ~20 ms.
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(calls.filter((c) => c.afterClose)).toEqual([]);
});

it('clears the reconnect timers of every stream on close, not only the last one the SDK remembers', async () => {
  vi.useFakeTimers();
  try {
    const request = SessionCreateRequest.from({ downstreamSessionId: 'ds', gatewayId: 'g', url: 'http://127.0.0.1:9/mcp' });
    const fetchSpy = vi.fn<FetchLike>();
    const transport = createTransport(request, {
      fetch: fetchSpy,
      observer: { onSessionGone: () => {} },
      armed: () => true,
      credentials: () => ({}),
    });
    await transport.start();
    // Two streams ended (say the GET stream and a resumable POST stream): the SDK keeps one timer field.
    const internals = transport as unknown as { _scheduleReconnection(options: object, attempt: number): void };
    internals._scheduleReconnection({}, 0);
    internals._scheduleReconnection({}, 0);
    expect(vi.getTimerCount()).toBe(2);
    await transport.close();
    expect(vi.getTimerCount()).toBe(0);
    // Nothing is scheduled once closed either.
    internals._scheduleReconnection({}, 0);
    expect(vi.getTimerCount()).toBe(0);
    await vi.runAllTimersAsync();
    expect(fetchSpy).not.toHaveBeenCalled();
  } finally {
    vi.useRealTimers();
  }
});
