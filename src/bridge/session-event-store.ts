/**
 * One session's view of a proxy-wide event store: its stream ids carry a scope
 * derived from the downstream session id, and a `Last-Event-ID` of another
 * session's stream is refused as unknown.
 *
 * @module
 */

import type { EventId, EventStore, StreamId } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * The scope of a session's streams: a SHA-256 prefix of its id (Web Crypto,
 * so it runs anywhere), never the id itself, which is a bearer credential and
 * may end up in a shared store such as Redis.
 */
async function scopeOf(downstreamSessionId: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(downstreamSessionId));
  return Array.from(new Uint8Array(digest).subarray(0, 16), (b) => HEX[b]).join('');
}

/** Wraps `store` for one downstream session: what the session's transport gets as its `eventStore`. */
export function sessionEventStore(store: EventStore, downstreamSessionId: string): EventStore {
  let scope: Promise<string> | undefined;
  const prefix = async (): Promise<string> => {
    scope ??= scopeOf(downstreamSessionId);
    return `${await scope}/`;
  };
  const own = async (streamId: StreamId | undefined): Promise<StreamId | undefined> => {
    const p = await prefix();
    return streamId?.startsWith(p) === true ? streamId.slice(p.length) : undefined;
  };
  const streamOf = async (eventId: EventId): Promise<StreamId | undefined> => {
    if (store.getStreamIdForEventId === undefined) return undefined;
    return own(await store.getStreamIdForEventId(eventId));
  };
  return {
    storeEvent: async (streamId, message) => store.storeEvent(`${await prefix()}${streamId}`, message),
    getStreamIdForEventId: streamOf,
    replayEventsAfter: async (lastEventId, options) => {
      // Checked before replaying anything: another session's events are never sent.
      if ((await streamOf(lastEventId)) === undefined) throw new Error('Unknown event id');
      const streamId = await own(await store.replayEventsAfter(lastEventId, options));
      if (streamId === undefined) throw new Error('Unknown event id');
      return streamId;
    },
  };
}
