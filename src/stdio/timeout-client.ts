/**
 * An SDK `Client` whose requests default to a configured timeout.
 *
 * @module
 */

import { Client, type ClientOptions } from '@modelcontextprotocol/sdk/client/index.js';
import type { AnySchema, SchemaOutput } from '@modelcontextprotocol/sdk/server/zod-compat.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ClientRequest, Implementation } from '@modelcontextprotocol/sdk/types.js';

/**
 * A `Client` that applies `defaultTimeoutMs` to every request without its own
 * `timeout`. The SDK has no such option: its default (60 s) is fixed per call.
 * Every typed helper (`callTool`, `listTools`, `ping`, ...) goes through
 * `request`, so overriding it covers them all.
 */
export class DefaultTimeoutClient extends Client {
  readonly #defaultTimeoutMs: number;

  constructor(info: Implementation, options: ClientOptions, defaultTimeoutMs: number) {
    super(info, options);
    this.#defaultTimeoutMs = defaultTimeoutMs;
  }

  override request<T extends AnySchema>(
    request: ClientRequest,
    resultSchema: T,
    options?: RequestOptions,
  ): Promise<SchemaOutput<T>> {
    const withDefault = options?.timeout === undefined ? { ...options, timeout: this.#defaultTimeoutMs } : options;
    return super.request(request, resultSchema, withDefault);
  }
}
