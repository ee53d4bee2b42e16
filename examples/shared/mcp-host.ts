/**
 * A tiny stateful MCP server host on node:http: one `McpServer` and one
 * Streamable HTTP transport per session, at `/mcp`. Used by the demo's
 * counter upstream and by the test fixtures; not part of the library.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

/** What happened to one upstream session. */
export type SessionEvent =
  | { readonly type: 'opened'; readonly sessionId: string }
  | { readonly type: 'deleted'; readonly sessionId: string }
  | { readonly type: 'closed'; readonly sessionId: string };

/** A running host. */
export interface McpHost {
  /** The Streamable HTTP endpoint, e.g. `http://127.0.0.1:51234/mcp`. */
  readonly url: string;
  /** Ids of the sessions open now. */
  openSessions(): string[];
  /** Every session event so far, in order. */
  readonly events: readonly SessionEvent[];
  /** Calls `listener` for every later session event; returns an unsubscribe function. */
  onEvent(listener: (event: SessionEvent) => void): () => void;
  /** Resolves with the next event that matches `predicate` (or a past one, if any matched already). */
  waitFor(predicate: (event: SessionEvent) => boolean): Promise<SessionEvent>;
  /** Forgets one session as if the server had restarted: its next request gets HTTP 404. */
  dropSession(sessionId: string): Promise<void>;
  /** Closes every session and the HTTP server, including idle and streaming connections. */
  close(): Promise<void>;
}

/** Options of {@link hostMcpServer}. */
export interface McpHostOptions {
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
}

function sendJsonError(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message } }));
}

/**
 * Serves `build(sessionId)` for every new session on `http://host:port/mcp`.
 *
 * @example
 * ```ts
 * const host = await hostMcpServer(() => buildCounterServer());
 * console.log(host.url);
 * await host.close();
 * ```
 */
export async function hostMcpServer(build: (sessionId: string) => McpServer, options: McpHostOptions = {}): Promise<McpHost> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const events: SessionEvent[] = [];
  const listeners = new Set<(event: SessionEvent) => void>();
  const emit = (event: SessionEvent): void => {
    events.push(event);
    for (const listener of [...listeners]) listener(event);
  };

  async function openSession(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const id = randomUUID();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => id,
      onsessioninitialized: (sessionId) => {
        sessions.set(sessionId, transport);
        emit({ type: 'opened', sessionId });
      },
      onsessionclosed: (sessionId) => emit({ type: 'deleted', sessionId }),
    });
    transport.onclose = () => {
      if (sessions.delete(id)) emit({ type: 'closed', sessionId: id });
    };
    await build(id).connect(transport);
    await transport.handleRequest(req, res);
    if (transport.sessionId === undefined) await transport.close();
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== '/mcp') return sendJsonError(res, 404, 'Not found');
    const sessionId = req.headers['mcp-session-id'];
    if (typeof sessionId !== 'string') return openSession(req, res);
    const transport = sessions.get(sessionId);
    if (transport === undefined) return sendJsonError(res, 404, 'Session not found');
    await transport.handleRequest(req, res);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJsonError(res, 500, String(error));
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const hostPart = address.includes(':') ? `[${address}]` : address;

  return {
    url: `http://${hostPart}:${port}/mcp`,
    openSessions: () => [...sessions.keys()],
    events,
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    waitFor(predicate) {
      const past = events.find(predicate);
      if (past !== undefined) return Promise.resolve(past);
      return new Promise((resolve) => {
        const listener = (event: SessionEvent): void => {
          if (!predicate(event)) return;
          listeners.delete(listener);
          resolve(event);
        };
        listeners.add(listener);
      });
    },
    async dropSession(sessionId) {
      await sessions.get(sessionId)?.close();
    },
    async close() {
      await Promise.all([...sessions.values()].map((transport) => transport.close()));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
