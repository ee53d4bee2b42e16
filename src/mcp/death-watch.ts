/**
 * Notices a dead upstream on an SDK HTTP transport.
 *
 * The SDK's HTTP transports never fire `onclose` when the server dies: a
 * request in flight hangs until its timeout unless `client.close()` is called.
 * They do report stream disconnects and failed fetches through `onerror`, so
 * the watch turns those into a decision: a short ping tells a GET stream that
 * the SDK reconnects on its own (alive: nothing happens) from a dead server
 * (the connection is reported broken and the client closed, which rejects the
 * calls in flight at once).
 *
 * @module
 */

import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { SseError } from '@modelcontextprotocol/sdk/client/sse.js';
import { classifyError } from '../classify.js';

type Phase = 'connecting' | 'open' | 'stopped';

// The SDK's message when the optional GET stream could not be opened.
const GET_STREAM_REFUSED = 'Failed to open SSE stream';

/**
 * An HTTP answer other than 404 (which the fetch judges: it knows whether the
 * request carried the session id), or the SDK's OAuth `UnauthorizedError`.
 */
function isHttpAnswer(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  // The SDK's UnauthorizedError keeps name 'Error': match the class, or its name from another SDK copy.
  if (error instanceof UnauthorizedError || error.constructor?.name === 'UnauthorizedError') return true;
  const { code, message } = error as { code?: unknown; message?: unknown };
  const http = typeof message === 'string' && message.startsWith('Streamable HTTP error: ');
  return http && typeof code === 'number' && code > 0 && code !== 404;
}

/** The SDK's error for a GET stream the upstream answered with 404 or 405 ("no stream here"). */
function isNoStreamAnswer(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return (code === 404 || code === 405) && typeof message === 'string' && message.includes(GET_STREAM_REFUSED);
}

/** Pings sent before a transport failure counts as death (see `#pingOnce`). */
const PING_ATTEMPTS = 2;

/** What a {@link DeathWatch} needs from its connection. */
export interface DeathWatchOptions {
  readonly transport: 'streamable-http' | 'sse';
  /** Bound of the ping that decides whether the upstream is alive, in ms. */
  readonly pingTimeoutMs: number;
  /** Sends one MCP ping, bounded by `timeoutMs`. */
  ping(timeoutMs: number): Promise<unknown>;
  /** Called once, when the upstream is found dead or its session gone. */
  onDead(reason: unknown): void;
}

/**
 * Watches one connection's transport errors.
 *
 * While connecting, the first error fails the connect (`connectError`): the
 * SDK would otherwise wait for a response that a dropped stream never brings.
 * Once open, HTTP 404 to a request that carried the upstream session (reported
 * by the fetch) and, on legacy SSE, a failure of the event stream (which is
 * the session) are fatal at once. An HTTP answer (429, 502, 503, 401, an OAuth
 * challenge; 404 or 405 to opening the optional GET stream, "no stream") proves
 * the upstream alive and is ignored. Any other transport error (a dropped
 * stream, a failed fetch, a failed stream reconnect) triggers one ping, and
 * only a ping that fails for a transport reason or times out is fatal. An
 * HTTP error status on the ping is an answer too: the upstream is alive.
 */
export class DeathWatch {
  readonly #options: DeathWatchOptions;
  #phase: Phase = 'connecting';
  #dead = false;
  #pinging = false;
  #rejectConnect!: (error: unknown) => void;

  /** Rejects with the first transport error seen while connecting; never resolves. */
  readonly connectError: Promise<never>;

  constructor(options: DeathWatchOptions) {
    this.#options = options;
    this.connectError = new Promise<never>((_resolve, reject) => {
      this.#rejectConnect = reject;
    });
    // Raced against the connect; when the connect wins, nobody awaits this one.
    this.connectError.catch(() => {});
  }

  /** True once the upstream was found dead or its session gone. */
  get dead(): boolean {
    return this.#dead;
  }

  /** True while the connection is established and watched. */
  get open(): boolean {
    return this.#phase === 'open';
  }

  /** The connect succeeded: from now on errors are judged, not fatal to the connect. */
  markOpen(): void {
    if (this.#phase === 'connecting') this.#phase = 'open';
  }

  /** The connection is being closed on purpose: ignore everything from now on. */
  stop(): void {
    this.#phase = 'stopped';
  }

  /** Hook for `transport.onerror`. */
  onTransportError(error: unknown): void {
    if (this.#phase === 'connecting') {
      this.#rejectConnect(error);
      return;
    }
    if (this.#phase !== 'open') return;
    // The upstream answered (an HTTP status, an auth challenge; the GET stream's 404/405 "no stream"):
    // it is alive, and a ping now would only start a second auth flow beside the SDK's.
    if (isNoStreamAnswer(error) || isHttpAnswer(error)) return;
    // No death on a 404 here: it may be the optional GET stream's "no stream",
    // or a request that carried no session id. The fetch reports the 404s
    // that prove loss (onSessionGone); for the rest, a ping decides.
    // Legacy SSE binds the session to the event stream: once it breaks, the
    // server has dropped the session, and the SDK's EventSource would reconnect
    // into a fresh, uninitialized one and carry on without the state.
    if (this.#options.transport === 'sse' && error instanceof SseError) {
      this.#die(error);
      return;
    }
    this.#probe(error);
  }

  /** The fetch saw HTTP 404 on an established session. */
  onSessionGone(error: Error): void {
    if (this.#phase === 'connecting') {
      this.#rejectConnect(error);
      return;
    }
    if (this.#phase === 'open') this.#die(error);
  }

  /**
   * The client closed without us asking (e.g. by the caller, or the transport
   * closed itself). While connecting it is ignored: the SDK closes the client
   * itself when `initialize` fails, and the connect then rejects with the real cause.
   */
  onClosed(reason: unknown): void {
    if (this.#phase === 'open') this.#die(reason);
  }

  #probe(cause: unknown): void {
    if (this.#pinging) return;
    this.#pinging = true;
    this.#pingOnce(cause, PING_ATTEMPTS).finally(() => {
      this.#pinging = false;
    });
  }

  async #pingOnce(cause: unknown, attemptsLeft: number): Promise<void> {
    try {
      await this.#options.ping(this.#options.pingTimeoutMs);
    } catch (error) {
      if (this.#phase !== 'open' || this.#dead) return;
      const kind = classifyError(error);
      // The server answered (even with an error): it is alive.
      if (kind !== 'transport' && kind !== 'timeout') return;
      // A pooled keep-alive socket that the peer closed fails the first
      // request on it although the upstream is fine; a second ping goes out on
      // a fresh connection. A timeout is not retried: it already took its time.
      if (kind === 'transport' && attemptsLeft > 1) return this.#pingOnce(cause, attemptsLeft - 1);
      this.#die(kind === 'timeout' ? cause : error);
    }
  }

  #die(reason: unknown): void {
    if (this.#dead || this.#phase !== 'open') return;
    this.#dead = true;
    this.#options.onDead(reason);
  }
}
