/**
 * The SDK `Client` both session factories hand out: its requests default to a
 * configured timeout.
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
 * `request`, so overriding it covers them all. `initialize` is left alone: the
 * factory's connect deadline (`connectTimeoutMs`) bounds it, not the per-call
 * default. With `defaultTimeoutMs` undefined it behaves as a plain `Client`.
 */
export class DefaultTimeoutClient extends Client {
  readonly #defaultTimeoutMs: number | undefined;

  constructor(info: Implementation, options: ClientOptions, defaultTimeoutMs: number | undefined) {
    super(info, options);
    this.#defaultTimeoutMs = defaultTimeoutMs;
  }

  override request<T extends AnySchema>(
    request: ClientRequest,
    resultSchema: T,
    options?: RequestOptions,
  ): Promise<SchemaOutput<T>> {
    const keep = this.#defaultTimeoutMs === undefined || options?.timeout !== undefined || request.method === 'initialize';
    return super.request(request, resultSchema, keep ? options : { ...options, timeout: this.#defaultTimeoutMs });
  }
}
