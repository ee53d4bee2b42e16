import { describe, expect, it } from 'vitest';
import { inspect } from 'node:util';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { classifyError, isSessionGone, markLocalTransportError } from '../src/classify.js';
import { CreateFailedError } from '../src/errors.js';
import { redactError, redactText, redactUrl, secretValues } from '../src/redact.js';

describe('redactUrl', () => {
  it.each([
    ['https://user:secret@api.example.com:8443/mcp?key=abc#frag', 'https://api.example.com:8443/mcp'],
    ['http://127.0.0.1:3000/mcp', 'http://127.0.0.1:3000/mcp'],
    ['https://example.com', 'https://example.com/'],
    ['https://token@example.com/a/b?x=1', 'https://example.com/a/b'],
    ['http://[::1]:8080/sse?sid=1', 'http://[::1]:8080/sse'],
    ['ws://u:p@host/x?q', 'ws://host/x'],
    ['data:text/plain,secret', 'data:[redacted]'],
  ])('%s -> %s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });

  it('accepts URL objects', () => {
    expect(redactUrl(new URL('https://a:b@h.example/p?q=1'))).toBe('https://h.example/p');
  });

  it.each(['', 'not a url', '/relative/path', 'http://[bad'])('returns [invalid url] for %j', (input) => {
    expect(redactUrl(input)).toBe('[invalid url]');
  });
});

describe('redactText', () => {
  it('redacts every URL inside free text and keeps the prose', () => {
    const text = 'fetch https://u:p@a.example/mcp?token=t1 failed, then http://b.example/x?k=t2.';
    const out = redactText(text);
    expect(out).toBe('fetch https://a.example/mcp failed, then http://b.example/x.');
    expect(out).not.toMatch(/t1|t2|u:p/);
  });

  it('keeps trailing sentence punctuation and brackets outside the URL', () => {
    expect(redactText('(see https://x.example/a?s=1)')).toBe('(see https://x.example/a)');
  });

  it('strips credentials and query even from URLs the parser rejects', () => {
    const out = redactText('bad http://user:pa55@[broken/p?secret=1 here');
    expect(out).toBe('bad http://[broken/p here');
    expect(out).not.toContain('pa55');
    expect(out).not.toContain('secret');
  });

  it('leaves text without URLs alone', () => {
    expect(redactText('ECONNREFUSED 127.0.0.1:3000')).toBe('ECONNREFUSED 127.0.0.1:3000');
  });

  it('matches schemes case-insensitively', () => {
    expect(redactText('HTTPS://u:p@H.example/P?q')).toBe('https://h.example/P');
  });
});

describe('redactError (issue #10 §2)', () => {
  const secrets = secretValues({ 'x-api-key': 'key-SECRET-1' }, { authorization: 'Bearer tok-SECRET-2' });

  it('lists header values and their long parts, longest first', () => {
    expect(secrets).toEqual(['Bearer tok-SECRET-2', 'key-SECRET-1', 'tok-SECRET-2']);
    expect(secretValues({ a: 'ab' })).toEqual([]);
  });

  it('redacts message, stack and the whole cause chain; keeps class, name, code and status', () => {
    const root = Object.assign(new Error('reset at http://u:SECRET-3@h.test/?q=SECRET-4'), { code: 'ECONNRESET' });
    const http = new StreamableHTTPError(404, 'Error POSTing to endpoint: key-SECRET-1');
    Object.assign(http, { cause: root });
    const outer = new TypeError('fetch failed for Bearer tok-SECRET-2', { cause: http });
    const copy = redactError(outer, secrets) as TypeError;
    expect(copy).toBeInstanceOf(TypeError);
    expect(copy).not.toBe(outer);
    expect(copy.message).toBe('fetch failed for [redacted]');
    expect(copy.cause).toBeInstanceOf(StreamableHTTPError);
    expect((copy.cause as StreamableHTTPError).code).toBe(404);
    expect(((copy.cause as Error).cause as { code: string }).code).toBe('ECONNRESET');
    expect(isSessionGone(copy)).toBe(true);
    expect(inspect(copy, { depth: 10 })).not.toMatch(/SECRET/);
    // The original is untouched.
    expect(outer.message).toContain('tok-SECRET-2');
  });

  it('keeps brands, so classification and branded instanceof still hold', () => {
    const local = markLocalTransportError(new Error('gone http://x:SECRET@h.test/'));
    expect(classifyError(redactError(local))).toBe('transport');
    const registryError = new CreateFailedError('g', 'failed', new Error('x'), 10);
    const copy = redactError(registryError) as CreateFailedError;
    expect(copy).toBeInstanceOf(CreateFailedError);
    expect(copy.code).toBe('ERR_CREATE_FAILED');
  });

  it('bounds cyclic and deep cause chains, and aggregated errors', () => {
    const cyclic = new Error('a http://u:SECRET@h.test/') as Error & { cause?: unknown };
    cyclic.cause = cyclic;
    expect(inspect(redactError(cyclic), { depth: 20 })).not.toMatch(/SECRET/);
    const many = new AggregateError(Array.from({ length: 50 }, (_, i) => new Error(`e${i} http://h.test/?k=SECRET`)), 'all');
    const copy = redactError(many) as AggregateError;
    expect(copy.errors).toHaveLength(10);
    expect(inspect(copy, { depth: 10 })).not.toMatch(/SECRET/);
  });

  it('copies a DOMException without calling its prototype getters on the copy', () => {
    const copy = redactError(new DOMException('Create timed out after 5 ms', 'TimeoutError')) as Error;
    expect(copy.name).toBe('TimeoutError');
    expect(copy.message).toBe('Create timed out after 5 ms');
    expect(() => inspect(copy)).not.toThrow();
  });

  it('turns strings and thrown objects into redacted text; keeps other primitives', () => {
    expect(redactError('see http://u:p@h.test/?t=SECRET', secrets)).toBe('see http://h.test/');
    expect(redactError(42)).toBe(42);
    expect(redactError(undefined)).toBeUndefined();
    expect(redactError({ token: 'SECRET' })).not.toMatch(/SECRET/);
  });
});
