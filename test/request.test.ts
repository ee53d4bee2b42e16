import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../src/errors.js';
import { SessionCreateRequest, type SessionCreateRequestInit, sessionKey } from '../src/request.js';

const SECRET = 'hunter2-top-secret';

const base: SessionCreateRequestInit = {
  downstreamSessionId: 'sess-1',
  gatewayId: 'github',
  url: 'https://mcp.example.com/mcp',
};

function build(overrides: Record<string, unknown>): SessionCreateRequest {
  return SessionCreateRequest.from({ ...base, ...overrides } as SessionCreateRequestInit);
}

function rejection(init: unknown): InvalidRequestError {
  try {
    SessionCreateRequest.from(init as SessionCreateRequestInit);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRequestError);
    return error as InvalidRequestError;
  }
  throw new Error('SessionCreateRequest.from did not throw');
}

interface BadCase {
  readonly name: string;
  readonly init: unknown;
  readonly field: string;
  /** Text the message must contain (the truncated bad value, where it is safe to show). */
  readonly shows?: string;
}

const stdioBase = { downstreamSessionId: 's', gatewayId: 'local', transport: 'stdio', stdio: { command: 'node' } };

const badCases: BadCase[] = [
  { name: 'init is null', init: null, field: 'init', shows: 'null' },
  { name: 'init is a string', init: 'sess-1', field: 'init', shows: '"sess-1"' },
  { name: 'init is an array', init: [base], field: 'init' },
  { name: 'unknown key (typo)', init: { ...base, sessionId: 'x' }, field: 'sessionId', shows: 'unknown field' },
  { name: 'downstreamSessionId missing', init: { gatewayId: 'g', url: base.url }, field: 'downstreamSessionId' },
  { name: 'downstreamSessionId not a string', init: { ...base, downstreamSessionId: 42 }, field: 'downstreamSessionId', shows: '42' },
  { name: 'downstreamSessionId empty', init: { ...base, downstreamSessionId: '' }, field: 'downstreamSessionId', shows: '""' },
  { name: 'downstreamSessionId with a space', init: { ...base, downstreamSessionId: 'a b' }, field: 'downstreamSessionId', shows: '"a b"' },
  { name: 'downstreamSessionId with a control char', init: { ...base, downstreamSessionId: 'a\nb' }, field: 'downstreamSessionId', shows: '"a\\nb"' },
  { name: 'downstreamSessionId non-ASCII', init: { ...base, downstreamSessionId: 'sé' }, field: 'downstreamSessionId', shows: '"sé"' },
  {
    name: 'downstreamSessionId too long (value truncated)',
    init: { ...base, downstreamSessionId: `${'a'.repeat(64)}TAIL${'b'.repeat(200)}` },
    field: 'downstreamSessionId',
    shows: `"${'a'.repeat(64)}…"`,
  },
  { name: 'gatewayId empty', init: { ...base, gatewayId: '' }, field: 'gatewayId', shows: '""' },
  { name: 'gatewayId too long', init: { ...base, gatewayId: 'g'.repeat(257) }, field: 'gatewayId', shows: '257' },
  { name: 'gatewayId with a control char', init: { ...base, gatewayId: 'gh\u0000' }, field: 'gatewayId', shows: 'control' },
  { name: 'gatewayId not a string', init: { ...base, gatewayId: {} }, field: 'gatewayId', shows: 'an object' },
  { name: 'url missing for streamable-http', init: { downstreamSessionId: 's', gatewayId: 'g' }, field: 'url', shows: 'required' },
  { name: 'url unparseable', init: { ...base, url: 'not a url' }, field: 'url' },
  { name: 'url relative', init: { ...base, url: '/mcp' }, field: 'url' },
  { name: 'url ftp:', init: { ...base, url: 'ftp://files.example.com/x' }, field: 'url', shows: '"ftp:"' },
  { name: 'url file:', init: { ...base, url: 'file:///etc/passwd' }, field: 'url', shows: '"file:"' },
  { name: 'url not a string', init: { ...base, url: 7 }, field: 'url', shows: '7' },
  { name: 'url given for stdio', init: { ...stdioBase, url: 'https://x.example' }, field: 'url', shows: 'stdio' },
  { name: 'transport unknown', init: { ...base, transport: 'websocket' }, field: 'transport', shows: '"websocket"' },
  { name: 'headers a string', init: { ...base, headers: 'authorization: x' }, field: 'headers' },
  { name: 'header name invalid', init: { ...base, headers: { 'bad name': 'v' } }, field: 'headers', shows: '"bad name"' },
  { name: 'header value with CRLF', init: { ...base, headers: { 'X-Api-Key': `${SECRET}\r\nX-Evil: 1` } }, field: 'headers.x-api-key' },
  { name: 'header value with LF', init: { ...base, headers: { authorization: `${SECRET}\n` } }, field: 'headers.authorization' },
  { name: 'header value with NUL', init: { ...base, headers: [['authorization', `${SECRET}\0`]] }, field: 'headers.authorization' },
  { name: 'header value not a string', init: { ...base, headers: { 'x-n': 5 } }, field: 'headers.x-n' },
  {
    name: 'duplicate header names with different values',
    init: { ...base, headers: [['Authorization', SECRET], ['authorization', `${SECRET}-2`]] },
    field: 'headers.authorization',
  },
  { name: 'configVersion not a string', init: { ...base, configVersion: 3 }, field: 'configVersion', shows: '3' },
  { name: 'configVersion too long', init: { ...base, configVersion: 'v'.repeat(1025) }, field: 'configVersion', shows: '1025' },
  { name: 'connectTimeoutMs zero', init: { ...base, connectTimeoutMs: 0 }, field: 'connectTimeoutMs', shows: '0' },
  { name: 'connectTimeoutMs negative', init: { ...base, connectTimeoutMs: -5 }, field: 'connectTimeoutMs', shows: '-5' },
  { name: 'connectTimeoutMs NaN', init: { ...base, connectTimeoutMs: Number.NaN }, field: 'connectTimeoutMs', shows: 'NaN' },
  { name: 'connectTimeoutMs Infinity', init: { ...base, connectTimeoutMs: Number.POSITIVE_INFINITY }, field: 'connectTimeoutMs', shows: 'Infinity' },
  { name: 'connectTimeoutMs a string', init: { ...base, connectTimeoutMs: '100' }, field: 'connectTimeoutMs', shows: '"100"' },
  { name: 'connectTimeoutMs above 2^31-1', init: { ...base, connectTimeoutMs: 2 ** 31 }, field: 'connectTimeoutMs', shows: '2147483648' },
  { name: 'stdio given for streamable-http', init: { ...base, stdio: { command: 'node' } }, field: 'stdio' },
  { name: 'stdio missing for stdio', init: { ...stdioBase, stdio: undefined }, field: 'stdio', shows: 'required' },
  { name: 'stdio not an object', init: { ...stdioBase, stdio: 'node server.js' }, field: 'stdio' },
  { name: 'stdio.command empty', init: { ...stdioBase, stdio: { command: '' } }, field: 'stdio.command' },
  { name: 'stdio.command with NUL', init: { ...stdioBase, stdio: { command: 'no\0de' } }, field: 'stdio.command' },
  { name: 'stdio unknown key', init: { ...stdioBase, stdio: { command: 'node', argv: [] } }, field: 'stdio.argv', shows: 'unknown' },
  { name: 'stdio.args not an array', init: { ...stdioBase, stdio: { command: 'node', args: 'x.js' } }, field: 'stdio.args' },
  { name: 'stdio.args element not a string', init: { ...stdioBase, stdio: { command: 'node', args: ['a', 1] } }, field: 'stdio.args[1]' },
  { name: 'stdio.args element with NUL', init: { ...stdioBase, stdio: { command: 'node', args: [`--token=${SECRET}\0`] } }, field: 'stdio.args[0]' },
  { name: 'stdio.env not a record', init: { ...stdioBase, stdio: { command: 'node', env: ['A=1'] } }, field: 'stdio.env' },
  { name: 'stdio.env value not a string', init: { ...stdioBase, stdio: { command: 'node', env: { A: 1 } } }, field: 'stdio.env.A' },
  { name: 'stdio.env value with NUL', init: { ...stdioBase, stdio: { command: 'node', env: { TOKEN: `${SECRET}\0` } } }, field: 'stdio.env.TOKEN' },
  { name: 'stdio.env name with =', init: { ...stdioBase, stdio: { command: 'node', env: { 'A=B': '1' } } }, field: 'stdio.env', shows: '"A=B"' },
  { name: 'stdio.cwd empty', init: { ...stdioBase, stdio: { command: 'node', cwd: '' } }, field: 'stdio.cwd' },
];

