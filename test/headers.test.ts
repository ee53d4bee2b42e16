import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../src/errors.js';
import {
  FORBIDDEN_UPSTREAM_HEADERS,
  applyHeaderPolicy,
  applyHeaderPolicyAs,
  downstreamSessionIdFrom,
  isForbiddenUpstreamHeader,
  isValidMcpSessionId,
} from '../src/headers.js';

function policyError(headers: Iterable<readonly [string, string]>): InvalidRequestError {
  try {
    applyHeaderPolicy(headers);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRequestError);
    return error as InvalidRequestError;
  }
  throw new Error('applyHeaderPolicy did not throw');
}

describe('applyHeaderPolicy', () => {
  it('lower-cases names and keeps ordinary headers', () => {
    expect(applyHeaderPolicy(Object.entries({ Authorization: 'Bearer t', 'X-Tenant': 'acme' }))).toEqual({
      authorization: 'Bearer t',
      'x-tenant': 'acme',
    });
  });

  it.each([...FORBIDDEN_UPSTREAM_HEADERS, 'Mcp-Session-Id', 'HOST', 'Proxy-Authorization', 'proxy-connection', 'proxy-x'])(
    'drops %s',
    (name) => {
      expect(applyHeaderPolicy([[name, 'v'], ['x-keep', 'k']])).toEqual({ 'x-keep': 'k' });
    },
  );

  it('covers the names the issue lists', () => {
    for (const name of ['mcp-session-id', 'mcp-protocol-version', 'last-event-id', 'host', 'content-length']) {
      expect(FORBIDDEN_UPSTREAM_HEADERS).toContain(name);
    }
    for (const name of ['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade']) {
      expect(FORBIDDEN_UPSTREAM_HEADERS).toContain(name);
    }
    expect(Object.isFrozen(FORBIDDEN_UPSTREAM_HEADERS)).toBe(true);
    expect(isForbiddenUpstreamHeader('Proxy-Anything')).toBe(true);
    expect(isForbiddenUpstreamHeader('authorization')).toBe(false);
  });

  it('drops every header named in a Connection value, case-insensitively, wherever it appears', () => {
    const result = applyHeaderPolicy([
      ['X-Hop-A', '1'],
      ['Connection', ' x-hop-a ,X-HOP-B,, close'],
      ['x-hop-b', '2'],
      ['x-keep', '3'],
    ]);
    expect(result).toEqual({ 'x-keep': '3' });
  });

  it('returns a fresh object every time', () => {
    const input: Array<[string, string]> = [['a', '1']];
    const first = applyHeaderPolicy(input);
    first.b = '2';
    expect(applyHeaderPolicy(input)).toEqual({ a: '1' });
  });

  it('accepts the same name twice with the same value', () => {
    expect(applyHeaderPolicy([['X-A', '1'], ['x-a', '1']])).toEqual({ 'x-a': '1' });
  });

  it('rejects the same name twice with different values, without showing either', () => {
    const error = policyError([['X-Key', 'first-secret'], ['x-key', 'second-secret']]);
    expect(error.field).toBe('headers.x-key');
    expect(error.message).not.toContain('secret');
  });

  it.each([
    ['CR', 'a\rb'],
    ['LF', 'a\nb'],
    ['CRLF injection', 'v\r\nX-Injected: 1'],
    ['NUL', 'a\0b'],
  ])('rejects %s in a value, naming the header but not the value', (_, value) => {
    const error = policyError([['Authorization', `Bearer-hush ${value}`]]);
    expect(error.code).toBe('ERR_INVALID_REQUEST');
    expect(error.field).toBe('headers.authorization');
    expect(error.message).toContain('authorization');
    expect(error.message).not.toContain('hush');
  });

  it.each(['', 'bad name', 'bad:name', 'naïve', 'a\r\nb', '(x)'])('rejects the invalid name %j', (name) => {
    const error = policyError([[name, 'v']]);
    expect(error.field).toBe('headers');
    expect(error.message).toContain(JSON.stringify(name));
  });

  it('rejects entries that are not pairs and non-string values', () => {
    expect(policyError([['a', 'b', 'c'] as unknown as [string, string]]).field).toBe('headers');
    expect(policyError([['x-n', 5 as unknown as string]]).field).toBe('headers.x-n');
  });
});

