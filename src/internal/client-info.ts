import type { Implementation } from '@modelcontextprotocol/sdk/types.js';
import { InvalidOptionsError } from '../errors.js';
import { showValue } from '../show-value.js';
import { isRecord } from './validate.js';

/** This package's version, as in package.json (test/internal/validate.test.ts keeps them equal). */
export const PACKAGE_VERSION = '0.1.0';

/** The `clientInfo` every factory sends in `initialize` unless told otherwise. */
export const DEFAULT_CLIENT_INFO: Implementation = Object.freeze({ name: 'mcp-upstream-registry', version: PACKAGE_VERSION });

/**
 * A `clientInfo`/`serverInfo` option: `{ name, version }` with both non-empty
 * strings (the peer shows them), or `undefined`.
 */
export function implementationOption(option: string, value: unknown): Implementation | undefined {
  if (value === undefined) return undefined;
  if (!isRecord(value)) throw new InvalidOptionsError(option, `expected { name: string, version: string }, got ${showValue(value)}`);
  for (const field of ['name', 'version'] as const) {
    const text = value[field];
    if (typeof text !== 'string' || text.length === 0) {
      throw new InvalidOptionsError(`${option}.${field}`, `expected a non-empty string, got ${showValue(text)}`);
    }
  }
  return value as unknown as Implementation;
}