describe('SessionCreateRequest.from: bad input', () => {
  it('has a table of at least 20 kinds', () => {
    expect(badCases.length).toBeGreaterThanOrEqual(20);
  });

  it.each(badCases)('$name -> $field', ({ init, field, shows }) => {
    const error = rejection(init);
    expect(error.code).toBe('ERR_INVALID_REQUEST');
    expect(error.field).toBe(field);
    expect(error.message).toContain(field);
    if (shows !== undefined) expect(error.message).toContain(shows);
    expect(error.message).not.toContain(SECRET);
  });

  it('truncates a long bad value instead of echoing it whole', () => {
    const error = rejection({ ...base, downstreamSessionId: `${'a'.repeat(64)}TAIL${' '.repeat(100)}` });
    expect(error.message).not.toContain('TAIL');
  });

  it('never shows URL credentials or query strings', () => {
    for (const url of [`ftp://user:${SECRET}@h.example/p?k=${SECRET}`, `http://user:${SECRET}@[broken?k=${SECRET}`]) {
      const error = rejection({ ...base, url });
      expect(error.field).toBe('url');
      expect(error.message).not.toContain(SECRET);
    }
  });
});

describe('SessionCreateRequest.from: valid input', () => {
  it('fills defaults and normalizes the URL', () => {
    const request = SessionCreateRequest.from({ ...base, url: new URL('HTTPS://MCP.Example.com:443/mcp') });
    expect(request.transport).toBe('streamable-http');
    expect(request.url).toBe('https://mcp.example.com/mcp');
    expect(request.headers).toEqual({});
    expect(request.configVersion).toBeUndefined();
    expect(request.connectTimeoutMs).toBeUndefined();
    expect(request.stdio).toBeUndefined();
  });

  it('keeps every given field', () => {
    const request = build({ transport: 'sse', configVersion: 'v7', connectTimeoutMs: 2500 });
    expect(request).toMatchObject({
      downstreamSessionId: 'sess-1',
      gatewayId: 'github',
      transport: 'sse',
      configVersion: 'v7',
      connectTimeoutMs: 2500,
      key: 'sess-1 github',
    });
    expect(request.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('accepts gateway ids with spaces and non-ASCII', () => {
    expect(build({ gatewayId: 'Team Ünïcode gateway' }).key).toBe('sess-1 Team Ünïcode gateway');
  });

  it('accepts optional fields given as undefined', () => {
    expect(() => build({ headers: undefined, transport: undefined, connectTimeoutMs: undefined })).not.toThrow();
  });

  it('returns the same instance for an instance (hot path)', () => {
    const request = SessionCreateRequest.from(base);
    expect(SessionCreateRequest.from(request)).toBe(request);
  });

  it('builds stdio requests with a frozen deep copy of the command', () => {
    const args = ['server.js', '--port', '0'];
    const env = { API_TOKEN: SECRET };
    const request = SessionCreateRequest.from({ ...stdioBase, stdio: { command: 'node', args, env, cwd: '/srv' } } as SessionCreateRequestInit);
    expect(request.url).toBe('');
    expect(request.stdio).toEqual({ command: 'node', args: ['server.js', '--port', '0'], env: { API_TOKEN: SECRET }, cwd: '/srv' });
    args.push('--evil');
    env.API_TOKEN = 'changed';
    expect(request.stdio?.args).toEqual(['server.js', '--port', '0']);
    expect(request.stdio?.env?.API_TOKEN).toBe(SECRET);
    expect(Object.isFrozen(request.stdio)).toBe(true);
    expect(Object.isFrozen(request.stdio?.args)).toBe(true);
    expect(Object.isFrozen(request.stdio?.env)).toBe(true);
  });
});

describe('SessionCreateRequest: immutability', () => {
  it('is frozen, and so are its headers; mutation throws in strict mode', () => {
    const request = build({ headers: { authorization: 'Bearer t' } });
    expect(Object.isFrozen(request)).toBe(true);
    expect(Object.isFrozen(request.headers)).toBe(true);
    expect(() => {
      (request as { gatewayId: string }).gatewayId = 'other';
    }).toThrow(TypeError);
    expect(() => {
      (request.headers as Record<string, string>).authorization = 'Bearer other';
    }).toThrow(TypeError);
    expect(() => {
      (request.headers as Record<string, string>)['x-new'] = '1';
    }).toThrow(TypeError);
    expect(request.gatewayId).toBe('github');
    expect(request.headers).toEqual({ authorization: 'Bearer t' });
  });

  it('copies headers: mutating the input afterwards changes nothing', () => {
    const record: Record<string, string> = { Authorization: 'Bearer a' };
    const headers = new Headers({ Authorization: 'Bearer b' });
    const pairs: Array<[string, string]> = [['Authorization', 'Bearer c']];
    const fromRecord = build({ headers: record });
    const fromHeaders = build({ headers });
    const fromPairs = build({ headers: pairs });
    record.Authorization = 'changed';
    record['x-new'] = '1';
    headers.set('authorization', 'changed');
    pairs.push(['x-new', '1']);
    expect(fromRecord.headers).toEqual({ authorization: 'Bearer a' });
    expect(fromHeaders.headers).toEqual({ authorization: 'Bearer b' });
    expect(fromPairs.headers).toEqual({ authorization: 'Bearer c' });
  });
});

describe('SessionCreateRequest: headers', () => {
  const expected = { authorization: 'Bearer t', 'x-tenant': 'acme' };

  it.each([
    ['a record', { Authorization: 'Bearer t', 'X-Tenant': 'acme' }],
    ['a Headers object', new Headers({ Authorization: 'Bearer t', 'X-Tenant': 'acme' })],
    ['an array of pairs', [['Authorization', 'Bearer t'], ['X-Tenant', 'acme']]],
    ['a Map', new Map([['Authorization', 'Bearer t'], ['X-Tenant', 'acme']])],
    [
      'a generator',
      (function* () {
        yield ['Authorization', 'Bearer t'];
        yield ['X-Tenant', 'acme'];
      })(),
    ],
  ])('accepts %s', (_, headers) => {
    expect(build({ headers }).headers).toEqual(expected);
  });

  it('applies the header policy: drops session, hop-by-hop, proxy-* and Connection-listed headers', () => {
    const request = build({
      headers: {
        Authorization: 'Bearer t',
        'Mcp-Session-Id': 'sess-1',
        'MCP-Protocol-Version': '2025-06-18',
        'Last-Event-ID': '42',
        Host: 'proxy.example',
        'Content-Length': '10',
        Connection: 'keep-alive, X-Hop',
        'Keep-Alive': 'timeout=5',
        'Proxy-Authorization': 'Basic x',
        'Proxy-Connection': 'keep-alive',
        TE: 'trailers',
        Trailer: 'x-t',
        'Transfer-Encoding': 'chunked',
        Upgrade: 'h2c',
        'X-Hop': 'dropped',
        'X-Tenant': 'acme',
      },
    });
    expect(request.headers).toEqual(expected);
  });
});

describe('SessionCreateRequest: key', () => {
  it('is downstreamSessionId, a space, gatewayId', () => {
    expect(build({}).key).toBe('sess-1 github');
    expect(sessionKey('sess-1', 'github')).toBe('sess-1 github');
  });

  it('sessionKey rejects an invalid downstream session id (a space would break collision-freedom)', () => {
    expect(() => sessionKey('a b', 'c')).toThrow(InvalidRequestError);
  });

  it('never collides for distinct pairs (property)', () => {
    const sessionId = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 12 });
    const isControl = (c: number) => c < 0x20 || (c >= 0x7f && c <= 0x9f);
    const gatewayId = fc
      .string({ minLength: 1, maxLength: 12 })
      .filter((g) => ![...g].some((ch) => isControl(ch.charCodeAt(0))));
    fc.assert(
      fc.property(sessionId, gatewayId, sessionId, gatewayId, (s1, g1, s2, g2) => {
        fc.pre(s1 !== s2 || g1 !== g2);
        const a = build({ downstreamSessionId: s1, gatewayId: g1 }).key;
        const b = build({ downstreamSessionId: s2, gatewayId: g2 }).key;
        expect(a).not.toBe(b);
        expect(sessionKey(s1, g1)).toBe(a);
      }),
      { numRuns: 500 },
    );
  });

  it('separates the pairs that naive concatenation would merge', () => {
    expect(build({ downstreamSessionId: 'a', gatewayId: 'b c' }).key).not.toBe(
      build({ downstreamSessionId: 'ab', gatewayId: 'c' }).key,
    );
    expect(build({ downstreamSessionId: 'a:b', gatewayId: 'c' }).key).not.toBe(
      build({ downstreamSessionId: 'a', gatewayId: 'b:c' }).key,
    );
  });
});

describe('SessionCreateRequest: fingerprint', () => {
  const full = {
    url: 'https://mcp.example.com/mcp',
    transport: 'streamable-http',
    headers: { authorization: `Bearer ${SECRET}`, 'x-tenant': 'acme' },
    configVersion: 'v1',
  };

  it('is stable across builds and does not depend on identity fields', () => {
    const a = build(full);
    expect(build(full).fingerprint).toBe(a.fingerprint);
    expect(build({ ...full, downstreamSessionId: 'other', gatewayId: 'other', connectTimeoutMs: 5 }).fingerprint).toBe(
      a.fingerprint,
    );
  });

  it('does not depend on header order or header name case', () => {
    const a = build({ ...full, headers: [['X-Tenant', 'acme'], ['Authorization', `Bearer ${SECRET}`]] });
    const b = build({ ...full, headers: { authorization: `Bearer ${SECRET}`, 'x-tenant': 'acme' } });
    expect(a.fingerprint).toBe(b.fingerprint);
  });

  it('ignores headers the policy drops', () => {
    expect(build({ ...full, headers: { ...full.headers, 'mcp-session-id': 'abc', connection: 'close' } }).fingerprint).toBe(
      build(full).fingerprint,
    );
  });

  it.each([
    ['url', { url: 'https://mcp.example.com/other' }],
    ['url query', { url: 'https://mcp.example.com/mcp?x=1' }],
    ['transport', { transport: 'sse' }],
    ['a header value', { headers: { ...full.headers, 'x-tenant': 'other' } }],
    ['an added header', { headers: { ...full.headers, 'x-extra': '' } }],
    ['a removed header', { headers: { 'x-tenant': 'acme' } }],
    ['a header name', { headers: { authorization: `Bearer ${SECRET}`, 'x-tenant2': 'acme' } }],
    ['configVersion', { configVersion: 'v2' }],
    ['configVersion absent', { configVersion: undefined }],
    ['configVersion empty', { configVersion: '' }],
  ])('changes when %s changes', (_, change) => {
    expect(build({ ...full, ...change }).fingerprint).not.toBe(build(full).fingerprint);
  });

  it('does not let field boundaries shift (length-prefixed)', () => {
    const a = build({ headers: { 'x-a': 'bc' } });
    const b = build({ headers: { 'x-ab': 'c' } });
    expect(build({ configVersion: 'ab' }).fingerprint).not.toBe(build({ configVersion: 'a', transport: 'sse' }).fingerprint);
    expect(a.fingerprint).not.toBe(b.fingerprint);
  });

  describe('stdio', () => {
    const command = { command: 'node', args: ['server.js', '--x'], env: { A: '1', B: '2' }, cwd: '/srv' };
    const stdio = (over: Record<string, unknown>) =>
      SessionCreateRequest.from({ ...stdioBase, stdio: { ...command, ...over } } as SessionCreateRequestInit).fingerprint;

    it('is stable and ignores env key order', () => {
      expect(stdio({})).toBe(stdio({ env: { B: '2', A: '1' } }));
    });

    it.each([
      ['command', { command: 'deno' }],
      ['an argument', { args: ['server.js', '--y'] }],
      ['argument split', { args: ['server.js--x'] }],
      ['argument order', { args: ['--x', 'server.js'] }],
      ['args absent', { args: undefined }],
      ['args empty', { args: [] }],
      ['an env value', { env: { A: '1', B: '3' } }],
      ['an env name', { env: { A: '1', C: '2' } }],
      ['env absent', { env: undefined }],
      ['cwd', { cwd: '/tmp' }],
      ['cwd absent', { cwd: undefined }],
    ])('changes when %s changes', (_, over) => {
      expect(stdio(over)).not.toBe(stdio({}));
    });

    it('differs from an HTTP request', () => {
      expect(stdio({})).not.toBe(build({}).fingerprint);
    });
  });

  it('never contains a header value', () => {
    const request = build({ headers: { 'x-key': 'abc' } });
    expect(request.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(request.fingerprint).not.toContain('abc');
    expect(build(full).fingerprint).not.toContain(SECRET);
  });
});

describe('SessionCreateRequest: safe serialization', () => {
  const request = build({ url: `https://mcp.example.com/mcp?token=${SECRET}#${SECRET}`, headers: { authorization: SECRET } });

  it('toJSON shows only the safe identity', () => {
    expect(request.toJSON()).toEqual({
      downstreamSessionId: 'sess-1',
      gatewayId: 'github',
      transport: 'streamable-http',
      url: 'https://mcp.example.com/mcp',
    });
    expect(JSON.stringify(request)).not.toContain(SECRET);
    expect(JSON.stringify({ request })).not.toContain(SECRET);
  });

  it('util.inspect (console.log) shows only the safe identity', async () => {
    const { inspect } = await import('node:util');
    const shown = inspect(request);
    expect(shown).toContain('sess-1');
    expect(shown).not.toContain(SECRET);
  });

  it('keeps the full URL and headers for the factory', () => {
    expect(request.url).toContain(SECRET);
    expect(request.headers.authorization).toBe(SECRET);
  });

  it('toJSON of a stdio request has an empty url and no command details', () => {
    const stdio = SessionCreateRequest.from({ ...stdioBase, stdio: { command: 'node', args: [SECRET] } } as SessionCreateRequestInit);
    expect(stdio.toJSON()).toEqual({ downstreamSessionId: 's', gatewayId: 'local', transport: 'stdio', url: '' });
  });
});

describe('SessionCreateRequest: URL user info (issue #10 §2)', () => {
  it.each([`https://user:${SECRET}@mcp.example.com/mcp`, `https://${SECRET}@mcp.example.com/mcp`, `http://:${SECRET}@h.example/p`])(
    'rejects %s with InvalidRequestError that says to use an Authorization header, never echoing it',
    (url) => {
      const error = rejection({ ...base, url });
      expect(error.field).toBe('url');
      expect(error.message).toMatch(/Authorization header/);
      expect(error.message).not.toContain(SECRET);
      expect(error.message).not.toMatch(/user:hunter2|\/\/user/);
    },
  );

  it('rejects a URL object with user info too', () => {
    expect(rejection({ ...base, url: new URL(`https://u:${SECRET}@mcp.example.com/mcp`) }).message).not.toContain(SECRET);
  });
});

describe('SessionCreateRequest: credentials (issue #10 §3)', () => {
  const token = (n: number) => `Bearer ${SECRET}-${n}`;

  it('validates, lower-cases and freezes them; empty and keyless by default', () => {
    expect(build({}).credentials).toEqual({});
    expect(build({}).credentialsKey).toBe('');
    const request = build({ credentials: { Authorization: token(1) } });
    expect(request.credentials).toEqual({ authorization: token(1) });
    expect(Object.isFrozen(request.credentials)).toBe(true);
    expect(build({ credentials: new Headers({ 'X-Api-Key': 'k' }) }).credentials).toEqual({ 'x-api-key': 'k' });
    expect(build({ credentials: [['x-api-key', 'k']] }).credentials).toEqual({ 'x-api-key': 'k' });
  });

  it('applies the header policy (session and hop-by-hop names dropped)', () => {
    expect(build({ credentials: { 'mcp-session-id': 'x', connection: 'close', authorization: 'a' } }).credentials).toEqual({
      authorization: 'a',
    });
  });

  it.each([
    ['a bad name', { 'bad name': 'v' }, 'credentials'],
    ['CR/LF in a value', { authorization: `a\r\nx: ${SECRET}` }, 'credentials.authorization'],
    ['a non-string value', { authorization: 5 }, 'credentials.authorization'],
    ['not a record', 'Bearer x', 'credentials'],
  ])('rejects %s naming the credentials field, never the value', (_, credentials, field) => {
    const error = rejection({ ...base, credentials });
    expect(error.field).toBe(field);
    expect(error.message).not.toContain(SECRET);
  });

  it('rejects a name given in both headers and credentials', () => {
    const error = rejection({ ...base, headers: { Authorization: 'a' }, credentials: { authorization: 'b' } });
    expect(error.field).toBe('credentials.authorization');
    expect(error.message).toMatch(/also given in 'headers'/);
  });

  it('never changes the fingerprint; credentialsKey tells values apart', () => {
    const one = build({ credentials: { authorization: token(1) } });
    const two = build({ credentials: { authorization: token(2) } });
    expect(one.fingerprint).toBe(two.fingerprint);
    expect(one.fingerprint).toBe(build({}).fingerprint);
    expect(one.credentialsKey).not.toBe(two.credentialsKey);
    expect(one.credentialsKey).toBe(build({ credentials: { Authorization: token(1) } }).credentialsKey);
    expect(one.credentialsKey).not.toContain(SECRET);
  });

  it('never shows them in toJSON or util.inspect', async () => {
    const { inspect } = await import('node:util');
    const request = build({ credentials: { authorization: token(1) } });
    expect(JSON.stringify(request)).not.toContain(SECRET);
    expect(inspect(request, { depth: 5 })).not.toContain(SECRET);
    expect(JSON.stringify(request)).not.toContain(request.credentialsKey);
  });
});
