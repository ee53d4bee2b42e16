/**
 * Partial lists: when one gateway of several fails a list request, the others'
 * items are returned with a `_meta` note, and the failed gateway is retried in
 * the background until it answers; then the downstream client gets the
 * `list_changed` notification that makes it list again.
 *
 * @module
 */

import { ResultSchema, type ServerNotification } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../logger.js';
import type { SessionCreateRequest } from '../request.js';
import type { BridgeRegistry } from './bridge-options.js';
import { describeError } from './http-errors.js';

/**
 * The `_meta` key of a list result that lacks some gateways' items; its value
 * is `{ missingGateways: string[] }`. Clients that do not know it see a shorter
 * list; clients that do can tell the user, and list again on `list_changed`.
 */
export const PARTIAL_LIST_META_KEY = 'mcp-upstream-registry/partial';

/** A list method a bridge aggregates. */
export type ListMethod = 'tools/list' | 'prompts/list' | 'resources/list' | 'resources/templates/list';

const LIST_CHANGED: Record<ListMethod, ServerNotification['method']> = {
  'tools/list': 'notifications/tools/list_changed',
  'prompts/list': 'notifications/prompts/list_changed',
  'resources/list': 'notifications/resources/list_changed',
  'resources/templates/list': 'notifications/resources/list_changed',
};

/** First retry after this; doubles up to {@link MAX_RETRY_MS}. */
export const DEFAULT_PARTIAL_LIST_RETRY_MS = 5_000;
const MAX_RETRY_MS = 60_000;

/** What the retries need from the bridge. */
export interface PartialListHost {
  readonly registry: BridgeRegistry;
  readonly requests: ReadonlyMap<string, SessionCreateRequest>;
  readonly logger: Logger;
  readonly downstreamSessionId: string;
  readonly retryMs: number;
  notify(notification: ServerNotification): Promise<void>;
}

interface Pending {
  readonly methods: Set<ListMethod>;
  timer: ReturnType<typeof setTimeout> | undefined;
  delayMs: number;
}

/** Per bridge: which gateways are missing from which lists, and their retries. */
export class PartialLists {
  readonly #host: PartialListHost;
  readonly #pending = new Map<string, Pending>();
  #closed = false;

  constructor(host: PartialListHost) {
    this.#host = host;
  }

  /** `gatewayId` failed `method`: logs it and retries until it answers. */
  failed(gatewayId: string, method: ListMethod, error: unknown): void {
    const { logger, downstreamSessionId } = this.#host;
    logger.warn({ downstreamSessionId, gatewayId, method, error: describeError(error) }, 'bridge: a gateway failed a list; returned the others');
    if (this.#closed) return;
    const pending = this.#pending.get(gatewayId) ?? { methods: new Set(), timer: undefined, delayMs: this.#host.retryMs };
    this.#pending.set(gatewayId, pending);
    pending.methods.add(method);
    this.#schedule(gatewayId, pending);
  }

  /** `gatewayId` answered `method`: the client has its items now. */
  answered(gatewayId: string, method: ListMethod): void {
    const pending = this.#pending.get(gatewayId);
    if (pending === undefined) return;
    pending.methods.delete(method);
    if (pending.methods.size === 0) this.#forget(gatewayId, pending);
  }

  /** Stops every retry. */
  close(): void {
    this.#closed = true;
    for (const [gatewayId, pending] of this.#pending) this.#forget(gatewayId, pending);
  }

  #forget(gatewayId: string, pending: Pending): void {
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    this.#pending.delete(gatewayId);
  }

  #schedule(gatewayId: string, pending: Pending): void {
    if (pending.timer !== undefined) return;
    pending.timer = setTimeout(() => {
      pending.timer = undefined;
      void this.#retry(gatewayId, pending);
    }, pending.delayMs);
    // A retry alone must not keep the process alive.
    (pending.timer as { unref?: () => void }).unref?.();
  }

  async #retry(gatewayId: string, pending: Pending): Promise<void> {
    const request = this.#host.requests.get(gatewayId);
    if (request === undefined || this.#pending.get(gatewayId) !== pending) return;
    const methods = [...pending.methods];
    try {
      await this.#host.registry.use(request, (client) =>
        Promise.all(methods.map((method) => client.request({ method, params: {} }, ResultSchema))),
      );
    } catch {
      if (this.#closed || this.#pending.get(gatewayId) !== pending) return;
      pending.delayMs = Math.min(pending.delayMs * 2, MAX_RETRY_MS);
      this.#schedule(gatewayId, pending);
      return;
    }
    if (this.#pending.get(gatewayId) !== pending) return;
    this.#forget(gatewayId, pending);
    for (const method of new Set(methods.map((m) => LIST_CHANGED[m]))) {
      this.#host.notify({ method } as ServerNotification).catch((error: unknown) => {
        this.#host.logger.debug({ downstreamSessionId: this.#host.downstreamSessionId, gatewayId, error: describeError(error) }, 'bridge: list_changed not delivered');
      });
    }
  }
}
