import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CLIENT_INFO, PACKAGE_VERSION, implementationOption } from '../../src/internal/client-info.js';
import {
  MAX_TIMER_MS,
  assertKnownKeys,
  count,
  flag,
  milliseconds,
  numberIn,
  oneOf,
  optionalFunction,
  optionalRecord,
  optionalString,
  optionsObject,
  withMethods,
} from '../../src/internal/validate.js';
import { optionErrorOf } from '../fixtures/option-error.js';

describe('validation kit', () => {
  it('milliseconds: (0, 2^31-1], with zero and Infinity only when allowed', () => {
    expect(MAX_TIMER_MS).toBe(2 ** 31 - 1);
    expect(milliseconds('t', undefined)).toBeUndefined();
    expect(milliseconds('t', MAX_TIMER_MS)).toBe(MAX_TIMER_MS);
    expect(milliseconds('t', 0, { zero: true })).toBe(0);
    expect(milliseconds('t', Number.POSITIVE_INFINITY, { infinity: true })).toBe(Number.POSITIVE_INFINITY);
    for (const bad of [0, -1, MAX_TIMER_MS + 1, Number.NaN, Number.POSITIVE_INFINITY, '5', null]) {
      const error = optionErrorOf(() => milliseconds('timeoutMs', bad));
      expect(error.option).toBe('timeoutMs');
      expect(error.message).toContain(`at most ${MAX_TIMER_MS}`);
    }
    expect(milliseconds('t', 1.5)).toBe(1.5);
    expect(optionErrorOf(() => milliseconds('t', 1.5, { integer: true })).message).toContain('whole number of milliseconds > 0, at most 2147483647, got 1.5');
  });

  it('count, flag, oneOf and optionalFunction show the bad value safely', () => {
    expect(count('n', 3)).toBe(3);
    expect(count('n', 0, { min: 0 })).toBe(0);
    expect(count('n', Number.POSITIVE_INFINITY, { infinity: true })).toBe(Number.POSITIVE_INFINITY);
    expect(optionErrorOf(() => count('n', Number.POSITIVE_INFINITY)).message).toContain('got Infinity');
    expect(optionErrorOf(() => count('n', 11, { max: 10 })).message).toBe('Invalid option: n: expected an integer >= 1, at most 10, got 11');
    expect(numberIn('s', 1.5, 0, 10)).toBe(1.5);
    expect(optionErrorOf(() => numberIn('s', Number.NaN, 0, 10)).message).toContain('from 0 to 10, got NaN');
    expect(optionErrorOf(() => count('n', 1.5)).message).toContain('got 1.5');
    expect(flag('f', undefined, true)).toBe(true);
    expect(optionErrorOf(() => flag('f', 'yes', true)).message).toContain('got "yes"');
    expect(oneOf('mode', undefined, ['a', 'b'], 'a')).toBe('a');
    expect(optionErrorOf(() => oneOf('mode', 'c', ['a', 'b'], 'a')).message).toContain(`expected one of 'a', 'b', got "c"`);
    expect(optionErrorOf(() => optionalFunction('fn', { secret: 'x' })).message).not.toContain('secret');
    const long = 'x'.repeat(500);
    expect(optionErrorOf(() => flag('f', long, true)).message.length).toBeLessThan(200);
  });

  it('withMethods names the first missing method and shows only non-objects', () => {
    const clock = { now: () => 0, setTimeout: () => 0 };
    expect(withMethods('clock', clock, ['now', 'setTimeout'])).toBe(clock);
    expect(withMethods('clock', undefined, ['now'])).toBeUndefined();
    const missing = optionErrorOf(() => withMethods('clock', { now: () => 0, secret: 'x' }, ['now', 'clearTimeout']));
    expect(missing.option).toBe('clock');
    expect(missing.message).toBe('Invalid option: clock: expected an object with a clearTimeout() method');
    expect(optionErrorOf(() => withMethods('clock', 42, ['now'])).message).toContain('got 42');
    expect(optionErrorOf(() => optionalRecord('capabilities', 'all')).message).toContain('expected an object, got "all"');
    expect(optionErrorOf(() => optionalString('instructions', 7)).message).toContain('expected a string, got 7');
  });

  it('clientInfo and serverInfo: non-empty name and version, the bad field named', () => {
    expect(implementationOption('clientInfo', undefined)).toBeUndefined();
    expect(optionErrorOf(() => implementationOption('clientInfo', 'me')).option).toBe('clientInfo');
    const empty = optionErrorOf(() => implementationOption('serverInfo', { name: 'x', version: '' }));
    expect(empty.option).toBe('serverInfo.version');
    expect(empty.message).toContain('got ""');
  });

  it('options objects and unknown keys', () => {
    expect(optionsObject('options', undefined)).toEqual({});
    expect(optionErrorOf(() => optionsObject('options', [])).message).toContain('an array');
    expect(() => assertKnownKeys({ a: 1 }, new Set(['a']))).not.toThrow();
    expect(optionErrorOf(() => assertKnownKeys({ b: 1 }, new Set(['a']))).option).toBe('b');
    expect(optionErrorOf(() => assertKnownKeys({ 'bad key\n': 1 }, new Set())).option).toBe('"bad key\\n"');
  });

  it('the default clientInfo carries the version from package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(PACKAGE_VERSION).toBe(pkg.version);
    expect(DEFAULT_CLIENT_INFO).toEqual({ name: 'mcp-upstream-registry', version: pkg.version });
  });
});
