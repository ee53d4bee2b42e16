/**
 * The session table on the Web-standard transport, driven with plain
 * `Request` objects (no HTTP server downstream); upstream is a real SDK server.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { DownstreamSessions, type DispatchOutcome } from '../../src/bridge/downstream-sessions.js';
import { BridgeHub } from '../../src/bridge/hub.js';
import { InvalidOptionsError } from '../../src/errors.js';
import { mcpSessionFactory } from '../../src/mcp/factory.js';
import { UpstreamSessionRegistry } from '../../src/registry/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { type RichServer, startRichServer } from '../fixtures/rich-server.js';

const ENDPOINT = 'http://127.0.0.1/mcp';
const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};
const GOOD_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

describe('DownstreamSessions', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(clock?: ManualClock) {
    const up: RichServer = await startRichServer();
    const hub = new BridgeHub();
    const registry = new UpstreamSessionRegistry<Client>({ factory: mcpSessionFactory({ configureClient: hub.configureClient }) });
    const sessions = new DownstreamSessions<WebStandardStreamableHTTPServerTransport>({
      hub,
      registry,
      gateways: [{ id: 'rich', url: up.url }],
      createTransport: (o) => new WebStandardStreamableHTTPServerTransport({ ...o, enableJsonResponse: true }),
      ...(clock && { clock }),
    });
    cleanups.push(
      () => up.close(),
      () => registry.closeAll(),
      () => sessions.closeAll(),
    );
    const post = (body: unknown, headers: Record<string, string> = GOOD_HEADERS): Promise<DispatchOutcome<Response>> =>
      sessions.dispatch({ method: 'POST', headers: new Headers(headers), body }, (transport) =>
        transport.handleRequest(new Request(ENDPOINT, { method: 'POST', headers, body: JSON.stringify(body) }), { parsedBody: body }),
      );
    return { up, hub, registry, sessions, post };
  }

  it('opens a session on initialize and routes later requests by its id', async () => {
    const { up, sessions, post } = await setup();
    const opened = await post(INITIALIZE);
    expect(opened.kind).toBe('handled');
    const response = (opened as { value: Response }).value;
    const id = response.headers.get('mcp-session-id') as string;
    expect(sessions.ids()).toEqual([id]);
    expect(up.openSessions()).toHaveLength(1);
    const listed = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, { ...GOOD_HEADERS, 'mcp-session-id': id });
    expect(listed.kind).toBe('handled');
    const body = await (listed as { value: Response }).value.json();
    expect(body.result.tools.length).toBeGreaterThan(0);
  });

  it('drops a session whose initialize the transport refused, and its upstream session', async () => {
    const { up, registry, sessions, post } = await setup();
    const closed = new Promise<void>((resolve) => registry.on('session:closed', () => resolve()));
    const refused = await post(INITIALIZE, { 'content-type': 'application/json', accept: 'text/plain' });
    expect(refused.kind).toBe('handled');
    expect((refused as { value: Response }).value.status).toBe(406);
    await closed;
    expect(sessions.size).toBe(0);
    expect(registry.size).toBe(0);
    expect(up.openSessions()).toHaveLength(0);
  });

  it('answers 400 without a session id, 404 for an unknown or malformed one', async () => {
    const { post } = await setup();
    expect(await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' })).toMatchObject({ kind: 'respond', status: 400 });
    expect(await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, { ...GOOD_HEADERS, 'mcp-session-id': 'unknown' })).toMatchObject({
      kind: 'respond',
      status: 404,
    });
    expect(await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, { ...GOOD_HEADERS, 'mcp-session-id': 'bad id' })).toMatchObject({
      kind: 'respond',
      status: 404,
    });
  });

  it('answers not-owner for an unknown session another worker serves (locateSession), 404 otherwise', async () => {
    const { hub, registry } = await setup();
    const owner = { workerId: 'w2', address: 'http://10.0.0.7:3001' };
    const located: string[] = [];
    const sessions = new DownstreamSessions<WebStandardStreamableHTTPServerTransport>({
      hub,
      registry,
      gateways: [{ id: 'g', url: 'http://127.0.0.1:1/mcp' }],
      createTransport: (o) => new WebStandardStreamableHTTPServerTransport(o),
      locateSession: (id) => {
        located.push(id);
        return id === 'elsewhere' ? owner : undefined;
      },
    });
    const handle = (): Promise<never> => Promise.reject(new Error('must not reach a transport'));
    const elsewhere = await sessions.dispatch({ method: 'GET', headers: { 'mcp-session-id': 'elsewhere' } }, handle);
    expect(elsewhere).toMatchObject({ kind: 'not-owner', owner, status: 421 });
    expect(JSON.stringify((elsewhere as { body: unknown }).body)).not.toContain('10.0.0.7');
    const nowhere = await sessions.dispatch({ method: 'GET', headers: { 'mcp-session-id': 'nowhere' } }, handle);
    expect(nowhere).toMatchObject({ kind: 'respond', status: 404 });
    expect(located).toEqual(['elsewhere', 'nowhere']);
  });

  it('closeAll() ends every session and refuses new ones with 503', async () => {
    const { up, sessions, post } = await setup();
    await post(INITIALIZE);
    await post(INITIALIZE);
    expect(sessions.size).toBe(2);
    await sessions.closeAll();
    expect(sessions.size).toBe(0);
    expect(up.openSessions()).toHaveLength(0);
    expect(await post(INITIALIZE)).toMatchObject({ kind: 'respond', status: 503, headers: { 'retry-after': '5' } });
  });

  it('closeAll({ handover: true }) refuses requests with 503, waits for calls in flight (bounded), keeps upstream sessions', async () => {
    const clock = new ManualClock();
    const { up, sessions, post } = await setup(clock);
    const opened = await post(INITIALIZE);
    const id = (opened as { value: Response }).value.headers.get('mcp-session-id') as string;
    const withId = { ...GOOD_HEADERS, 'mcp-session-id': id };
    const blocked = up.waitForBlock();
    const inFlight = post({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'block', arguments: {} } }, withId);
    await blocked;

    let done = false;
    const handingOver = sessions.closeAll({ handover: true, drainTimeoutMs: 1_000 }).then(() => {
      done = true;
    });
    // New requests of the session get a retryable answer; the client retries on another worker.
    expect(await post({ jsonrpc: '2.0', id: 3, method: 'tools/list' }, withId)).toMatchObject({ kind: 'respond', status: 503, headers: { 'retry-after': '5' } });
    expect(await post(INITIALIZE)).toMatchObject({ kind: 'respond', status: 503 });
    await clock.advance(999);
    expect(done).toBe(false);
    expect(sessions.size).toBe(1); // still waiting for the call
    await clock.advance(1);
    await handingOver;
    // Its answer is cut (the drain bound passed); the transport gives it up when the upstream goes in cleanup.
    void inFlight.catch(() => undefined);
    expect(sessions.size).toBe(0);
    // Not evicted: the upstream session lives on for the worker that takes the session over.
    expect(up.openSessions()).toHaveLength(1);
  });

  it('closeAll({ handover: true }) with nothing in flight closes at once; malformed options throw and close nothing', async () => {
    const { up, sessions, post } = await setup();
    await post(INITIALIZE);
    for (const bad of [null, 7, { handover: 1 }, { drainTimeoutMs: -1 }, { other: true }]) {
      await expect(sessions.closeAll(bad as never)).rejects.toBeInstanceOf(InvalidOptionsError);
    }
    expect(sessions.size).toBe(1);
    await sessions.closeAll({ handover: true });
    expect(sessions.size).toBe(0);
    expect(up.openSessions()).toHaveLength(1);
  });

  it('validates its options', async () => {
    const { hub, registry } = await setup();
    const base = { hub, registry, gateways: [], createTransport: () => new WebStandardStreamableHTTPServerTransport() };
    expect(() => new DownstreamSessions({ ...base, extra: true } as never)).toThrow(InvalidOptionsError);
    expect(() => new DownstreamSessions({ ...base, createTransport: 'x' } as never)).toThrow(/createTransport/);
    expect(() => new DownstreamSessions({ ...base, bridge: { namespace: 'sometimes' } } as never)).toThrow(/namespace/);
    expect(() => new DownstreamSessions({ ...base, bridge: { typo: 1 } } as never)).toThrow(/typo/);
  });
});
