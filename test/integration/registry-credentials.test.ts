/**
 * Issue #10 §3 / DESIGN invariant 16 against a real SDK server through the
 * default factory: a rotated bearer token keeps the upstream session and its
 * state, the upstream sees the new token on the very next request, and no
 * credential value leaves through snapshots, events or logs.
 */
import { inspect } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import { mcpSessionFactory } from '../../src/mcp/factory.js';
import { UpstreamSessionRegistry } from '../../src/registry/index.js';
import { type CounterServer, startCounterServer } from '../fixtures/counter-server.js';
import { callText } from '../fixtures/factory-harness.js';
import { EVENT_TYPES, recordingLogger } from '../fixtures/leak-scan.js';

const servers: CounterServer[] = [];
const registries: UpstreamSessionRegistry[] = [];

afterEach(async () => {
  await Promise.all(registries.splice(0).map((registry) => registry.closeAll()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

it('rotates a bearer token 10 times in one upstream session: counter continues, new token on the next request, nothing leaks', async () => {
  const server = await startCounterServer();
  servers.push(server);
  const seen: unknown[] = [];
  const reg = new UpstreamSessionRegistry({ factory: mcpSessionFactory(), logger: recordingLogger(seen) });
  registries.push(reg);
  for (const type of EVENT_TYPES) reg.on(type, (event) => seen.push(event));
  const init = (n: number) => ({
    downstreamSessionId: 'tab-A',
    gatewayId: 'counter',
    url: server.url,
    headers: { 'x-tenant': 'acme' },
    credentials: { authorization: `Bearer SECRET-TOKEN-${n}` },
  });

  for (let n = 0; n <= 10; n++) {
    const before = server.requests.length;
    expect(await reg.use(init(n), (client) => callText(client, 'increment'))).toBe(String(n + 1));
    const sent = server.requests.slice(before).filter((r) => r.httpMethod === 'POST');
    expect(sent.length).toBeGreaterThan(0);
    for (const r of sent) expect(r.headers.authorization).toBe(`Bearer SECRET-TOKEN-${n}`);
    seen.push(reg.snapshot());
  }
  expect(server.initializations).toBe(1);
  expect(server.openSessions).toBe(1);
  expect(server.requests.every((r) => r.headers['x-tenant'] === 'acme')).toBe(true);
  await reg.evictSession('tab-A');
  seen.push(reg.snapshot());

  const text = seen.map((x) => inspect(x, { depth: 10 })).join('\n');
  expect(text).not.toContain('SECRET-TOKEN');
  expect(text).not.toContain('acme');
});
