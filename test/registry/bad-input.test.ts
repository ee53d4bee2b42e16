/**
 * Bad input to UpstreamSessionRegistry: constructor options and the arguments
 * of acquire / use / evictSession / evictGateway. Every row must fail with a
 * typed error (class + stable `code`), name the field, show the bad value
 * (never a header value or URL credentials), and leave no trace: the factory
 * is never called, no timer is started, and the snapshot is unchanged.
 */
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, InvalidRequestError, RegistryError } from '../../src/errors.js';
import type { RegistryOptions } from '../../src/options.js';
import { UpstreamSessionRegistry } from '../../src/registry/index.js';
import { type FakeClient, ManualClock, createFakeFactory } from '../../src/testing/index.js';
import { setup } from './helpers.js';

const VALID = Object.freeze({ downstreamSessionId: 'ds-1', gatewayId: 'gw-1', url: 'http://upstream.test/mcp' });
const SECRET = 'hunter2-s3cr3t';

interface Row {
  /** What is wrong. */
  readonly name: string;
  /** The field the error must name (`error.field` / `error.option`, and in the message). */
  readonly field: string;
  /** Text of the bad value the message must show. */
  readonly shows?: string;
  /** Text the message must never contain (secrets). */
  readonly hides?: string;
}

interface OptionRow extends Row {
  readonly options: unknown;
}

interface CallRow extends Row {
  readonly call: (registry: UpstreamSessionRegistry<FakeClient>) => unknown;
}

const noop = (): void => {};
const logger = { debug: noop, info: noop, warn: noop, error: noop };
const clockShape = { now: () => 0, setTimeout: () => 0, clearTimeout: noop };
const affinityShape = { workerId: 'w', claim: async () => ({ owned: true as const }), release: async () => {}, close: async () => {} };

/** Bad numbers for every numeric option; each must be rejected. */
const NUMERIC_ROWS: OptionRow[] = [
  ...(['idleValidationMs', 'probeTimeoutMs', 'createTimeoutMs', 'closeTimeoutMs', 'idleTtlMs'] as const).flatMap((option) => [
    { name: `${option} negative`, field: option, options: { [option]: -5 }, shows: '-5' },
    { name: `${option} NaN`, field: option, options: { [option]: Number.NaN }, shows: 'NaN' },
    { name: `${option} larger than a timer can hold`, field: option, options: { [option]: 2 ** 31 }, shows: '2147483648' },
    { name: `${option} as a string`, field: option, options: { [option]: '100' }, shows: '"100"' },
  ]),
  // Infinity means "off" for idleValidationMs only.
  ...(['probeTimeoutMs', 'createTimeoutMs', 'closeTimeoutMs', 'idleTtlMs'] as const).map((option) => ({
    name: `${option} Infinity`,
    field: option,
    options: { [option]: Number.POSITIVE_INFINITY },
    shows: 'Infinity',
  })),
  // 0 means "off" for idleValidationMs and idleTtlMs only.
  ...(['probeTimeoutMs', 'createTimeoutMs', 'closeTimeoutMs'] as const).map((option) => ({
    name: `${option} zero`,
    field: option,
    options: { [option]: 0 },
    shows: '0',
  })),
  ...(['maxSessions', 'maxSessionsPerGateway', 'createConcurrencyPerGateway'] as const).flatMap((option) => [
    { name: `${option} negative`, field: option, options: { [option]: -1 }, shows: '-1' },
    { name: `${option} zero`, field: option, options: { [option]: 0 }, shows: '0' },
    { name: `${option} NaN`, field: option, options: { [option]: Number.NaN }, shows: 'NaN' },
    { name: `${option} non-integer`, field: option, options: { [option]: 2.5 }, shows: '2.5' },
    { name: `${option} beyond a safe integer`, field: option, options: { [option]: 2 ** 60 }, shows: String(2 ** 60) },
  ]),
  ...(['maxSessions', 'createConcurrencyPerGateway'] as const).map((option) => ({
    name: `${option} Infinity`,
    field: option,
    options: { [option]: Number.POSITIVE_INFINITY },
    shows: 'Infinity',
  })),
];

