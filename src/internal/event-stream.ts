/**
 * Whether HTTP headers announce a server-sent event stream.
 *
 * @module
 */

/** True when `headers` name an event stream (`text/event-stream`, parameters allowed). */
export function isEventStream(headers: Headers): boolean {
  return (headers.get('content-type') ?? '').toLowerCase().startsWith('text/event-stream');
}
