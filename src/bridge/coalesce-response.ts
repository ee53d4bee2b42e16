/**
 * Fewer writes for an SSE answer to a downstream POST.
 *
 * The SDK's server transport answers a POST with an event stream: the headers,
 * then (with an event store) an empty priming event that only carries an event
 * id, then the response event, then the end. Written as they come, that is
 * three or four socket writes per forwarded call, each a syscall plus loopback
 * TCP work (docs/performance.md). Here the priming event waits, with the
 * headers, for what follows it; a stream that then ends at once goes out
 * whole, in one write with a known length.
 *
 * @module
 */

import { InvalidOptionsError } from '../errors.js';
import { isEventStream } from '../internal/event-stream.js';
import { MAX_TIMER_MS, assertKnownKeys, optionsObject } from '../internal/validate.js';
import { showValue } from '../show-value.js';

/** Options of {@link coalesceResponse}. */
export interface CoalesceResponseOptions {
  /**
   * How long the headers and a priming event may wait for the next event
   * before they go out alone, in ms (default 1000). Only the priming event
   * (an event id and empty data) ever waits; an event with data goes out at
   * once. `0` turns coalescing off (the response is returned as it is).
   */
  readonly primingHoldMs?: number;
}

const DEFAULT_PRIMING_HOLD_MS = 1_000;

const KNOWN_KEYS: ReadonlySet<string> = new Set(['primingHoldMs']);

/** The SDK's priming event: `id: <id>\n`, optionally `retry: <ms>\n`, then `data: \n\n`. */
const PRIMING_EVENT = /^id: [^\n]*\n(?:retry: \d+\n)?data: \n\n$/;

const EXPIRED = Symbol('expired');

type Read = ReadableStreamReadResult<Uint8Array>;

function holdMs(options: CoalesceResponseOptions | undefined): number {
  const o: CoalesceResponseOptions = optionsObject('options', options);
  assertKnownKeys(o, KNOWN_KEYS);
  const value = o.primingHoldMs;
  if (value === undefined) return DEFAULT_PRIMING_HOLD_MS;
  if (typeof value === 'number' && value >= 0 && value <= MAX_TIMER_MS) return value;
  throw new InvalidOptionsError('primingHoldMs', `expected a number of milliseconds >= 0, at most ${MAX_TIMER_MS}, got ${showValue(value)}`);
}


const decoder = new TextDecoder();

function isPriming(chunk: Uint8Array): boolean {
  // A priming event is a few dozen bytes; anything larger has data.
  return chunk.byteLength < 256 && PRIMING_EVENT.test(decoder.decode(chunk));
}

/** The next read if it is already there (the stream wrote it in the same turn), else `undefined`. */
function readNow(read: Promise<Read>): Promise<Read | undefined> {
  return Promise.race([read, Promise.resolve().then(() => undefined)]);
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** A stream of `held`, then the rest of `reader` from `next` on. */
function continued(held: readonly Uint8Array[], next: Promise<Read>, reader: ReadableStreamDefaultReader<Uint8Array>): ReadableStream<Uint8Array> {
  let pending = next;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of held) controller.enqueue(chunk);
    },
    async pull(controller) {
      const result = await pending;
      if (result.done) {
        controller.close();
        return;
      }
      controller.enqueue(result.value);
      pending = reader.read();
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/** The answer with its whole body, whose length is known now. */
function whole(response: Response, body: Uint8Array): Response {
  const headers = new Headers(response.headers);
  headers.set('content-length', String(body.byteLength));
  return new Response(body as Uint8Array<ArrayBuffer>, { status: response.status, statusText: response.statusText, headers });
}

/**
 * Waits for the stream's next read: at once if it is there, else until it
 * comes, or (while only priming events are held) until `deadline` fires.
 */
async function nextRead(pending: Promise<Read>, holding: boolean, deadline: Promise<typeof EXPIRED>): Promise<Read | typeof EXPIRED> {
  const now = await readNow(pending);
  if (now !== undefined) return now;
  return holding ? Promise.race([pending, deadline]) : EXPIRED;
}

/**
 * The downstream answer to a POST, with its first writes merged: pass it the
 * `Response` the SDK's `WebStandardStreamableHTTPServerTransport` returned
 * for a POST, and return what it gives you. A response that is not an event
 * stream is returned as it is. For an event stream, the headers and a
 * leading priming event wait (at most `primingHoldMs`) for the next event;
 * if the stream ends right after it, the whole answer is one body of known
 * length (one socket write on Node), else the held part goes out and the
 * rest streams as it comes. Events with data are never held.
 *
 * Not for GET: a standalone stream never ends, and its headers would wait.
 * Trade-off: during the hold, the client has no event id to resume with if
 * the connection drops.
 *
 * @throws InvalidOptionsError for a malformed option.
 *
 * @example
 * ```ts
 * const outcome = await sessions.dispatch(incoming, (t) => t.handleRequest(request, { parsedBody }));
 * if (outcome.kind === 'handled') {
 *   return request.method === 'POST' ? coalesceResponse(outcome.value) : outcome.value;
 * }
 * ```
 */
export async function coalesceResponse(response: Response, options?: CoalesceResponseOptions): Promise<Response> {
  const hold = holdMs(options);
  if (hold === 0 || response.body === null || !isEventStream(response.headers)) return response;
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const held: Uint8Array[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<typeof EXPIRED>((resolve) => {
    timer = setTimeout(resolve, hold, EXPIRED);
  });
  let pending = reader.read();
  try {
    for (;;) {
      const holding = held.length > 0 && held.every(isPriming);
      const result = held.length === 0 ? await Promise.race([pending, deadline]) : await nextRead(pending, holding, deadline);
      if (result === EXPIRED) break;
      if (result.done) return whole(response, concat(held));
      held.push(result.value);
      pending = reader.read();
    }
  } catch (error) {
    // The stream failed before anything went out: the caller's framework answers the error.
    reader.releaseLock();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return new Response(continued(held, pending, reader), { status: response.status, statusText: response.statusText, headers: response.headers });
}
