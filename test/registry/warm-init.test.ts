/**
 * The warm path for a plain init object per call: it reuses the held session
 * without rebuilding the request, rejects exactly what
 * `SessionCreateRequest.from` rejects, and sends anything that differs down
 * the full path.
 */
import { describe, expect, it, vi } from 'vitest';
import { InvalidRequestError } from '../../src/errors.js';
import { SessionCreateRequest, type SessionCreateRequestInit } from '../../src/request.js';
import { record, setup } from './helpers.js';

const INIT = Object.freeze({
  downstreamSessionId: 'ds-1',
  gatewayId: 'gw-1',
  url: 'http://upstream.test/mcp',
  headers: Object.freeze({ authorization: 'Bearer t', 'x-tenant': 'acme' }),
});

function fromError(init: unknown): InvalidRequestError {
  try {
    SessionCreateRequest.from(init as SessionCreateRequestInit);
  } catch (error) {
    return error as InvalidRequestError;
  }
  throw new Error('from() accepted the init');
}

describe('acquire with a plain init object per call', () => {
  it('reuses the held session and its validated request for equal inits', async () => {
    const { registry, fake } = setup();
    const first = await registry.acquire({ ...INIT });
    first.release();
    const from = vi.spyOn(SessionCreateRequest, 'from');
    for (const init of [{ ...INIT }, { ...INIT, headers: { Authorization: 'Bearer t', 'X-Tenant': 'acme' } }, INIT]) {
      const lease = await registry.acquire(init);
      expect(lease.client).toBe(first.client);
      expect(lease.info).toBe(first.info);
      lease.release();
    }
    await registry.use({ ...INIT }, async (client) => expect(client).toBe(first.client));
    expect(fake.created).toBe(1);
    // Proven equal to the held request: not validated, copied or hashed again.
    expect(from).not.toHaveBeenCalled();
    from.mockRestore();
  });

  it.each([
    ['an unknown key', { ...INIT, urls: 'x' }],
    ['a header value with CR/LF', { ...INIT, headers: { ...INIT.headers, 'x-tenant': 'acme\r\nx: y' } }],
    ['a non-string header value', { ...INIT, headers: { ...INIT.headers, 'x-tenant': 42 } }],
    ['a header name that is no token', { ...INIT, headers: { ...INIT.headers, 'bad name': 'v' } }],
    ['a header in headers and credentials', { ...INIT, credentials: { authorization: 'Bearer t' } }],
    ['a bad connectTimeoutMs', { ...INIT, connectTimeoutMs: Number.NaN }],
  ])('rejects %s on a warm key exactly as SessionCreateRequest.from does', async (_name, bad) => {
    const { registry, fake } = setup();
    (await registry.acquire(INIT)).release();
    const expected = fromError(bad);
    const error = await registry.acquire(bad as SessionCreateRequestInit).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).code).toBe(expected.code);
    expect((error as InvalidRequestError).field).toBe(expected.field);
    expect((error as InvalidRequestError).message).toBe(expected.message);
    expect(fake.created).toBe(1);
    expect(registry.size).toBe(1);
  });

  it('takes the full path for a changed header: the session is rebuilt for the new configuration', async () => {
    const { registry, fake } = setup();
    const retired = record(registry, 'session:retired');
    (await registry.acquire(INIT)).release();
    const lease = await registry.acquire({ ...INIT, headers: { ...INIT.headers, 'x-tenant': 'other' } });
    lease.release();
    expect(fake.created).toBe(2);
    expect(retired.map((e) => e.reason)).toEqual(['config-changed']);
  });

  it('reads the clock once per warm acquire and release when idleValidationMs is Infinity', async () => {
    const { registry, clock } = setup({ idleValidationMs: Number.POSITIVE_INFINITY });
    const request = SessionCreateRequest.from(INIT);
    (await registry.acquire(request)).release();
    const now = vi.spyOn(clock, 'now');
    for (let i = 0; i < 10; i++) (await registry.acquire({ ...INIT })).release();
    for (let i = 0; i < 10; i++) (await registry.acquire(request)).release();
    // The lease end stamps the time; nothing reads the clock to decide on a probe.
    expect(now).toHaveBeenCalledTimes(20);
    now.mockRestore();
  });
});
