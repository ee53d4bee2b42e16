/**
 * {@link MemoryEventStore}: the SSE events a proxy sent, kept in memory for a
 * while so that a client whose stream dropped can resume with `Last-Event-ID`.
 *
 * @module
 */

import type { EventId, EventStore, StreamId } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { type Clock, systemClock } from '../clock.js';
import { assertKnownKeys, count, milliseconds, optionsObject, withMethods } from '../internal/validate.js';

/** Options of {@link MemoryEventStore}. Unknown keys are rejected. */
export interface MemoryEventStoreOptions {
  /** Most events kept, over all streams; the oldest go first. Default 10 000. */
  maxEvents?: number;
  /** Most bytes of event data (JSON, UTF-8) kept, over all streams. Default 16 MiB. */
  maxBytes?: number;
  /** How long an event can be replayed after it was sent. Default 300 000 ms (5 minutes). */
  maxAgeMs?: number;
  /** Time source. Default: the system clock. */
  clock?: Clock;
}

interface StoredEvent {
  readonly streamId: StreamId;
  readonly message: JSONRPCMessage;
  readonly bytes: number;
  readonly at: number;
}

const KEYS: ReadonlySet<string> = new Set(['maxEvents', 'maxBytes', 'maxAgeMs', 'clock']);
const encoder = new TextEncoder();

/** True for what the SDK stores as a stream's priming event (`{}`): nothing a client should receive again. */
export function isPrimingEvent(message: JSONRPCMessage): boolean {
  return !('jsonrpc' in message);
}

/**
 * An SDK `EventStore` in memory, bounded in event count, bytes and age.
 * Give it to `DownstreamSessions({ eventStore })`: every SSE event the proxy
 * sends then carries an `id:`, and a client that reconnects with
 * `Last-Event-ID` gets the events of that stream it missed, once each.
 * Events of one process only: for resuming on another worker use the Redis
 * store of `mcp-upstream-registry/redis`.
 *
 * @example
 * ```ts
 * const sessions = new DownstreamSessions({ hub, registry, gateways, createTransport, eventStore: new MemoryEventStore() });
 * ```
 */
export class MemoryEventStore implements EventStore {
  /** Every event, oldest first (insertion order). */
  readonly #events = new Map<EventId, StoredEvent>();
  /** Per stream, its event ids oldest first. */
  readonly #streams = new Map<StreamId, EventId[]>();
  readonly #maxEvents: number;
  readonly #maxBytes: number;
  readonly #maxAgeMs: number;
  readonly #clock: Clock;
  #bytes = 0;
  #sequence = 0;

  /** @throws {InvalidOptionsError} on an unknown or malformed option. */
  constructor(options: MemoryEventStoreOptions = {}) {
    const o: MemoryEventStoreOptions = optionsObject('options', options);
    assertKnownKeys(o, KEYS);
    this.#clock = withMethods<Clock>('clock', o.clock, ['now']) ?? systemClock;
    this.#maxEvents = count('maxEvents', o.maxEvents) ?? 10_000;
    this.#maxBytes = count('maxBytes', o.maxBytes) ?? 16 * 1024 * 1024;
    this.#maxAgeMs = milliseconds('maxAgeMs', o.maxAgeMs, { integer: true }) ?? 300_000;
  }

  /** Events kept now. */
  get size(): number {
    return this.#events.size;
  }

  /** Bytes of event data kept now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Keeps one event and returns its id; may push out the oldest events. */
  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    const eventId = String(++this.#sequence);
    const bytes = encoder.encode(JSON.stringify(message)).byteLength;
    this.#events.set(eventId, { streamId, message, bytes, at: this.#clock.now() });
    this.#bytes += bytes;
    const ids = this.#streams.get(streamId);
    if (ids === undefined) this.#streams.set(streamId, [eventId]);
    else ids.push(eventId);
    this.#prune();
    return eventId;
  }

  /** The stream of a kept event, or `undefined` (unknown or pushed out: the SDK answers 400). */
  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    this.#prune();
    return this.#events.get(eventId)?.streamId;
  }

  /** Sends the events of `lastEventId`'s stream that came after it, oldest first. */
  async replayEventsAfter(
    lastEventId: EventId,
    { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> },
  ): Promise<StreamId> {
    this.#prune();
    const last = this.#events.get(lastEventId);
    if (last === undefined) throw new Error('Unknown or expired event id');
    const ids = this.#streams.get(last.streamId) ?? [];
    // Copy: sending awaits, and new events of the stream may arrive meanwhile (the SDK sends those live).
    for (const eventId of ids.slice(ids.indexOf(lastEventId) + 1)) {
      const event = this.#events.get(eventId);
      if (event !== undefined && !isPrimingEvent(event.message)) await send(eventId, event.message);
    }
    return last.streamId;
  }

  #prune(): void {
    const oldestAllowed = this.#clock.now() - this.#maxAgeMs;
    for (const [eventId, event] of this.#events) {
      const over = this.#events.size > this.#maxEvents || this.#bytes > this.#maxBytes || event.at <= oldestAllowed;
      if (!over) return;
      this.#drop(eventId, event);
    }
  }

  #drop(eventId: EventId, event: StoredEvent): void {
    this.#events.delete(eventId);
    this.#bytes -= event.bytes;
    const ids = this.#streams.get(event.streamId);
    // Streams lose events oldest first too, so this is the head of its list.
    ids?.shift();
    if (ids !== undefined && ids.length === 0) this.#streams.delete(event.streamId);
  }
}
