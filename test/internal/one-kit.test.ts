import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateBridgeBehaviour } from '../../src/bridge/bridge-options.js';
import { MemoryEventStore } from '../../src/bridge/memory-event-store.js';
import { OwnerCache } from '../../src/bridge/owner-cache.js';
import { resolveMcpOptions } from '../../src/mcp/options.js';
import { resolveOptions } from '../../src/options.js';
import { resolveRedisAffinityOptions } from '../../src/redis/options.js';
import { resolveStdioOptions } from '../../src/stdio/options.js';
import { optionErrorOf } from '../fixtures/option-error.js';

const OVER = 2 ** 31;

/** One millisecond option of each options parser, set one past the timer maximum. */
const TIMER_OPTIONS: ReadonlyArray<readonly [string, () => unknown]> = [
  ['registry createTimeoutMs', () => resolveOptions({ createTimeoutMs: OVER })],
  ['registry createBackoff.maxMs', () => resolveOptions({ createBackoff: { maxMs: OVER } })],
  ['mcp requestTimeoutMs', () => resolveMcpOptions({ requestTimeoutMs: OVER })],
  ['stdio closeStepTimeoutMs', () => resolveStdioOptions({ closeStepTimeoutMs: OVER })],
  ['redis commandTimeoutMs', () => resolveRedisAffinityOptions({ redis: 'redis://127.0.0.1:1', commandTimeoutMs: OVER })],
  ['bridge clientRequestTimeoutMs', () => validateBridgeBehaviour({ clientRequestTimeoutMs: OVER })],
  ['owner cache ttlMs', () => new OwnerCache({ ttlMs: OVER })],
  ['memory event store maxAgeMs', () => new MemoryEventStore({ maxAgeMs: OVER })],
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

describe('one validation kit for every options parser', () => {
  it.each(TIMER_OPTIONS)('%s: the same timer maximum, the bad value shown', (_name, parse) => {
    const error = optionErrorOf(parse);
    expect(error.message).toContain('at most 2147483647');
    expect(error.message).toContain(`got ${OVER}`);
  });

  it.each([
    ['registry', () => resolveOptions({ tpyo: 1 })],
    ['mcp', () => resolveMcpOptions({ tpyo: 1 } as never)],
    ['stdio', () => resolveStdioOptions({ tpyo: 1 } as never)],
    ['redis', () => resolveRedisAffinityOptions({ redis: 'redis://127.0.0.1:1', tpyo: 1 })],
    ['bridge', () => validateBridgeBehaviour({ tpyo: 1 })],
    ['owner cache', () => new OwnerCache({ tpyo: 1 } as never)],
  ])('%s: an unknown key is named the same way', (_name, parse) => {
    const error = optionErrorOf(parse);
    expect(error.option).toBe('tpyo');
    expect(error.message).toBe('Invalid option: tpyo: unknown option');
  });

  it('src defines the timer maximum and renders bad values in one place each', () => {
    const src = new URL('../../src', import.meta.url).pathname;
    const offenders = sourceFiles(src)
      .filter((file) => !file.endsWith(join('internal', 'validate.ts')))
      .filter((file) => /2 \*\* 31|2_?147_?483_?647|function show\(/.test(readFileSync(file, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
