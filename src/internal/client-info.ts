import type { Implementation } from '@modelcontextprotocol/sdk/types.js';

/** This package's version, as in package.json (test/internal/validate.test.ts keeps them equal). */
export const PACKAGE_VERSION = '0.1.0';

/** The `clientInfo` every factory sends in `initialize` unless told otherwise. */
export const DEFAULT_CLIENT_INFO: Implementation = Object.freeze({ name: 'mcp-upstream-registry', version: PACKAGE_VERSION });
