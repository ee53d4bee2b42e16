/**
 * The upstream of the network scenarios: a stateful MCP counter server on the
 * real `@modelcontextprotocol/sdk` Streamable HTTP server transport, run in a
 * child process (see `upstream.ts`) so that it does not share the event loop
 * with the client under test, and so that it can be killed for real.
 *
 * Lean on purpose (no request log): every microsecond it spends is added to
 * each variant alike and dilutes the differences being measured.
 *
 * Tools: `increment` (adds one to this upstream session's counter and returns
 * it), `get` (returns it), `hang` (never answers; tells the parent it started).
 *
 * Control over IPC: `{ id, type: 'config', latencyMs }`, `{ id, type: 'stats' }`,
 * `{ id, type: 'reset-stats' }`; every reply echoes `id`. The server reports
 * `{ type: 'ready', port }` once listening and `{ type: 'tool-started', name }`.
 * It exits when the parent disconnects, so a crashed bench leaves nothing behind.
 *
 * @module
 */

import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

/** Counters the parent reads with `{ type: 'stats' }`. */
export interface UpstreamStats {
  /** `initialize` requests received. */
  initializations: number;
  /** Most `initialize` exchanges in flight at once (from arrival until the response closed). */
  peakConcurrentInitializations: number;
  /** HTTP exchanges received. */
  exchanges: number;
  /** DELETE requests received. */
  deletes: number;
  /** Upstream sessions open now. */
  openSessions: number;
}

/** A control message from the parent. */
export type UpstreamCommand =
  | { readonly id: number; readonly type: 'config'; readonly latencyMs: number }
  | { readonly id: number; readonly type: 'stats' }
  | { readonly id: number; readonly type: 'reset-stats' };

/** Open upstream sessions by `mcp-session-id`; each has its own counter in its tools' closure. */
const sessions = new Map<string, StreamableHTTPServerTransport>();
let latencyMs = 0;
let initializing = 0;
const stats: UpstreamStats = {
  initializations: 0,
  peakConcurrentInitializations: 0,
  exchanges: 0,
  deletes: 0,
  openSessions: 0,
};

function send(message: Record<string, unknown>): void {
  process.send?.(message);
}

function text(value: string | number) {
  return { content: [{ type: 'text' as const, text: String(value) }] };
}

function createMcp(session: { counter: number }): McpServer {
  const server = new McpServer({ name: 'bench-counter', version: '1.0.0' });
  server.registerTool('increment', { description: 'Adds one to the session counter' }, async () => {
    session.counter += 1;
    return text(session.counter);
  });
  server.registerTool('get', { description: 'Returns the session counter' }, async () => text(session.counter));
  server.registerTool('hang', { description: 'Never answers' }, () => {
    send({ type: 'tool-started', name: 'hang' });
    return new Promise<never>(() => {});
  });
  return server;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}

function isInitialize(body: unknown): boolean {
  const first = Array.isArray(body) ? body[0] : body;
  return typeof first === 'object' && first !== null && (first as { method?: unknown }).method === 'initialize';
}

function trackInitialize(res: ServerResponse): void {
  stats.initializations += 1;
  initializing += 1;
  stats.peakConcurrentInitializations = Math.max(stats.peakConcurrentInitializations, initializing);
  res.once('close', () => {
    initializing -= 1;
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function initialize(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
  const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    onsessioninitialized: (id) => {
      sessions.set(id, transport);
    },
    onsessionclosed: (id) => {
      sessions.delete(id);
    },
  });
  await createMcp({ counter: 0 }).connect(transport);
  await transport.handleRequest(req, res, body);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  stats.exchanges += 1;
  const body = req.method === 'POST' ? await readJson(req) : undefined;
  const connecting = isInitialize(body);
  if (connecting) trackInitialize(res);
  if (req.method === 'DELETE') stats.deletes += 1;
  if (latencyMs > 0) await delay(latencyMs);
  if (res.destroyed) return;
  const sessionId = req.headers['mcp-session-id'];
  if (typeof sessionId !== 'string') {
    if (connecting) return initialize(req, res, body);
    res.writeHead(400, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","error":{"code":-32000,"message":"no session"},"id":null}');
    return;
  }
  const transport = sessions.get(sessionId);
  if (transport === undefined) {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","error":{"code":-32001,"message":"Session not found"},"id":null}');
    return;
  }
  await transport.handleRequest(req, res, body);
}

const http = createServer((req, res) => {
  handle(req, res).catch((error: unknown) => {
    if (!res.headersSent) res.writeHead(500).end(String(error));
    else res.destroy();
  });
});
// A cold storm opens many connections at once; the default backlog would refuse some.
http.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  const address = http.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  send({ type: 'ready', port: address.port });
});

process.on('message', (message: UpstreamCommand) => {
  switch (message.type) {
    case 'config':
      latencyMs = message.latencyMs;
      send({ id: message.id, type: 'ok' });
      return;
    case 'stats':
      send({ id: message.id, type: 'stats', stats: { ...stats, openSessions: sessions.size } });
      return;
    case 'reset-stats':
      stats.initializations = 0;
      stats.peakConcurrentInitializations = 0;
      stats.exchanges = 0;
      stats.deletes = 0;
      send({ id: message.id, type: 'ok' });
      return;
  }
});
process.on('disconnect', () => process.exit(0));