const OPTION_ROWS: OptionRow[] = [
  { name: 'options not an object', field: 'options', options: 'fast', shows: '"fast"' },
  { name: 'options null', field: 'options', options: null, shows: 'null' },
  { name: 'unknown option key (typo)', field: 'maxSesions', options: { maxSesions: 5 } },
  { name: 'overflow not a policy', field: 'overflow', options: { overflow: 'drop-oldest' }, shows: '"drop-oldest"' },
  { name: 'onSessionLost not a policy', field: 'onSessionLost', options: { onSessionLost: 'retry' }, shows: '"retry"' },
  { name: 'factory not a function', field: 'factory', options: { factory: 'mcp' }, shows: '"mcp"' },
  { name: 'factory null', field: 'factory', options: { factory: null }, shows: 'null' },
  { name: 'affinity without release()', field: 'affinity', options: { affinity: { ...affinityShape, release: undefined } }, shows: 'release' },
  { name: 'affinity not an object', field: 'affinity', options: { affinity: 42 }, shows: '42' },
  { name: 'clock without now()', field: 'clock', options: { clock: { ...clockShape, now: undefined } }, shows: 'now' },
  { name: 'clock without clearTimeout()', field: 'clock', options: { clock: { ...clockShape, clearTimeout: 1 } }, shows: 'clearTimeout' },
  { name: 'logger without warn()', field: 'logger', options: { logger: { ...logger, warn: undefined } }, shows: 'warn' },
  { name: 'logger a string', field: 'logger', options: { logger: 'console' }, shows: '"console"' },
  { name: 'probeChain not an array', field: 'probeChain', options: { probeChain: 'ping' }, shows: '"ping"' },
  { name: 'probeChain step without run()', field: 'probeChain[0]', options: { probeChain: [{ name: 'ping' }] } },
  { name: 'probeChain step without a name', field: 'probeChain[1]', options: { probeChain: [{ name: 'a', run: noop }, { run: noop }] } },
  { name: 'createBackoff a string', field: 'createBackoff', options: { createBackoff: 'yes' }, shows: '"yes"' },
  { name: 'createBackoff true', field: 'createBackoff', options: { createBackoff: true }, shows: 'true' },
  { name: 'createBackoff unknown key', field: 'createBackoff.jitter', options: { createBackoff: { jitter: 0.1 } } },
  {
    name: 'createBackoff.afterFailures zero',
    field: 'createBackoff.afterFailures',
    options: { createBackoff: { afterFailures: 0 } },
    shows: '0',
  },
  {
    name: 'createBackoff.initialMs negative',
    field: 'createBackoff.initialMs',
    options: { createBackoff: { initialMs: -1 } },
    shows: '-1',
  },
  {
    name: 'createBackoff.maxMs below initialMs',
    field: 'createBackoff.maxMs',
    options: { createBackoff: { initialMs: 100, maxMs: 50 } },
    shows: '50',
  },
  ...NUMERIC_ROWS,
];

/** A request init with one field replaced. */
function init(patch: Record<string, unknown>): never {
  return { ...VALID, ...patch } as never;
}