describe('isValidMcpSessionId', () => {
  it.each(['a', '3f2a9c1e-7d4b-4c52-9e1f-0a6b2d8c4e11', '!~', 'x'.repeat(256)])('accepts %j', (id) => {
    expect(isValidMcpSessionId(id)).toBe(true);
  });

  it.each(['', 'x'.repeat(257), 'a b', 'a\tb', 'a\x7f', 'é', 'a\nb', '\0'])('rejects %j', (id) => {
    expect(isValidMcpSessionId(id)).toBe(false);
  });

  it('rejects non-strings', () => {
    expect(isValidMcpSessionId(42 as unknown as string)).toBe(false);
    expect(isValidMcpSessionId(undefined as unknown as string)).toBe(false);
  });
});

describe('downstreamSessionIdFrom', () => {
  it('reads mcp-session-id from a Headers object', () => {
    expect(downstreamSessionIdFrom(new Headers({ 'Mcp-Session-Id': 'abc' }))).toBe('abc');
  });

  it('falls back to x-mcp-session-id', () => {
    expect(downstreamSessionIdFrom(new Headers({ 'X-Mcp-Session-Id': 'xyz' }))).toBe('xyz');
    expect(downstreamSessionIdFrom({ 'x-mcp-session-id': 'xyz' })).toBe('xyz');
  });

  it('prefers mcp-session-id over x-mcp-session-id', () => {
    expect(downstreamSessionIdFrom({ 'x-mcp-session-id': 'second', 'mcp-session-id': 'first' })).toBe('first');
    expect(downstreamSessionIdFrom(new Headers({ 'x-mcp-session-id': 'second', 'mcp-session-id': 'first' }))).toBe(
      'first',
    );
  });

  it('reads Node-style lower-case records and records in any case', () => {
    expect(downstreamSessionIdFrom({ 'mcp-session-id': 'abc', host: 'h' })).toBe('abc');
    expect(downstreamSessionIdFrom({ 'MCP-Session-ID': 'abc' })).toBe('abc');
    const nullProto: Record<string, string> = Object.create(null);
    nullProto['mcp-session-id'] = 'np';
    expect(downstreamSessionIdFrom(nullProto)).toBe('np');
  });

  it('takes the first element of an array value', () => {
    expect(downstreamSessionIdFrom({ 'mcp-session-id': ['one', 'two'] })).toBe('one');
    expect(downstreamSessionIdFrom({ 'mcp-session-id': [] })).toBeUndefined();
  });

  it('returns undefined when missing or invalid', () => {
    expect(downstreamSessionIdFrom({})).toBeUndefined();
    expect(downstreamSessionIdFrom(new Headers())).toBeUndefined();
    expect(downstreamSessionIdFrom({ 'mcp-session-id': undefined })).toBeUndefined();
    expect(downstreamSessionIdFrom({ 'mcp-session-id': 'has space' })).toBeUndefined();
    expect(downstreamSessionIdFrom({ 'mcp-session-id': 'x'.repeat(257) })).toBeUndefined();
    // Two values joined by Headers ("a, b") are not one valid id.
    const joined = new Headers();
    joined.append('mcp-session-id', 'a');
    joined.append('mcp-session-id', 'b');
    expect(downstreamSessionIdFrom(joined)).toBeUndefined();
  });

  it('does not consult x-mcp-session-id when mcp-session-id is present but malformed', () => {
    expect(downstreamSessionIdFrom({ 'mcp-session-id': 'bad id', 'x-mcp-session-id': 'good' })).toBeUndefined();
  });
});

describe('applyHeaderPolicyAs (the same policy for credentials)', () => {
  it('names the given field in errors, never the value', () => {
    const secret = 'Bearer s3cr3t';
    for (const [pairs, field] of [
      [[['bad name', 'v']], 'credentials'],
      [[['authorization', `${secret}\r\n`]], 'credentials.authorization'],
      [[['authorization', secret], ['Authorization', 'other']], 'credentials.authorization'],
    ] as const) {
      try {
        applyHeaderPolicyAs(pairs as unknown as Array<[string, string]>, 'credentials');
        throw new Error('did not throw');
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidRequestError);
        expect((error as InvalidRequestError).field).toBe(field);
        expect((error as Error).message).not.toContain('s3cr3t');
      }
    }
  });

  it('applies the same policy as applyHeaderPolicy', () => {
    const pairs: Array<[string, string]> = [
      ['Authorization', 'a'],
      ['mcp-session-id', 'x'],
      ['Connection', 'x-hop'],
      ['x-hop', '1'],
    ];
    expect(applyHeaderPolicyAs(pairs, 'credentials')).toEqual(applyHeaderPolicy(pairs));
  });
});
