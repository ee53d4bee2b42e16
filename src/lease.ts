import type { SessionInfo } from './session.js';

/**
 * A caller's hold on one upstream session. Release it exactly once when the
 * call is done (extra calls are ignored); pass the error when the call failed
 * so that a transport error retires the connection.
 *
 * @example
 * ```ts
 * await using lease = await registry.acquire(request);
 * await lease.client.callTool({ name: 'increment' });
 * ```
 */
export interface SessionLease<C> {
  readonly client: C;
  readonly info: SessionInfo;
  /** Ends the lease. An error that `classifyError` calls 'transport' retires the connection. */
  release(error?: unknown): void;
  /** Same as `release()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Where a lease reports its end. */
export interface LeaseOwner {
  endLease(binding: unknown, error: unknown): void;
}

/** @internal */
export class Lease<C> implements SessionLease<C> {
  readonly client: C;
  readonly info: SessionInfo;
  #owner: LeaseOwner | undefined;
  readonly #binding: unknown;

  constructor(owner: LeaseOwner, binding: unknown, client: C, info: SessionInfo) {
    this.#owner = owner;
    this.#binding = binding;
    this.client = client;
    this.info = info;
  }

  release(error?: unknown): void {
    const owner = this.#owner;
    if (owner === undefined) return;
    this.#owner = undefined;
    owner.endLease(this.#binding, error);
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.release();
    return Promise.resolve();
  }
}
