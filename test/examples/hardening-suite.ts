/**
 * The hardening both example proxies must show when attacked over HTTP: body
 * limit, slow clients, exact origins, stray session ids, the admin endpoint's
 * token and redaction, and the downstream session table's own limits. Real
 * SDK upstream and raw sockets on 127.0.0.1.
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sessionTag } from '../../examples/shared/hardening.js';
import type { ProxyOptions } from '../../examples/shared/main.js';
import type { UpstreamSessionRegistry } from '../../src/index.js';
import { nextEvent } from '../fixtures/factory-harness.js';
import { INITIALIZE, MCP_HEADERS, rawRequest as raw } from '../fixtures/raw-mcp.js';
import { type RichServer, startRichServer } from '../fixtures/rich-server.js';
import { type TestClient, connectClient } from './helpers.js';

interface HardenedProxy {
  readonly url: string;
  readonly registry: UpstreamSessionRegistry;
  readonly sessions: { readonly size: number };
  close(): Promise<void>;
}

/**
 * Opens a socket that sends the headers (and `bodyStart`) and then one byte
 * every 100 ms, never finishing; resolves with what the server sent and the
 * time until it closed the socket.
 */
function trickle(url: string, head: string, bodyStart: string): Promise<{ received: string; elapsedMs: number }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect(Number(port), hostname);
    let received = '';
    let timer: ReturnType<typeof setInterval> | undefined;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    socket.on('connect', () => {
      socket.write(head + bodyStart);
      timer = setInterval(() => socket.write(' '), 100);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ received, elapsedMs: performance.now() - started });
    });
  });
}

