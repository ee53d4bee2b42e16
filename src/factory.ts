import type { SessionCreateRequest } from './request.js';

/** What the registry hands a {@link SessionFactory} for one create. */
export interface FactoryContext {
  /**
   * Aborts when the create is no longer wanted: create timeout, retirement
   * (evict, config change) or `closeAll()`. Stop connecting and reject.
   */
  readonly signal: AbortSignal;
  /**
   * Report that the connection is dead (transport closed, upstream session gone).
   * The registry retires it at once. May be called during or after the create;
   * calls after retirement are ignored.
   */
  onBroken(reason: unknown): void;
}

/** What the registry hands {@link UpstreamConnection.close}. */
export interface CloseContext {
  /** Aborts when the graceful phase is over: stop being graceful and tear down at once. */
  readonly signal: AbortSignal;
  /**
   * True when another worker took the downstream session over and may already
   * have re-attached to the same upstream session: close only the local client;
   * do not end the upstream session (no HTTP DELETE) nor forget stored records.
   */
  readonly detach?: boolean;
}

/** One live upstream connection made by a {@link SessionFactory}. */
export interface UpstreamConnection<C> {
  /** The client the registry hands to callers, e.g. an SDK `Client`. */
  readonly client: C;
  /**
   * Close gracefully (e.g. DELETE the upstream session, then close the transport).
   * When `ctx.signal` aborts, stop being graceful and tear down at once. The
   * registry stops waiting `closeTimeoutMs` after that.
   */
  close(ctx: CloseContext): Promise<void>;
  /**
   * Optional: take new credential headers (`SessionCreateRequest.credentials`,
   * e.g. a refreshed bearer token) into use on the live connection, so the
   * next upstream request carries them, without reconnecting and without
   * losing the upstream session. Must not throw. A connection without it is
   * rebuilt when the credentials change.
   */
  updateCredentials?(credentials: Readonly<Record<string, string>>): void;
  /**
   * Optional: a warm spare (`RegistryOptions.spares`) was made with a spare
   * request that names no downstream session; the registry calls this once,
   * with the request of the downstream session that takes it, before its
   * first lease. Install here what depends on that session (where its
   * notifications go). Capabilities sent in `initialize` cannot change any
   * more. A throw is logged and the session is served all the same.
   */
  adopt?(request: SessionCreateRequest): void;
}

/**
 * Makes one upstream connection for a request. Pluggable: the default is
 * `mcpSessionFactory()`; tests inject `createFakeFactory()` from `/testing`.
 *
 * @example
 * ```ts
 * const factory: SessionFactory<MyClient> = async (request, ctx) => {
 *   const client = await MyClient.connect(request.url, { headers: request.headers, signal: ctx.signal });
 *   client.on('close', (reason) => ctx.onBroken(reason));
 *   return { client, close: ({ signal }) => client.close({ signal }) };
 * };
 * ```
 */
export type SessionFactory<C> = (request: SessionCreateRequest, ctx: FactoryContext) => Promise<UpstreamConnection<C>>;
