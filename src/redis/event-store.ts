/**
 * {@link RedisEventStore}: the SSE events of resumable streams in Redis, so a
 * client whose stream dropped can resume with `Last-Event-ID` on any worker,
 * also after the worker that sent them died.
 *
 * @module
 */

import { createHash } from 'node:crypto';
import type { EventId, EventStore, StreamId } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { InvalidOptionsError } from '../errors.js';
import { assertKnownKeys, count, isRecord, milliseconds } from '../internal/validate.js';
import { showValue } from '../show-value.js';
import { RedisAffinity, type RedisAffinityInternals, redisAffinityInternals, runOnAffinity } from './affinity.js';
import { runScript, STORE_EVENT } from './scripts.js';

/** Options of {@link RedisEventStore}. Unknown keys are rejected. */
export interface RedisEventStoreOptions {
  /** The affinity whose client and key prefix the store shares. */
  affinity: RedisAffinity;
  /** Events kept per stream; older ones are dropped. Default 1 000. */
  maxEventsPerStream?: number;
  /** A stream's events expire this long after its last event. Default 300 000 ms (5 minutes). */
  maxAgeMs?: number;
  /** Largest event kept, in bytes of JSON; a larger one is sent but cannot be replayed. Default 1 MiB. */
  maxEventBytes?: number;
}

const KEYS: ReadonlySet<string> = new Set(['affinity', 'maxEventsPerStream', 'maxAgeMs', 'maxEventBytes']);
const EVENT_ID = /^([0-9a-f]{32})\.(\d{1,15})$/;

/** The stream's token in key names and event ids: its id hashed (stream ids carry a session scope). */
function tokenOf(streamId: StreamId): string {
  return createHash('sha256').update(streamId, 'utf8').digest('hex').slice(0, 32);
}

function parseEventId(eventId: EventId): { token: string; seq: number } | undefined {
  const match = EVENT_ID.exec(eventId);
  return match === null ? undefined : { token: match[1] as string, seq: Number(match[2]) };
}

/**
 * An SDK `EventStore` in Redis, next to the keys of a {@link RedisAffinity}.
 * One hash per stream (its id hashed in the key name, so one slot on Redis
 * Cluster), bounded per stream in count and age, and per event in size. Event
 * ids are `<stream token>.<sequence>`. Every call is bounded by the
 * affinity's `commandTimeoutMs`.
 *
 * @example
 * ```ts
 * const sessions = new DownstreamSessions({ ..., eventStore: new RedisEventStore({ affinity }) });
 * ```
 */
export class RedisEventStore implements EventStore {
  readonly #internals: RedisAffinityInternals;
  readonly #maxEvents: number;
  readonly #maxAgeMs: number;
  readonly #maxEventBytes: number;

  /** @throws {InvalidOptionsError} on an unknown or malformed option. */
  constructor(options: RedisEventStoreOptions) {
    if (!isRecord(options)) throw new InvalidOptionsError('options', `expected an object with an affinity, got ${showValue(options)}`);
    assertKnownKeys(options, KEYS);
    if (!(options.affinity instanceof RedisAffinity)) throw new InvalidOptionsError('affinity', 'expected a RedisAffinity');
    this.#internals = redisAffinityInternals(options.affinity);
    this.#maxEvents = count('maxEventsPerStream', options.maxEventsPerStream) ?? 1_000;
    this.#maxAgeMs = milliseconds('maxAgeMs', options.maxAgeMs, { integer: true }) ?? 300_000;
    this.#maxEventBytes = count('maxEventBytes', options.maxEventBytes) ?? 1024 * 1024;
  }

  /** Appends the event to its stream and returns its id. */
  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    const token = tokenOf(streamId);
    let json = JSON.stringify(message);
    // Too large to keep: the id still orders the stream, the replay skips it.
    if (Buffer.byteLength(json, 'utf8') > this.#maxEventBytes) json = '{}';
    const seq = await this.#run('storing an SSE event', (client) =>
      runScript(client, STORE_EVENT, [this.#internals.keys.events(token)], [streamId, json, this.#maxEvents, this.#maxAgeMs]),
    );
    return `${token}.${Number(seq)}`;
  }

  /** The stream of a kept event, or `undefined` (unknown, dropped or expired: the SDK answers 400). */
  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    const parsed = parseEventId(eventId);
    if (parsed === undefined) return undefined;
    const [stream, event] = (await this.#run('reading an SSE event', (client) =>
      client.call('HMGET', this.#internals.keys.events(parsed.token), 'stream', `e:${parsed.seq}`),
    )) as [unknown, unknown];
    return typeof stream === 'string' && typeof event === 'string' ? stream : undefined;
  }

  /** Sends the events of `lastEventId`'s stream that came after it, oldest first. */
  async replayEventsAfter(
    lastEventId: EventId,
    { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> },
  ): Promise<StreamId> {
    const parsed = parseEventId(lastEventId);
    if (parsed === undefined) throw new Error('Unknown event id');
    const fields = (await this.#run('replaying SSE events', (client) =>
      client.call('HGETALL', this.#internals.keys.events(parsed.token)),
    )) as string[];
    const hash = new Map<string, string>();
    for (let i = 0; i + 1 < fields.length; i += 2) hash.set(fields[i] as string, fields[i + 1] as string);
    const stream = hash.get('stream');
    if (stream === undefined) throw new Error('Unknown or expired event id');
    const last = Number(hash.get('seq') ?? 0);
    for (let seq = parsed.seq + 1; seq <= last; seq++) {
      const raw = hash.get(`e:${seq}`);
      if (raw === undefined) continue;
      const message = JSON.parse(raw) as JSONRPCMessage;
      if ('jsonrpc' in message) await send(`${parsed.token}.${seq}`, message);
    }
    return stream;
  }

  #run<T>(what: string, work: (client: Awaited<ReturnType<RedisAffinityInternals['connect']>>) => Promise<T>): Promise<T> {
    return runOnAffinity(this.#internals, what, work);
  }

}
