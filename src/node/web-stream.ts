/**
 * A Node response body as the web `ReadableStream` a `Response` carries.
 *
 * @module
 */

import type { Readable } from 'node:stream';

/** Fetch's network error: a `TypeError('fetch failed')` with the cause, which `classify` knows. */
export function networkError(cause: unknown): TypeError {
  return new TypeError('fetch failed', { cause });
}

/** A chunk read from a Node stream as the `Uint8Array` a web stream carries (a view, no copy). */
export function bytesOf(chunk: Buffer): Uint8Array {
  return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/**
 * `body` as a web stream, after the chunks already read from it (`held`),
 * pausing the socket while the reader is behind. Hand-made rather than
 * `Readable.toWeb`, whose adapter cost about twice as much per response in
 * the proxy profile.
 */
export function webStream(body: Readable, held: readonly Buffer[] = []): ReadableStream<Uint8Array> {
  let open = true;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of held) controller.enqueue(bytesOf(chunk));
      body.on('data', (chunk: Buffer) => {
        if (!open) return;
        controller.enqueue(bytesOf(chunk));
        if ((controller.desiredSize ?? 0) <= 0) body.pause();
      });
      body.once('end', () => {
        if (open) controller.close();
        open = false;
      });
      body.once('error', (error) => {
        if (open) controller.error(error);
        open = false;
      });
      // Closed with neither an end nor an error (destroyed): the reader must not wait forever.
      body.once('close', () => {
        if (open) controller.error(networkError(new Error('response body closed before its end')));
        open = false;
      });
      if ((controller.desiredSize ?? 0) <= 0) body.pause();
    },
    pull() {
      body.resume();
    },
    cancel() {
      open = false;
      body.destroy();
    },
  });
}
