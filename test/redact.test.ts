import { describe, expect, it } from 'vitest';
import { redactText, redactUrl } from '../src/redact.js';

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