export function hardeningSuite(name: string, startProxy: (options: ProxyOptions) => Promise<HardenedProxy>): void {
  describe(`${name} example proxy, hardened`, () => {
    const cleanups: (() => Promise<unknown>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function setup(options: Omit<ProxyOptions, 'gateways'> = {}): Promise<{ up: RichServer; p: HardenedProxy }> {
      const up = await startRichServer();
      cleanups.push(() => up.close());
      const p = await startProxy({ gateways: [{ id: 'counter', url: up.url }], ...options });
      cleanups.push(() => p.close());
      return { up, p };
    }
    async function client(url: string): Promise<TestClient> {
      const c = await connectClient(url);
      cleanups.push(() => c.close());
      return c;
    }

    it('refuses a body over maxBodyBytes with 413 and a JSON-RPC error, declared or chunked; nothing is forwarded', async () => {
      const { up, p } = await setup({ maxBodyBytes: 1_024 });
      const big = JSON.stringify({ ...INITIALIZE, params: { ...INITIALIZE.params, pad: 'x'.repeat(4_000) } });
      const declared = await raw(p.url, { method: 'POST', headers: MCP_HEADERS, body: big });
      expect(declared.status).toBe(413);
      expect(JSON.parse(declared.body)).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32600 } });
      const chunked = await raw(p.url, { method: 'POST', headers: MCP_HEADERS, chunks: [big.slice(0, 900), big.slice(900)] });
      expect(chunked.status).toBe(413);
      expect(JSON.parse(chunked.body)).toMatchObject({ error: { code: -32600 } });
      expect(up.openSessions()).toHaveLength(0);
      expect(p.sessions.size).toBe(0);
      const malformed = await raw(p.url, { method: 'POST', headers: MCP_HEADERS, body: '{"jsonrpc":' });
      expect(malformed.status).toBe(400);
      expect(JSON.parse(malformed.body)).toMatchObject({ error: { code: -32700 } });
      // Under the limit it works.
      expect((await raw(p.url, { method: 'POST', headers: MCP_HEADERS, body: JSON.stringify(INITIALIZE) })).status).toBe(200);
    });

    it('cuts off a client that trickles its body, or its headers, within the request timeout', async () => {
      const { up, p } = await setup({ timeouts: { requestTimeoutMs: 500, headersTimeoutMs: 500 } });
      const host = new URL(p.url).host;
      const head = `POST /mcp HTTP/1.1\r\nHost: ${host}\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\ncontent-length: 100000\r\n\r\n`;
      const body = await trickle(p.url, head, '{"jsonrpc":"2.0",');
      expect(body.received).toMatch(/^HTTP\/1\.1 408/);
      // Generous bound: 500 ms timeout + Node's 1 s check interval, on a busy machine.
      expect(body.elapsedMs).toBeLessThan(10_000);
      const headers = await trickle(p.url, `POST /mcp HTTP/1.1\r\nHost: ${host}\r\n`, 'x-slow: ');
      expect(headers.elapsedMs).toBeLessThan(10_000);
      expect(up.openSessions()).toHaveLength(0);
    }, 30_000);

    it('allows by default only its own origin (port included); allowedOrigins are exact', async () => {
      const { p } = await setup();
      const port = new URL(p.url).port;
      const from = (origin: string) =>
        raw(p.url, { method: 'POST', headers: { ...MCP_HEADERS, host: `localhost:${port}`, origin }, body: JSON.stringify(INITIALIZE) });
      expect((await from('http://localhost:8080')).status).toBe(403);
      expect((await from(`http://localhost:${port}`)).status).toBe(200);
      const { p: q } = await setup({ allowedOrigins: ['http://localhost:8080'] });
      const qPort = new URL(q.url).port;
      const at = (origin: string) =>
        raw(q.url, { method: 'POST', headers: { ...MCP_HEADERS, host: `localhost:${qPort}`, origin }, body: JSON.stringify(INITIALIZE) });
      expect((await at('http://localhost:8080')).status).toBe(200);
      expect((await at('http://localhost:8081')).status).toBe(403);
    });

    it('an initialize carrying stray mcp-session-id / x-mcp-session-id headers starts a new session', async () => {
      const { p } = await setup();
      const live = await client(p.url);
      for (const header of ['mcp-session-id', 'x-mcp-session-id']) {
        for (const stale of ['stale-id', live.sessionId]) {
          const answer = await raw(p.url, { method: 'POST', headers: { ...MCP_HEADERS, [header]: stale }, body: JSON.stringify(INITIALIZE) });
          expect(answer.status).toBe(200);
          expect(answer.headers['mcp-session-id']).toEqual(expect.any(String));
          expect(answer.headers['mcp-session-id']).not.toBe(stale);
        }
      }
      expect(p.sessions.size).toBe(5);
    });

    it('GET /admin/registry: off without a token, 401 without the right one, session ids shown as tags only', async () => {
      const { p: off } = await setup();
      const offAdmin = off.url.replace(/\/mcp$/, '/admin/registry');
      expect((await raw(offAdmin, { method: 'GET' })).status).toBe(403);

      const { p } = await setup({ adminToken: 'the-admin-token' });
      const admin = p.url.replace(/\/mcp$/, '/admin/registry');
      const c = await client(p.url);
      expect((await raw(admin, { method: 'GET' })).status).toBe(401);
      expect((await raw(admin, { method: 'GET', headers: { authorization: 'Bearer the-admin-tokex' } })).status).toBe(401);
      expect((await raw(admin, { method: 'GET', headers: { authorization: 'Bearer the-admin-token-and-more' } })).status).toBe(401);
      const ok = await raw(admin, { method: 'GET', headers: { authorization: 'Bearer the-admin-token' } });
      expect(ok.status).toBe(200);
      expect(ok.body).not.toContain(c.sessionId);
      const snapshot = JSON.parse(ok.body) as { sessions: { downstreamSessionId: string }[] };
      expect(snapshot.sessions.map((s) => s.downstreamSessionId)).toEqual([sessionTag(c.sessionId)]);
    });

    it('ends a downstream session abandoned without DELETE after downstream.idleTimeoutMs, and evicts its upstream session', async () => {
      const { up, p } = await setup({ downstream: { idleTimeoutMs: 200 } });
      const c = await client(p.url);
      const closed = nextEvent(p.registry, 'session:closed', (e) => e.downstreamSessionId === c.sessionId);
      // The SDK client keeps its GET stream open; abandon it like a vanished client.
      await c.transport.close();
      await closed;
      expect(p.sessions.size).toBe(0);
      expect(up.openSessions()).toHaveLength(0);
      const stale = await raw(p.url, {
        method: 'POST',
        headers: { ...MCP_HEADERS, 'mcp-session-id': c.sessionId },
        body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
      });
      expect(stale.status).toBe(404);
    });

    it('caps downstream sessions: 503 with Retry-After when full', async () => {
      const { p } = await setup({ downstream: { maxSessions: 1 }, bridge: { retryAfterSeconds: 4 } });
      await client(p.url);
      const refused = await raw(p.url, { method: 'POST', headers: MCP_HEADERS, body: JSON.stringify(INITIALIZE) });
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('4');
      expect(JSON.parse(refused.body)).toMatchObject({ error: { data: { code: 'ERR_CAPACITY' } } });
      expect(p.sessions.size).toBe(1);
    });
  });
}
