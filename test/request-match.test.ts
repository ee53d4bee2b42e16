/**
 * `heldRequestFor`, the registry's warm path for plain init objects: it may
 * only answer "this init is the held request" when `SessionCreateRequest.from`
 * would accept the init and build a request equal to it; everything else goes
 * through `from`, so rejections stay exactly those of `from`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SessionCreateRequest, type SessionCreateRequestInit, heldRequestFor } from '../src/request.js';

const HTTP: SessionCreateRequestInit = {
  downstreamSessionId: 'sess-1',
  gatewayId: 'github',
  url: 'https://mcp.example.com/mcp',
};
const FULL: SessionCreateRequestInit = {
  downstreamSessionId: 'sess-2',
  gatewayId: 'kb',
  transport: 'sse',
  url: 'https://kb.example.com/sse?tenant=acme',
  headers: { authorization: 'Bearer t', 'x-tenant': 'acme', 'x-kind': 'k' },
  credentials: { 'x-api-key': 'k1' },
  configVersion: 'v3',
  connectTimeoutMs: 5000,
};
const STDIO: SessionCreateRequestInit = {
  downstreamSessionId: 'sess-3',
  gatewayId: 'files',
  transport: 'stdio',
  stdio: { command: 'node', args: ['server.js', '--flag'], env: { TOKEN: 'abc', EMPTY: '' }, cwd: '/srv' },
};
const BASES = [HTTP, FULL, STDIO] as const;

/** `[first, <hole>, last]` (last omitted when undefined): an array with a missing element. */
function withHole(first: string, last: string | undefined): string[] {
  const array: string[] = [first];
  if (last === undefined) array.length = 2;
  else array[2] = last;
  return array;
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

/** `heldRequestFor` with a lookup that holds `held` under its own pair, as the registry's does. */
function match(held: SessionCreateRequest, init: unknown): SessionCreateRequest | undefined {
  return heldRequestFor(init, (ds, gw) => (ds === held.downstreamSessionId && gw === held.gatewayId ? held : undefined));
}

function expectEqualRequests(actual: SessionCreateRequest, expected: SessionCreateRequest): void {
  expect(actual.key).toBe(expected.key);
  expect(actual.downstreamSessionId).toBe(expected.downstreamSessionId);
  expect(actual.gatewayId).toBe(expected.gatewayId);
  expect(actual.transport).toBe(expected.transport);
  expect(actual.url).toBe(expected.url);
  expect({ ...actual.headers }).toEqual({ ...expected.headers });
  expect({ ...actual.credentials }).toEqual({ ...expected.credentials });
  expect(actual.credentialsKey).toBe(expected.credentialsKey);
  expect(actual.configVersion).toBe(expected.configVersion);
  expect(actual.connectTimeoutMs).toBe(expected.connectTimeoutMs);
  expect(actual.stdio).toEqual(expected.stdio);
  expect(actual.fingerprint).toBe(expected.fingerprint);
}

describe('heldRequestFor', () => {
  it.each([
    ['the same init object', FULL],
    ['a copy', clone(FULL)],
    ['header names in other cases', { ...FULL, headers: { Authorization: 'Bearer t', 'X-TENANT': 'acme', 'x-Kind': 'k' }, credentials: { 'X-Api-Key': 'k1' } }],
    ['fields in another order, optional ones explicitly undefined', { ...HTTP, headers: undefined, credentials: undefined, configVersion: undefined, transport: undefined }],
    ['a null-prototype init and headers', Object.assign(Object.create(null), { ...FULL, headers: Object.assign(Object.create(null), FULL.headers) })],
    ['a stdio command copy', clone(STDIO)],
  ])('matches %s', (_name, init) => {
    const base = BASES.find((b) => b.downstreamSessionId === (init as SessionCreateRequestInit).downstreamSessionId)!;
    const held = SessionCreateRequest.from(base);
    expect(match(held, init)).toBe(held);
  });

  it.each([
    ['another session', { ...HTTP, downstreamSessionId: 'sess-9' }],
    ['a changed header value', { ...FULL, headers: { ...FULL.headers, 'x-tenant': 'other' } }],
    ['a changed credential (the full path updates credentials)', { ...FULL, credentials: { 'x-api-key': 'k2' } }],
    ['a credential moved to the headers', { ...FULL, headers: { ...FULL.headers, 'x-api-key': 'k1' }, credentials: undefined }],
    ['an extra header the policy drops', { ...FULL, headers: { ...FULL.headers, 'mcp-session-id': 'abc' } }],
    ['one header name given twice in two cases', { ...FULL, headers: { authorization: 'Bearer t', Authorization: 'Bearer t', 'x-tenant': 'acme' } }],
    ['two names folding to one', { ...FULL, headers: { AUTHORIZATION: 'Bearer t', Authorization: 'Bearer t', 'x-tenant': 'acme' } }],
    ['a non-ASCII letter that lower-cases to an ASCII one (U+212A)', { ...FULL, headers: { authorization: 'Bearer t', 'x-tenant': 'acme', 'x-\u212Aind': 'k' } }],
    ['a Headers object', { ...FULL, headers: new Headers(FULL.headers as Record<string, string>) }],
    ['header pairs', { ...FULL, headers: Object.entries(FULL.headers as Record<string, string>) }],
    ['a URL that is not the stored href', { ...HTTP, url: 'https://MCP.example.com/mcp' }],
    ['a URL object', { ...HTTP, url: new URL(HTTP.url as string) }],
    ['an unknown key', { ...HTTP, urls: 'x' }],
    ['a header value with CR/LF', { ...FULL, headers: { ...FULL.headers, 'x-tenant': 'acme\r\nx: y' } }],
    ['a non-string header value', { ...FULL, headers: { ...FULL.headers, 'x-tenant': 1 } }],
    ['a stdio argument that is not a string', { ...STDIO, stdio: { ...STDIO.stdio, args: ['server.js', undefined] } }],
    ['a stdio env with another variable', { ...STDIO, stdio: { ...STDIO.stdio, env: { TOKEN: 'abc', OTHER: '' } } }],
    ['an unknown stdio field', { ...STDIO, stdio: { ...STDIO.stdio, shell: true } }],
  ])('does not match %s', (_name, init) => {
    const base = BASES.find((b) => b.downstreamSessionId === (init as SessionCreateRequestInit).downstreamSessionId) ?? HTTP;
    const held = SessionCreateRequest.from(base);
    expect(match(held, init)).toBeUndefined();
  });

  it('does not match an explicit undefined argument where the held arguments have a hole', () => {
    // from() skips holes but rejects an undefined argument: equal reads are not enough.
    const held = SessionCreateRequest.from({ ...STDIO, stdio: { command: 'node', args: withHole('a', 'c') } });
    const init = { ...STDIO, stdio: { command: 'node', args: ['a', undefined, 'c'] } };
    expect(match(held, init)).toBeUndefined();
    expect(() => SessionCreateRequest.from(init as unknown as SessionCreateRequestInit)).toThrow(/stdio\.args\[1\]/);
  });

  it('matches only inits that SessionCreateRequest.from accepts as an equal request (property)', () => {
    const caseOf = (name: string): fc.Arbitrary<string> =>
      fc.constantFrom(name, name.toUpperCase(), name.charAt(0).toUpperCase() + name.slice(1), name.replace('k', '\u212A'));
    const oddValue = fc.constantFrom<unknown>(
      undefined,
      null,
      '',
      'x',
      'x\r\ny',
      'x\n',
      'a\0b',
      5,
      0,
      -1,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      2 ** 31,
      [],
      {},
      true,
      'sse',
      'stdio',
      'streamable-http',
      'https://mcp.example.com/mcp',
      'https://mcp.example.com/mcp/',
      'https://user:pw@mcp.example.com/mcp',
      'v3',
      5000,
      'sess-1',
    );
    const headerMutation = (record: Record<string, unknown> | undefined): fc.Arbitrary<Record<string, unknown> | undefined> => {
      const names = Object.keys(record ?? {});
      return fc.oneof(
        fc.constant(record),
        fc.constant(undefined),
        // Every name in some case, values kept or spoiled.
        fc
          .tuple(
            ...names.map((name) =>
              fc.tuple(caseOf(name), fc.oneof({ weight: 4, arbitrary: fc.constant(record![name]) }, { weight: 1, arbitrary: oddValue })),
            ),
          )
          .map((pairs) => Object.fromEntries(pairs)),
        // An extra name: another case of an existing one, one the policy drops, or a new one.
        fc
          .tuple(fc.constantFrom(...names, 'mcp-session-id', 'connection', 'proxy-x', 'x-new', 'bad name'), fc.boolean(), oddValue)
          .map(([name, upper, value]) => ({ ...record, [upper ? name.toUpperCase() : name]: value ?? record?.[name] })),
      );
    };
    const stdioMutation = (stdio: Record<string, unknown> | undefined): fc.Arbitrary<unknown> =>
      stdio === undefined
        ? fc.oneof(fc.constant(undefined), fc.constant({ command: 'node' }))
        : fc.oneof(
            fc.constant(clone(stdio)),
            fc.tuple(fc.constantFrom('command', 'args', 'env', 'cwd', 'shell'), oddValue).map(([key, value]) => ({ ...clone(stdio), [key]: value })),
            fc.constant({ ...clone(stdio), args: ['server.js'] }),
            fc.constant({ ...clone(stdio), args: ['server.js', '--flag', 'extra'] }),
            // A hole where the held array has a string.
            fc.constant({ ...clone(stdio), args: withHole('server.js', undefined) }),
            fc.constant({ ...clone(stdio), env: { TOKEN: 'abc' } }),
            fc.constant({ ...clone(stdio), env: { TOKEN: 'abc', EMPTY: '', MORE: 'x' } }),
            fc.constant({ ...clone(stdio), env: { TOKEN: 'abc', EMPTY: 1 } }),
          );
    const initArb = fc.constantFrom(...BASES).chain((base) => {
      const b = base as unknown as Record<string, unknown>;
      return fc
        .record({
          headers: headerMutation(b.headers as Record<string, unknown> | undefined),
          credentials: headerMutation(b.credentials as Record<string, unknown> | undefined),
          stdio: stdioMutation(b.stdio as Record<string, unknown> | undefined),
          fields: fc.array(
            fc.tuple(
              fc.constantFrom('downstreamSessionId', 'gatewayId', 'url', 'transport', 'configVersion', 'connectTimeoutMs', 'Url', 'extra'),
              oddValue,
            ),
            { maxLength: 2 },
          ),
        })
        .map(({ headers, credentials, stdio, fields }) => {
          const init: Record<string, unknown> = { ...clone(b), headers, credentials, stdio };
          for (const [key, value] of fields) init[key] = value;
          return { base, init };
        });
    });
    let matched = 0;
    fc.assert(
      fc.property(initArb, ({ base, init }) => {
        const held = SessionCreateRequest.from(base);
        const found = match(held, init);
        if (found === undefined) return;
        matched++;
        expect(found).toBe(held);
        // Throws (failing the property) if from() would have rejected the init.
        expectEqualRequests(SessionCreateRequest.from(init as unknown as SessionCreateRequestInit), held);
      }),
      { numRuns: 3000 },
    );
    // The generator is biased towards equal inits: the match branch must have been exercised.
    expect(matched).toBeGreaterThan(100);
  });
});
