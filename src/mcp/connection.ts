/**
 * One upstream connection of the default factory: an SDK `Client` on an HTTP
 * transport, its death watch, its session-store record, and its bounded close.
 *
 * @module
 */

import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { isSessionGone, markLocalTransportError } from '../classify.js';
import type { CloseContext, FactoryContext, UpstreamConnection } from '../factory.js';
import type { SessionCreateRequest } from '../request.js';
import { raceSignal } from '../internal/abort.js';
import { isSpareRequest } from '../internal/spare-id.js';
import { createClient, markSessionlessNotFound } from './client.js';
import { DeathWatch } from './death-watch.js';
import type { ResolvedMcpOptions } from './options.js';
import type { UpstreamSessionRecord, UpstreamSessionStore } from './session-store.js';
import { createTransport, type HttpClientTransport } from './transport.js';

const noop = (): void => {};

function authProviderFor(options: ResolvedMcpOptions, request: SessionCreateRequest): { authProvider?: OAuthClientProvider } {
  const provider = options.authProvider?.(request);
  return provider === undefined ? {} : { authProvider: provider };
}

/**
 * An upstream connection in the making and, once {@link McpConnection.open}
 * resolved, in use. Call {@link McpConnection.discard} when `open` failed.
 */
export class McpConnection implements UpstreamConnection<Client> {
  readonly client: Client;
  /** The request it serves: a warm spare's own, then the adopting session's. */
  #request: SessionCreateRequest;
  readonly #options: ResolvedMcpOptions;
  readonly #store: UpstreamSessionStore | undefined;
  readonly #record: UpstreamSessionRecord | undefined;
  readonly #transport: HttpClientTransport;
  readonly #watch: DeathWatch;
  #credentials: Readonly<Record<string, string>>;
  #initialized = false;
  #stored = false;
  /** The adopting session's record being stored (a spare stores none under its own id). */
  #storing: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  /**
   * @param store - where the upstream session id is kept; only given for Streamable HTTP.
   * @param record - an upstream session to re-attach to (fingerprint already checked).
   */
  constructor(
    options: ResolvedMcpOptions,
    request: SessionCreateRequest,
    ctx: FactoryContext,
    store: UpstreamSessionStore | undefined,
    record: UpstreamSessionRecord | undefined,
  ) {
    this.#options = options;
    this.#request = request;
    this.#store = store;
    this.#record = record;
    this.#credentials = request.credentials;
    const client = createClient(options, record !== undefined);
    this.client = client;
    this.#watch = new DeathWatch({
      transport: request.transport === 'sse' ? 'sse' : 'streamable-http',
      pingTimeoutMs: options.deathPingTimeoutMs,
      ping: (timeout) => client.ping({ timeout }),
      onDead: (reason) => {
        // Report first, so the registry has retired the connection by the time
        // the calls in flight reject with ConnectionClosed.
        ctx.onBroken(reason);
        // One task later: a request that itself got the fatal answer (e.g. its
        // HTTP 404) rejects with that answer, not with ConnectionClosed.
        setTimeout(() => client.close().catch(noop), 0);
      },
    });
    const watch = this.#watch;
    this.#transport = createTransport(request, {
      fetch: options.fetch,
      observer: { onSessionGone: (error) => watch.onSessionGone(error) },
      armed: () => watch.open,
      credentials: () => this.#credentials,
      ...authProviderFor(options, request),
      ...(record === undefined ? {} : { sessionId: record.sessionId }),
    });
    if (record?.protocolVersion !== undefined) this.#transport.setProtocolVersion(record.protocolVersion);
    // Legacy SSE always addresses its session (the id is in the endpoint URL).
    const transport = this.#transport;
    if (transport instanceof StreamableHTTPClientTransport) markSessionlessNotFound(client, () => transport.sessionId !== undefined);
    // Set before connect: the SDK's Protocol chains its own handler after this one.
    this.#transport.onerror = (error) => watch.onTransportError(error);
  }

  /**
   * Connects: re-attaches to the stored upstream session, or initializes a new
   * one and stores it. Rejects with the cause; `signal` aborts it with its reason.
   */
  async open(signal: AbortSignal): Promise<void> {
    await raceSignal(this.#configure(), signal);
    const opened = this.#record === undefined ? this.#initialize(signal) : this.#reattach(signal);
    await raceSignal(opened, signal);
    this.#watch.markOpen();
    if (this.#record !== undefined) this.#openStandaloneStream();
  }

  /** The next upstream request (and every one after it) carries `credentials`; the session and client stay. */
  updateCredentials(credentials: Readonly<Record<string, string>>): void {
    this.#credentials = credentials;
  }

  /** A warm spare now serves the downstream session of `request`: the factory's `adoptClient` sees it. */
  adopt(request: SessionCreateRequest): void {
    this.#storeFor(request);
    this.#options.adoptClient?.(this.client, request);
  }

  /**
   * Records the spare's upstream session under the session that took it, so
   * that another worker re-attaches to it; a failed write only costs that.
   */
  #storeFor(request: SessionCreateRequest): void {
    const sessionId = this.#streamable()?.sessionId;
    if (this.#store === undefined || sessionId === undefined || this.#stored || !isSpareRequest(this.#request)) return;
    this.#request = request;
    this.#storing = this.#store.set(request.downstreamSessionId, request.gatewayId, this.#recordOf(sessionId)).then(() => {
      this.#stored = true;
    }, noop);
  }

  #recordOf(sessionId: string): UpstreamSessionRecord {
    const protocolVersion = this.#streamable()?.protocolVersion;
    return { sessionId, fingerprint: this.#request.fingerprint, ...(protocolVersion === undefined ? {} : { protocolVersion }) };
  }

  /** Undoes a failed {@link McpConnection.open}: ends the upstream session if one was made, closes the client. */
  async discard(signal: AbortSignal): Promise<void> {
    this.#watch.stop();
    if (this.#initialized && !this.#stored) await this.#terminate(signal);
    await this.client.close().catch(noop);
  }

  /**
   * Graceful: DELETE the upstream session (Streamable HTTP), then close the
   * client. When `signal` aborts, the client is closed at once, which also
   * aborts a DELETE in flight. Idempotent; never rejects for an already closed client.
   */
  close(ctx: CloseContext): Promise<void> {
    this.#closing ??= ctx.detach === true ? this.#detach() : this.#close(ctx.signal);
    return this.#closing;
  }

  /** Another worker owns the upstream session now: close only the local client, keep the session and its record. */
  async #detach(): Promise<void> {
    this.#watch.stop();
    this.#stored = false;
    await this.client.close().catch(noop);
  }

  async #configure(): Promise<void> {
    const configure = this.#options.configureClient;
    if (configure !== undefined) await configure(this.client, this.#request);
    // After the hook, so a handler the hook installed is chained, not replaced.
    const previous = this.client.onclose;
    this.client.onclose = () => {
      previous?.();
      this.#watch.onClosed(markLocalTransportError(new McpError(ErrorCode.ConnectionClosed, 'Upstream connection closed')));
    };
  }

  async #initialize(signal: AbortSignal): Promise<void> {
    await Promise.race([this.client.connect(this.#transport, { signal }), this.#watch.connectError]);
    this.#initialized = true;
    const sessionId = this.#streamable()?.sessionId;
    // A spare's record is written when a session adopts it (see `adopt`).
    if (this.#store === undefined || sessionId === undefined || isSpareRequest(this.#request)) return;
    const record = this.#recordOf(sessionId);
    await raceSignal(this.#store.set(this.#request.downstreamSessionId, this.#request.gatewayId, record), signal);
    this.#stored = true;
  }

  /** Joins a stored upstream session: no `initialize`; a ping proves the session is still there. */
  async #reattach(signal: AbortSignal): Promise<void> {
    // With a session id set, connect() only starts the transport.
    await Promise.race([this.client.connect(this.#transport), this.#watch.connectError]);
    this.#stored = true;
    try {
      await Promise.race([this.client.ping({ signal }), this.#watch.connectError]);
    } catch (error) {
      if (isSessionGone(error)) {
        this.#stored = false;
        await this.#store?.delete(this.#request.downstreamSessionId, this.#request.gatewayId);
      }
      throw error;
    }
  }

  /**
   * After `initialize` the SDK opens the standalone GET stream (server-to-client
   * messages) itself; after a re-attach it does not. `resumeStream('')` is its
   * public way to open one without a `Last-Event-ID`. Failures are reported
   * through `onerror` to the watch, which judges them like any stream error.
   */
  #openStandaloneStream(): void {
    this.#streamable()
      ?.resumeStream('')
      .catch(noop);
  }

  async #close(signal: AbortSignal): Promise<void> {
    const dead = this.#watch.dead;
    this.#watch.stop();
    if (!dead) await this.#terminate(signal);
    await this.client.close().catch(noop);
    await this.#forget(signal);
  }

  /** HTTP DELETE of the upstream session, cut short by `signal`; failures are ignored (the close goes on). */
  async #terminate(signal: AbortSignal): Promise<void> {
    const transport = this.#streamable();
    if (transport?.sessionId === undefined || signal.aborted) return;
    await raceSignal(transport.terminateSession(), signal).catch(noop);
  }

  /** Drops the session-store record: this upstream session will never be re-attached. */
  async #forget(signal: AbortSignal): Promise<void> {
    // An adoption's write still under way: delete what it wrote, not before it.
    if (this.#storing !== undefined) await raceSignal(this.#storing, signal).catch(noop);
    if (!this.#stored || this.#store === undefined) return;
    this.#stored = false;
    const deleting = this.#store.delete(this.#request.downstreamSessionId, this.#request.gatewayId);
    try {
      await raceSignal(deleting, signal);
    } catch (error) {
      // A store that is cut off by the forced phase is not worth an error on close.
      if (!signal.aborted) throw error;
    }
  }

  #streamable(): StreamableHTTPClientTransport | undefined {
    return this.#transport instanceof StreamableHTTPClientTransport ? this.#transport : undefined;
  }
}
