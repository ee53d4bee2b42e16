/**
 * Issue #10 §1 bullet 3 against a real SDK server: the upstream goes down, the
 * create backoff window opens, the upstream comes back; the first acquire
 * after the window is the one trial create, it succeeds, and the breaker is
 * closed at once for everyone. Refusals carry the remaining window.
 */
import { afterEach, expect, it } from 'vitest';
import { CreateFailedError } from '../../src/errors.js';
import { mcpSessionFactory } from '../../src/mcp/factory.js';
import { UpstreamSessionRegistry } from '../../src/registry/index.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { type CounterServer, startCounterServer } from '../fixtures/counter-server.js';
import { callText } from '../fixtures/factory-harness.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

it('upstream down -> window -> upstream back: the first acquire after the window recovers, the others follow at once', async () => {
  const server: CounterServer = await startCounterServer();
  cleanups.push(() => server.close());
  const clock = new ManualClock();
  const reg = new UpstreamSessionRegistry({
    factory: mcpSessionFactory(),
    clock,
    createBackoff: { afterFailures: 1, initialMs: 10_000, maxMs: 60_000 },
  });
  cleanups.push(() => reg.closeAll());
  const call = (tab: string, tool: string) =>
    reg.use({ downstreamSessionId: tab, gatewayId: 'counter', url: server.url, connectTimeoutMs: 5000 }, (c) => callText(c, tool));
  const failure = (tab: string) => call(tab, 'get').then(() => undefined, (e: unknown) => e as CreateFailedError);

  await server.kill();
  const tried = await failure('tab-a');
  expect(tried).toBeInstanceOf(CreateFailedError);
  expect(tried?.retryAfterMs).toBeUndefined();
  await server.restart();
  // Back, but the window is still open: refused at once with the time left, the upstream untouched.
  await clock.advance(4000);
  const refused = await failure('tab-b');
  expect(refused).toBeInstanceOf(CreateFailedError);
  expect(refused?.retryAfterMs).toBe(6000);
  expect(server.connectAttempts).toBe(0);

  await clock.advance(6000);
  expect(await call('tab-a', 'increment')).toBe('1');
  expect(await call('tab-b', 'increment')).toBe('1');
  expect(await call('tab-a', 'increment')).toBe('2');
  expect(server.initializations).toBe(2);
  expect(reg.snapshot().gateways.counter).toMatchObject({ consecutiveFailures: 0, backoffRemainingMs: 0 });
});