const CALL_ROWS: CallRow[] = [
  { name: 'acquire(undefined)', field: 'init', call: (r) => r.acquire(undefined as never), shows: 'undefined' },
  { name: 'acquire(string)', field: 'init', call: (r) => r.acquire('ds-1' as never), shows: '"ds-1"' },
  { name: 'acquire(null)', field: 'init', call: (r) => r.acquire(null as never), shows: 'null' },
  { name: 'acquire(array)', field: 'init', call: (r) => r.acquire([VALID] as never), shows: 'array' },
  { name: 'unknown request field', field: 'sessionId', call: (r) => r.acquire(init({ sessionId: 'x' })) },
  { name: 'downstreamSessionId missing', field: 'downstreamSessionId', call: (r) => r.acquire(init({ downstreamSessionId: undefined })), shows: 'undefined' },
  { name: 'downstreamSessionId empty', field: 'downstreamSessionId', call: (r) => r.acquire(init({ downstreamSessionId: '' })), shows: '""' },
  { name: 'downstreamSessionId with a space', field: 'downstreamSessionId', call: (r) => r.acquire(init({ downstreamSessionId: 'a b' })), shows: '"a b"' },
  { name: 'downstreamSessionId non-ASCII', field: 'downstreamSessionId', call: (r) => r.acquire(init({ downstreamSessionId: 'café' })), shows: '"café"' },
  {
    name: 'downstreamSessionId too long (shown truncated)',
    field: 'downstreamSessionId',
    call: (r) => r.acquire(init({ downstreamSessionId: 'x'.repeat(257) })),
    shows: `"${'x'.repeat(64)}…"`,
    hides: 'x'.repeat(65),
  },
  { name: 'downstreamSessionId a number', field: 'downstreamSessionId', call: (r) => r.acquire(init({ downstreamSessionId: 42 })), shows: '42' },
  { name: 'gatewayId empty', field: 'gatewayId', call: (r) => r.acquire(init({ gatewayId: '' })), shows: '""' },
  { name: 'gatewayId with LF', field: 'gatewayId', call: (r) => r.acquire(init({ gatewayId: 'gw\n1' })), shows: '"gw\\n1"' },
  { name: 'url missing', field: 'url', call: (r) => r.acquire(init({ url: undefined })) },
  { name: 'url not http(s)', field: 'url', call: (r) => r.acquire(init({ url: 'ftp://upstream.test/mcp' })), shows: '"ftp:"' },
  { name: 'url a number', field: 'url', call: (r) => r.acquire(init({ url: 8080 })), shows: '8080' },
  {
    name: 'url unparsable, with credentials (not shown)',
    field: 'url',
    call: (r) => r.acquire(init({ url: `http://user:${SECRET}@[bad/mcp` })),
    hides: SECRET,
  },
  {
    name: 'url with a secret in a javascript: scheme (only the scheme shown)',
    field: 'url',
    call: (r) => r.acquire(init({ url: `javascript:alert('${SECRET}')` })),
    shows: '"javascript:"',
    hides: SECRET,
  },
  { name: 'transport unknown', field: 'transport', call: (r) => r.acquire(init({ transport: 'websocket' })), shows: '"websocket"' },
  {
    name: 'CR/LF in a header value (value never shown)',
    field: 'headers.x-api-key',
    call: (r) => r.acquire(init({ headers: { 'x-api-key': `${SECRET}\r\nx-injected: 1` } })),
    hides: SECRET,
  },
  {
    name: 'NUL in a header value, as Headers-like pairs (value never shown)',
    field: 'headers.authorization',
    call: (r) => r.acquire(init({ headers: [['Authorization', `Bearer ${SECRET}\0`]] })),
    hides: SECRET,
  },
  { name: 'header value not a string', field: 'headers.x-n', call: (r) => r.acquire(init({ headers: { 'x-n': 5 } })) },
  { name: 'header name not a token', field: 'headers', call: (r) => r.acquire(init({ headers: { 'bad name': 'v' } })), shows: 'bad name' },
  { name: 'headers a string', field: 'headers', call: (r) => r.acquire(init({ headers: 'a=b' })), shows: '"a=b"' },
  { name: 'configVersion a number', field: 'configVersion', call: (r) => r.acquire(init({ configVersion: 7 })), shows: '7' },
  { name: 'connectTimeoutMs negative', field: 'connectTimeoutMs', call: (r) => r.acquire(init({ connectTimeoutMs: -1 })), shows: '-1' },
  { name: 'connectTimeoutMs NaN', field: 'connectTimeoutMs', call: (r) => r.acquire(init({ connectTimeoutMs: Number.NaN })), shows: 'NaN' },
  {
    name: 'connectTimeoutMs Infinity',
    field: 'connectTimeoutMs',
    call: (r) => r.acquire(init({ connectTimeoutMs: Number.POSITIVE_INFINITY })),
    shows: 'Infinity',
  },
  {
    name: 'connectTimeoutMs too large for a timer',
    field: 'connectTimeoutMs',
    call: (r) => r.acquire(init({ connectTimeoutMs: 2 ** 31 })),
    shows: '2147483648',
  },
  { name: 'acquire options not an object', field: 'options', call: (r) => r.acquire(VALID, 'fast' as never), shows: '"fast"' },
  {
    name: 'signal not an AbortSignal',
    field: 'options.signal',
    call: (r) => r.acquire(VALID, { signal: { aborted: false } as never }),
    shows: 'object',
  },
  {
    name: 'signal an AbortController (not its signal)',
    field: 'options.signal',
    call: (r) => r.acquire(VALID, { signal: new AbortController() as never }),
    shows: 'object',
  },
  { name: 'use with a non-function', field: 'fn', call: (r) => r.use(VALID, 'callTool' as never), shows: '"callTool"' },
  { name: 'use with fn undefined', field: 'fn', call: (r) => r.use(VALID, undefined as never), shows: 'undefined' },
  {
    name: 'use with a bad request',
    field: 'downstreamSessionId',
    call: (r) => r.use(init({ downstreamSessionId: '' }), async () => 1),
    shows: '""',
  },
  { name: 'use with a bad signal', field: 'options.signal', call: (r) => r.use(VALID, async () => 1, { signal: 'x' as never }), shows: '"x"' },
  { name: 'evictSession(123)', field: 'downstreamSessionId', call: (r) => r.evictSession(123 as never), shows: '123' },
  { name: 'evictSession(undefined)', field: 'downstreamSessionId', call: (r) => r.evictSession(undefined as never), shows: 'undefined' },
  { name: 'evictGateway(null)', field: 'gatewayId', call: (r) => r.evictGateway(null as never), shows: 'null' },
  { name: 'evictGateway({})', field: 'gatewayId', call: (r) => r.evictGateway({} as never), shows: 'object' },
];

