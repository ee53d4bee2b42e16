/**
 * Issue #10 §2: secrets never leave. A fault run (creates that throw errors
 * with planted secrets in message, stack and cause chain; closes that reject
 * with them; connections that break with them; probes that fail with them)
 * must not show any planted secret in `util.inspect` of any event, log line,
 * snapshot or error the registry produced.
 */
import { inspect } from 'node:util';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { isSessionGone } from '../../src/classify.js';
import { CreateFailedError, SessionLostError } from '../../src/errors.js';
import type { SessionFactory } from '../../src/factory.js';
import { UpstreamSessionRegistry } from '../../src/registry/index.js';
import { SessionCreateRequest } from '../../src/request.js';
import { type FakeClient, ManualClock, createFakeFactory } from '../../src/testing/index.js';
import { EVENT_TYPES, recordingLogger } from '../fixtures/leak-scan.js';

/** Every planted secret contains this; none may be seen. */
const MARK = 'PLANTED';

const request = (ds: string) =>
  SessionCreateRequest.from({
    downstreamSessionId: ds,
    gatewayId: 'g1',
    url: `http://upstream.test/mcp?token=${MARK}-query`,
    headers: { 'x-api-key': `${MARK}-header-value` },
    credentials: { authorization: `Bearer ${MARK}-credential-token` },
  });

/** An error that quotes everything a careless upstream library might. */
function leakyError(label: string): Error {
  const root = Object.assign(new Error(`socket closed (key ${MARK}-header-value)`), { code: 'ECONNRESET' });
  const middle = new Error(`fetch http://admin:${MARK}-userinfo@upstream.test/mcp?token=${MARK}-query#${MARK}-fragment failed`, {
    cause: root,
  });
  const error = new Error(`${label}: sent Authorization Bearer ${MARK}-credential-token to http://u:${MARK}-pw@upstream.test/x`, {
    cause: middle,
  });
  error.stack = `Error: ${label}\n    at connect (http://u:${MARK}-stack@upstream.test/mcp?k=${MARK}-stack-query)`;
  return error;
}

function scan(items: readonly unknown[]): void {
  expect(items.length).toBeGreaterThan(0);
  for (const item of items) {
    const text = inspect(item, { depth: 10, showHidden: false });
    if (text.includes(MARK)) throw new Error(`a planted secret leaked: ${text}`);
  }
}

describe('issue #10 §2: no planted secret in any event, log line or error of a fault run', () => {
  it.each(['reconnect', 'fail'] as const)("onSessionLost '%s'", async (onSessionLost) => {
    const clock = new ManualClock();
    const fake = createFakeFactory({ clock });
    // Closes reject with a leaky error.
    const factory: SessionFactory<FakeClient> = async (req, ctx) => {
      const connection = await fake.factory(req, ctx);
      return { ...connection, close: async (c) => {
        await connection.close(c);
        throw leakyError('close');
      } };
    };
    const seen: unknown[] = [];
    const registry = new UpstreamSessionRegistry<FakeClient>({
      factory,
      clock,
      onSessionLost,
      idleValidationMs: 1000,
      createBackoff: { afterFailures: 2, initialMs: 1000, maxMs: 4000 },
      logger: recordingLogger(seen),
    });
    for (const type of EVENT_TYPES) registry.on(type, (event) => seen.push(event));
    const attempt = async (ds: string) => {
      try {
        (await registry.acquire(request(ds))).release();
      } catch (error) {
        seen.push(error);
      }
    };

    // Creates fail with leaky errors, then the backoff refuses with the last one as cause.
    fake.failNext(leakyError('create'));
    fake.failNext(Object.assign(leakyError('aggregate'), { errors: [leakyError('one'), leakyError('two')] }));
    await attempt('a');
    await attempt('b');
    await attempt('c');
    const refused = seen.at(-1);
    expect(refused).toBeInstanceOf(CreateFailedError);
    await clock.advance(1000);

    // A session whose connection breaks with a leaky reason (lost; 'fail' marks it).
    await attempt('d');
    const gone = Object.assign(leakyError('gone'), { name: 'StreamableHTTPError', code: 404 });
    expect(isSessionGone(gone)).toBe(true);
    fake.connections.at(-1)!.break(gone);
    await attempt('d');

    // A session whose probe fails with a leaky transport error; another whose probe answers with one.
    await attempt('e');
    await attempt('f');
    await clock.advance(2000);
    fake.connections.find((c) => c.request.downstreamSessionId === 'e')!.client.failProbes(
      Object.assign(new Error(`connect ECONNREFUSED http://u:${MARK}-probe@upstream.test/mcp?token=${MARK}-query`), { code: 'ECONNREFUSED' }),
    );
    fake.connections.find((c) => c.request.downstreamSessionId === 'f')!.client.break(
      new McpError(ErrorCode.ConnectionClosed, 'Connection closed'),
    );
    await attempt('e');
    await attempt('f');
    seen.push(registry.snapshot());

    // Closing everything: every close rejects with a leaky error.
    let done = false;
    const closing = registry.closeAll().then(() => {
      done = true;
    });
    for (let i = 0; i < 20 && !done; i++) await clock.advance(1000);
    await closing;
    seen.push(registry.snapshot());

    expect(seen.some((x) => x instanceof CreateFailedError)).toBe(true);
    if (onSessionLost === 'fail') expect(seen.some((x) => x instanceof SessionLostError)).toBe(true);
    const closedWithError = seen.filter((x) => typeof x === 'object' && x !== null && 'forced' in x && 'error' in x);
    expect(closedWithError.length).toBeGreaterThan(0);
    scan(seen);
  });
});
