import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { ForwardedJsonRpcError, describeError, httpStatusForError, toJsonRpcError } from '../../src/bridge/http-errors.js';
import {
  AffinityUnavailableError,
  CapacityError,
  CreateFailedError,
  InvalidRequestError,
  NotOwnerError,
  RegistryClosedError,
  SessionLostError,
  SessionRetiredError,
} from '../../src/errors.js';

describe('httpStatusForError', () => {
  it.each([
    [new SessionLostError('s1'), 404, undefined, -32001],
    [new CapacityError('registry', 10), 503, '5', -32000],
    [new RegistryClosedError(), 503, '5', -32000],
    [new AffinityUnavailableError('redis down'), 503, '5', -32000],
    [new SessionRetiredError('config-changed'), 503, '5', -32000],
    [new NotOwnerError('s1', { workerId: 'w2', address: 'http://10.0.0.7:3001' }), 421, undefined, -32000],
    [new CreateFailedError('g', 'connect failed', new Error('boom')), 502, undefined, -32000],
    [new CreateFailedError('g', 'backing off', new Error('boom'), 2001), 503, '3', -32000],
    [new CreateFailedError('g', 'backing off', new Error('boom'), 10), 503, '1', -32000],
    [new InvalidRequestError('url', 'bad'), 500, undefined, -32000],
  ])('maps %s', (error, status, retryAfter, code) => {
    const answer = httpStatusForError(error);
    expect(answer?.status).toBe(status);
    expect(answer?.headers['retry-after']).toBe(retryAfter);
    expect(answer?.body).toMatchObject({ jsonrpc: '2.0', id: null, error: { code, data: { code: error.code } } });
  });

  it('answers infrastructure failures with a short fixed message, never the error\'s own (Redis, hosts, URLs)', () => {
    const redis = new AffinityUnavailableError(
      'Redis the ownership claim failed: MaxRetriesPerRequestError: Reached the max retries per request limit (redis://:pw@10.0.0.9:6379)',
    );
    const create = new CreateFailedError('g', 'connect to http://10.0.0.5:3001/mcp?token=t failed', new Error('ECONNREFUSED'));
    for (const [error, message] of [
      [redis, 'Session ownership unavailable, retry later'],
      [create, 'Upstream server unavailable'],
      [new CapacityError('gateway', 3, 'secret-gateway'), 'Server at capacity, retry later'],
    ] as const) {
      const answer = httpStatusForError(error);
      expect(answer?.body.error.message).toBe(message);
      expect(answer?.body.error.data).toEqual({ code: error.code });
      for (const leak of ['Redis', '10.0.0', 'token', 'secret-gateway', 'MaxRetries']) expect(JSON.stringify(answer)).not.toContain(leak);
    }
  });

  it('never tells the client where the owning worker is', () => {
    const answer = httpStatusForError(new NotOwnerError('s1', { workerId: 'w2', address: 'http://10.0.0.7:3001' }));
    expect(JSON.stringify(answer)).not.toContain('10.0.0.7');
  });

  it('uses the configured Retry-After and ignores non-registry errors', () => {
    expect(httpStatusForError(new CapacityError('gateway', 2, 'g'), { retryAfterSeconds: 1.2 })?.headers).toEqual({ 'retry-after': '2' });
    expect(httpStatusForError(new Error('plain'))).toBeUndefined();
    expect(httpStatusForError('text')).toBeUndefined();
  });
});

describe('toJsonRpcError', () => {
  it('passes an upstream McpError on with its code, original message and data', () => {
    const received = new McpError(-32050, 'note is broken', { name: 'x' });
    expect(toJsonRpcError(received)).toEqual({ code: -32050, message: 'note is broken', data: { name: 'x' } });
    expect(toJsonRpcError(new McpError(-32601, 'Method not found'))).toEqual({ code: -32601, message: 'Method not found' });
  });

  it('gives registry errors a stable data.code, with retryAfterSeconds when retrying helps', () => {
    expect(toJsonRpcError(new CapacityError('registry', 1), { retryAfterSeconds: 9 })).toMatchObject({
      code: -32000,
      data: { code: 'ERR_CAPACITY', retryAfterSeconds: 9 },
    });
    expect(toJsonRpcError(new SessionLostError('s'))).toMatchObject({ code: -32001, data: { code: 'ERR_SESSION_LOST' } });
  });

  it('turns anything else into a fixed, typed internal error: no hosts, URLs or upstream bodies', () => {
    const error = toJsonRpcError(new Error('fetch https://user:secret@up.example/mcp?token=abc failed: 10.0.0.5'));
    expect(error).toEqual({ code: -32603, message: 'Upstream request failed', data: { code: 'ERR_UPSTREAM_FAILED' } });
    expect(toJsonRpcError(new AffinityUnavailableError('Redis down at 10.0.0.9'))).toMatchObject({
      message: 'Session ownership unavailable, retry later',
      data: { code: 'ERR_AFFINITY_UNAVAILABLE' },
    });
  });

  it('ForwardedJsonRpcError carries the object unchanged for the SDK protocol layer', () => {
    const forwarded = new ForwardedJsonRpcError({ code: -32050, message: 'm', data: [1] });
    expect({ code: forwarded.code, message: forwarded.message, data: forwarded.data }).toEqual({ code: -32050, message: 'm', data: [1] });
  });
});

describe('describeError', () => {
  it('is safe to log: name and message, truncated, without URL credentials or query strings', () => {
    const text = describeError(new TypeError(`fetch failed for https://user:pw@up.example/mcp?key=k1 ${'x'.repeat(600)}`));
    expect(text.startsWith('TypeError: fetch failed for')).toBe(true);
    expect(text).not.toContain('pw@');
    expect(text).not.toContain('key=k1');
    expect(text.length).toBeLessThan(560);
  });
});
