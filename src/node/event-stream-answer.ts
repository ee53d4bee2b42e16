/**
 * An upstream's event stream answer to a POST, as JSON when that says the same.
 *
 * The SDK client reads an event stream answer through a `TextDecoderStream`
 * and an SSE parser stream: four web streams, their promises and an error
 * object per answer, a tenth of a proxy's CPU per forwarded call (bench P8).
 * Most answers are one event that has come whole by the time the head is
 * read. Such an answer, when it has no event ids (nothing to resume) and only
 * one `message` event with a JSON object as data, is handed to the SDK as the
 * JSON answer the Streamable HTTP transport also allows: the same message,
 * through `response.json()`.
 *
 * @module
 */

import type { Readable } from 'node:stream';
import { bytesOf, networkError, webStream } from './web-stream.js';

/** One parsed event: its type (empty: `message`) and data lines joined with `\n`. */
interface SseEvent {
  type: string;
  data: string[];
}

/**
 * The JSON body that carries the same messages as `text`, a complete event
 * stream, or `undefined` when JSON would say less or otherwise: an event id or
 * `retry` (the client keeps those for resuming), an event type other than
 * `message`, a data payload that is not a JSON object, an unfinished last
 * event, or not exactly one event.
 */
export function jsonOfEventStream(text: string): string | undefined {
  const lines = text.split(/\r\n|\r|\n/);
  // A complete stream ends with a blank line: the split leaves an empty last element after it.
  if (lines.length < 2 || lines[lines.length - 1] !== '' || lines[lines.length - 2] !== '') return undefined;
  const payloads: string[] = [];
  let event: SseEvent | undefined;
  for (const line of lines) {
    if (line === '') {
      if (event !== undefined) {
        if ((event.type !== '' && event.type !== 'message') || event.data.length === 0) return undefined;
        payloads.push(event.data.join('\n'));
      }
      event = undefined;
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'id' || field === 'retry') return undefined;
    event ??= { type: '', data: [] };
    if (field === 'data') event.data.push(value);
    else if (field === 'event') event.type = value;
  }
  // One message only: with several (progress, then the result) the SDK's JSON path would hand them over in one
  // synchronous loop, and a proxy relaying the notifications would race its own answer; the event path spaces them.
  if (payloads.length !== 1 || !isJsonObject(payloads[0] as string)) return undefined;
  return payloads[0];
}

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

/** A line with content, then a blank line: the end of a whole event (a lone `\r\n` may match too: that only streams sooner). */
const WHOLE_EVENT = /[^\r\n](?:\r\n|\r|\n)(?:\r\n|\r|\n)/;

/** Characters of the text before a chunk that {@link WHOLE_EVENT} may need with it. */
const TAIL = 4;

/**
 * How long an event stream answer may stay open with no whole event before it
 * streams as it is. An answer to a notification (HTTP 200 where the spec asks
 * 202) may stay open and never carry an event: the SDK awaits that fetch and
 * would wait forever, where undici's resolves with the head.
 */
const FIRST_EVENT_WAIT_MS = 1_000;

/**
 * The `Response` for an event stream answering a POST. Reads the body until it
 * ends, or until a whole event has come and the stream did not end in the same
 * turn, or for at most {@link FIRST_EVENT_WAIT_MS}: then the answer streams
 * from what was read on (an event is never held back). A stream that ended
 * goes out as JSON when {@link jsonOfEventStream} allows, else as the event
 * stream it was. A body that fails before either comes as an event stream
 * that fails after what was read, as undici's (resolved with the head) does:
 * the SDK then reports a dropped stream, which its death watch judges with a
 * ping, where a rejected fetch fails the call as a lost connection and the
 * registry retires a session that may be alive. `signal` aborting rejects.
 */
export function eventStreamAnswer(body: Readable, init: ResponseInit & { headers: Headers }, signal?: AbortSignal): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const decoder = new TextDecoder();
    // The last characters read, kept on their own: scanning all text read so far, per chunk, is quadratic on a large event.
    let tail = '';
    let settled = false;
    let check: ReturnType<typeof setImmediate> | undefined;
    let wait: ReturnType<typeof setTimeout> | undefined;
    const detach = (): void => {
      settled = true;
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
      if (check !== undefined) clearImmediate(check);
      clearTimeout(wait);
    };
    const stream = (): void => {
      detach();
      resolve(new Response(webStream(body, chunks), init));
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      const added = decoder.decode(chunk, { stream: true });
      // Only the new text and the few characters before it: a large answer comes in many chunks.
      const recent = tail + added;
      const whole = check === undefined && WHOLE_EVENT.test(recent);
      tail = recent.slice(-TAIL);
      // The end of a stream that ends now is emitted on the next tick: look again after it.
      if (whole) check = setImmediate(stream);
    };
    const onEnd = (): void => {
      detach();
      const whole = Buffer.concat(chunks);
      const json = jsonOfEventStream(new TextDecoder().decode(whole));
      if (json === undefined) {
        resolve(new Response(whole, init));
        return;
      }
      const headers = new Headers(init.headers);
      headers.set('content-type', 'application/json');
      headers.delete('content-length');
      headers.delete('content-encoding');
      resolve(new Response(json, { ...init, headers }));
    };
    const onError = (error: Error): void => {
      detach();
      if (signal?.aborted === true) reject(error);
      else resolve(new Response(failingStream(chunks, error), init));
    };
    // Destroyed with neither an end nor an error: the caller must not wait forever.
    const onClose = (): void => {
      if (!settled) onError(networkError(new Error('response body closed before its end')));
    };
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
    body.once('close', onClose);
    wait = setTimeout(stream, FIRST_EVENT_WAIT_MS);
  });
}

/** The chunks read, then `error`: a body that failed before its answer was whole. */
function failingStream(held: readonly Buffer[], error: Error): ReadableStream<Uint8Array> {
  let next = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = held[next++];
      // Only once the chunks are read: erroring a stream drops what it still queues.
      if (chunk === undefined) controller.error(error);
      else controller.enqueue(bytesOf(chunk));
    },
  });
}