/** The error `act` throws synchronously or rejects with; fails the test when it succeeds. */
async function failure(act: () => unknown): Promise<unknown> {
  let result: unknown;
  try {
    result = act();
  } catch (error) {
    return error;
  }
  try {
    await result;
  } catch (error) {
    return error;
  }
  throw new Error('expected bad input to be rejected, but the call succeeded');
}

function expectNamed(error: unknown, row: Row, cls: typeof InvalidOptionsError | typeof InvalidRequestError, code: string): void {
  expect(error).toBeInstanceOf(cls);
  expect(error).toBeInstanceOf(RegistryError);
  const e = error as RegistryError & { field?: string; option?: string };
  expect(e.code).toBe(code);
  expect(e.field ?? e.option).toBe(row.field);
  expect(e.message).toContain(row.field);
  if (row.shows !== undefined) expect(e.message).toContain(row.shows);
  if (row.hides !== undefined) expect(e.message).not.toContain(row.hides);
  expect(e.message.length).toBeLessThan(400);
}

describe('UpstreamSessionRegistry rejects bad options', () => {
  it('has a table of at least 20 kinds of bad options', () => {
    expect(OPTION_ROWS.length).toBeGreaterThanOrEqual(20);
  });

  it.each(OPTION_ROWS.map((row) => [row.name, row] as const))('%s → InvalidOptionsError', async (_name, row) => {
    const clock = new ManualClock();
    const fake = createFakeFactory({ clock });
    const extra = row.options;
    const options =
      typeof extra === 'object' && extra !== null ? { factory: fake.factory, clock, ...extra } : (extra as RegistryOptions<FakeClient>);
    const error = await failure(() => new UpstreamSessionRegistry<FakeClient>(options as RegistryOptions<FakeClient>));
    expectNamed(error, row, InvalidOptionsError, 'ERR_INVALID_OPTIONS');
    expect(fake.calls).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  // The table must not pass because everything throws: the edge values each option allows are accepted.
  it.each([
    ['idleValidationMs: Infinity (probing off)', { idleValidationMs: Number.POSITIVE_INFINITY }],
    ['idleValidationMs: 0 (probe every time)', { idleValidationMs: 0 }],
    ['idleTtlMs: 0 (sweeper off)', { idleTtlMs: 0 }],
    ['maxSessionsPerGateway: Infinity', { maxSessionsPerGateway: Number.POSITIVE_INFINITY }],
    ['closeTimeoutMs: 2^31 - 1', { closeTimeoutMs: 2 ** 31 - 1 }],
    ['createBackoff: false', { createBackoff: false }],
    ['probeChain: []', { probeChain: [] }],
    ['console as logger', { logger: console }],
    ['every option at once', { maxSessions: 5, maxSessionsPerGateway: 2, overflow: 'evict-idle', onSessionLost: 'fail', createConcurrencyPerGateway: 1, createBackoff: { afterFailures: 1, initialMs: 10, maxMs: 10 }, logger, affinity: affinityShape }],
  ] as const)('accepts %s', async (_name, extra) => {
    const { registry } = setup(extra as Omit<RegistryOptions<FakeClient>, 'factory' | 'clock'>);
    expect(registry.size).toBe(0);
  });
});

describe('UpstreamSessionRegistry rejects bad requests and arguments', () => {
  it('has a table of at least 20 kinds of bad requests', () => {
    expect(CALL_ROWS.length).toBeGreaterThanOrEqual(20);
  });

  it.each(CALL_ROWS.map((row) => [row.name, row] as const))('%s → InvalidRequestError', async (_name, row) => {
    const { clock, fake, registry } = setup();
    const before = registry.snapshot();
    const timersBefore = clock.pendingTimers;
    const error = await failure(() => row.call(registry));
    expectNamed(error, row, InvalidRequestError, 'ERR_INVALID_REQUEST');
    await clock.flush();
    expect(fake.calls).toBe(0);
    expect(registry.size).toBe(0);
    expect(registry.snapshot()).toEqual(before);
    expect(clock.pendingTimers).toBe(timersBefore);
  });

  it('stays usable after bad input: a valid acquire then works', async () => {
    const { fake, registry } = setup();
    for (const row of CALL_ROWS) await failure(() => row.call(registry));
    expect(fake.calls).toBe(0);
    const lease = await registry.acquire(VALID);
    lease.release();
    expect(fake.calls).toBe(1);
    expect(registry.size).toBe(1);
  });
});
