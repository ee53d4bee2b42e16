/**
 * Issue 3, registry level, against the real SDK counter server: the #4205
 * reproducer (a pooled proxy leaks state between downstream sessions; the
 * registry must not), one downstream session on two gateways, and evictSession.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mcpSessionFactory } from '../../src/mcp/factory.js';
import { UpstreamSessionRegistry } from '../../src/registry/index.js';
import type { SessionCreateRequestInit } from '../../src/request.js';
import { type CounterServer, startCounterServer } from '../fixtures/counter-server.js';
import { callText } from '../fixtures/factory-harness.js';

const TRANSPORTS = ['streamable-http', 'sse'] as const;

const servers: CounterServer[] = [];
const registries: UpstreamSessionRegistry[] = [];

afterEach(async () => {
  await Promise.all(registries.splice(0).map((registry) => registry.closeAll()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function counterServer(): Promise<CounterServer> {
  const server = await startCounterServer();
  servers.push(server);
  return server;
}

function registry(): UpstreamSessionRegistry {
  const created = new UpstreamSessionRegistry({ factory: mcpSessionFactory() });
  registries.push(created);
  return created;
}

describe.each(TRANSPORTS)('two downstream sessions through one registry over %s (#4205)', (transport) => {
  it('keeps each counter private and initializes exactly once per downstream session', async () => {
    const server = await counterServer();
    const url = transport === 'sse' ? server.sseUrl : server.url;
    const reg = registry();
    const tabA: SessionCreateRequestInit = { downstreamSessionId: 'tab-A', gatewayId: 'counter', url, transport };
    const tabB: SessionCreateRequestInit = { downstreamSessionId: 'tab-B', gatewayId: 'counter', url, transport };
    const call = (init: SessionCreateRequestInit, tool: string) => reg.use(init, (client) => callText(client, tool));

    for (let i = 0; i < 5; i++) await call(tabA, 'increment');
    for (let i = 0; i < 3; i++) await call(tabB, 'increment');
    expect(await call(tabA, 'get')).toBe('5');
    expect(await call(tabB, 'get')).toBe('3');
    expect(server.initializations).toBe(2);

    for (let i = 0; i < 10; i++) await call(tabA, 'get');
    expect(server.initializations).toBe(2);
    expect(reg.size).toBe(2);
    expect(server.openSessions).toBe(2);
  });
});

describe('one downstream session with two gateways', () => {
  it('holds two upstream sessions with independent state', async () => {
    const server = await counterServer();
    const reg = registry();
    const base = { downstreamSessionId: 'tab-A', url: server.url };
    const first = { ...base, gatewayId: 'counter-1' };
    const second = { ...base, gatewayId: 'counter-2' };

    for (let i = 0; i < 4; i++) await reg.use(first, (client) => callText(client, 'increment'));
    await reg.use(second, (client) => callText(client, 'increment'));
    expect(await reg.use(first, (client) => callText(client, 'get'))).toBe('4');
    expect(await reg.use(second, (client) => callText(client, 'get'))).toBe('1');
    expect(server.initializations).toBe(2);
    expect(server.openSessions).toBe(2);
    const ids = reg.snapshot().sessions.map((s) => s.connectionId);
    expect(new Set(ids).size).toBe(2);
  });
});

describe('evictSession', () => {
  it.each(TRANSPORTS)('ends the upstream session over %s; the next call starts from 0', async (transport) => {
    const server = await counterServer();
    const reg = registry();
    const tab = {
      downstreamSessionId: 'tab-A',
      gatewayId: 'counter',
      url: transport === 'sse' ? server.sseUrl : server.url,
      transport,
    };
    for (let i = 0; i < 3; i++) await reg.use(tab, (client) => callText(client, 'increment'));

    expect(await reg.evictSession('tab-A')).toBe(1);
    if (transport === 'streamable-http') expect(server.deletes).toBe(1);
    await server.whenIdle();
    expect(server.openSessions).toBe(0);

    expect(await reg.use(tab, (client) => callText(client, 'get'))).toBe('0');
    expect(server.initializations).toBe(2);
  });
});
