/**
 * {@link RedisSessionStore}: upstream session records shared by all workers,
 * so that the worker taking over a dead worker's downstream session can
 * re-attach to the same upstream sessions.
 *
 * @module
 */

import { InvalidOptionsError, InvalidRequestError } from '../errors.js';
import { isValidMcpSessionId } from '../headers.js';
import { assertKnownKeys, isRecord } from '../internal/validate.js';
import type { DownstreamClientRecord, DownstreamClientStore, UpstreamSessionRecord, UpstreamSessionStore } from '../mcp/session-store.js';
import { showValue } from '../show-value.js';
import { RedisAffinity, type RedisAffinityInternals, redisAffinityInternals, runOnAffinity } from './affinity.js';
import { runScript, STORE_DELETE, STORE_SET } from './scripts.js';

/** Options of {@link RedisSessionStore}. */
export interface RedisSessionStoreOptions {
  /** The affinity whose client, key prefix and TTLs the store shares. */
  affinity: RedisAffinity;
}

const MAX_GATEWAY_ID_LENGTH = 256;
const MAX_FIELD_LENGTH = 1024;
const KEYS: ReadonlySet<string> = new Set(['affinity']);

/**
 * An {@link UpstreamSessionStore} in Redis, next to the ownership keys of a
 * {@link RedisAffinity}.
 *
 * - One Redis hash per downstream session (its id hashed in the key name),
 *   one field per gateway id, holding the record as JSON.
 * - Its TTL is `recordTtlMs`, renewed by the affinity together with the
 *   ownership key: records live while their downstream session is owned,
 *   and for `recordTtlMs` after the owner died, which is the window in which a
 *   new owner can re-attach. `release` deletes them with the ownership.
 * - `set` and `delete` act only while this worker owns the downstream
 *   session (checked atomically in Redis), so a worker that stalled and lost
 *   it cannot overwrite or delete the new owner's records. They resolve
 *   either way; the check is not an error.
 * - It also keeps what each downstream client sent at `initialize`
 *   ({@link DownstreamClientStore}: pass it as `DownstreamSessions`'
 *   `clientStore`), in the same hash under the empty field name (gateway ids
 *   are never empty), so it shares the records' TTL, owner check and deletion.
 * - Every call is bounded by `commandTimeoutMs` and rejects with
 *   `AffinityUnavailableError` when Redis fails or is slow. A record that does
 *   not parse reads as absent.
 *
 * @example
 * ```ts
 * const affinity = new RedisAffinity({ redis, address });
 * const store = new RedisSessionStore({ affinity });
 * const registry = new UpstreamSessionRegistry({ affinity, factory: mcpSessionFactory({ sessionStore: store }) });
 * ```
 */
export class RedisSessionStore implements UpstreamSessionStore, DownstreamClientStore {
  readonly #affinity: RedisAffinity;
  readonly #internals: RedisAffinityInternals;

  /** @throws {InvalidOptionsError} when `affinity` is not a {@link RedisAffinity} or an option is unknown. */
  constructor(options: RedisSessionStoreOptions) {
    if (!isRecord(options)) throw new InvalidOptionsError('options', `expected an object with an affinity, got ${showValue(options)}`);
    assertKnownKeys(options, KEYS);
    if (!(options.affinity instanceof RedisAffinity)) {
      throw new InvalidOptionsError('affinity', 'expected a RedisAffinity');
    }
    this.#affinity = options.affinity;
    this.#internals = redisAffinityInternals(options.affinity);
  }

  /** The record of (downstream session, gateway), or `undefined`. */
  async get(downstreamSessionId: string, gatewayId: string): Promise<UpstreamSessionRecord | undefined> {
    check(downstreamSessionId, gatewayId);
    return parseRecord(await this.#read('reading an upstream session record', downstreamSessionId, gatewayId));
  }

  /** Stores the record, if this worker owns the downstream session. */
  async set(downstreamSessionId: string, gatewayId: string, record: UpstreamSessionRecord): Promise<void> {
    check(downstreamSessionId, gatewayId);
    await this.#write('storing an upstream session record', downstreamSessionId, gatewayId, JSON.stringify(checkRecord(record)));
  }

  /** Deletes the record, if this worker owns the downstream session. */
  async delete(downstreamSessionId: string, gatewayId: string): Promise<void> {
    check(downstreamSessionId, gatewayId);
    const { keys } = this.#internals;
    await this.#run('deleting an upstream session record', (client) =>
      runScript(
        client,
        STORE_DELETE,
        [keys.owner(downstreamSessionId), keys.records(downstreamSessionId)],
        [this.#affinity.workerId, gatewayId],
      ),
    );
  }

  /** What the downstream client sent at `initialize`, or `undefined`. */
  async getClient(downstreamSessionId: string): Promise<DownstreamClientRecord | undefined> {
    checkId(downstreamSessionId);
    return parseClientRecord(await this.#read('reading a downstream client record', downstreamSessionId, CLIENT_FIELD));
  }

  /** Stores what the downstream client sent at `initialize`, if this worker owns the downstream session. */
  async setClient(downstreamSessionId: string, record: DownstreamClientRecord): Promise<void> {
    checkId(downstreamSessionId);
    await this.#write('storing a downstream client record', downstreamSessionId, CLIENT_FIELD, clientJson(record));
  }

  #read(what: string, downstreamSessionId: string, field: string): Promise<unknown> {
    return this.#run(what, async (client) => client.call('HGET', this.#internals.keys.records(downstreamSessionId), field));
  }

  /** One field of the session's records hash, written only while this worker owns the session ({@link STORE_SET}). */
  async #write(what: string, downstreamSessionId: string, field: string, json: string): Promise<void> {
    const { keys, options } = this.#internals;
    await this.#run(what, (client) =>
      runScript(
        client,
        STORE_SET,
        [keys.owner(downstreamSessionId), keys.records(downstreamSessionId)],
        [this.#affinity.workerId, field, json, options.recordTtlMs],
      ),
    );
  }

  #run<T>(what: string, work: (client: Awaited<ReturnType<RedisAffinityInternals['connect']>>) => Promise<T>): Promise<T> {
    return runOnAffinity(this.#internals, what, work);
  }

}

/** The hash field of the downstream client record: gateway ids are never empty, so it cannot clash. */
const CLIENT_FIELD = '';
/** Largest downstream client record stored (JSON characters). */
const MAX_CLIENT_RECORD_LENGTH = 16_384;

function checkId(downstreamSessionId: string): void {
  if (!isValidMcpSessionId(downstreamSessionId)) {
    throw new InvalidRequestError('downstreamSessionId', 'expected a valid MCP session id (1..256 visible ASCII characters)');
  }
}

/** Only the known fields, as JSON, bounded in size. */
function clientJson(record: DownstreamClientRecord): string {
  if (!isRecord(record)) throw new InvalidRequestError('record', 'expected an object');
  if (!isRecord(record.capabilities)) throw new InvalidRequestError('record.capabilities', 'expected an object');
  if (record.clientInfo !== undefined && !isRecord(record.clientInfo)) throw new InvalidRequestError('record.clientInfo', 'expected an object when given');
  if (record.protocolVersion !== undefined && !isField(record.protocolVersion)) {
    throw new InvalidRequestError('record.protocolVersion', 'expected a non-empty string when given');
  }
  const { protocolVersion, capabilities, clientInfo } = record;
  const json = JSON.stringify({ protocolVersion, capabilities, clientInfo });
  if (json.length > MAX_CLIENT_RECORD_LENGTH) {
    throw new InvalidRequestError('record', `expected at most ${MAX_CLIENT_RECORD_LENGTH} characters of JSON, got ${json.length}`);
  }
  return json;
}

/** A stored JSON value; `undefined` when absent or not JSON. */
function parseJson(raw: unknown): unknown {
  if (typeof raw !== 'string') return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

function parseClientRecord(raw: unknown): DownstreamClientRecord | undefined {
  const parsed = parseJson(raw);
  if (!isRecord(parsed) || !isRecord(parsed.capabilities)) return undefined;
  const { protocolVersion, capabilities, clientInfo } = parsed;
  if (protocolVersion !== undefined && !isField(protocolVersion)) return undefined;
  if (clientInfo !== undefined && !isRecord(clientInfo)) return undefined;
  return Object.freeze({
    capabilities,
    ...(protocolVersion === undefined ? {} : { protocolVersion }),
    ...(clientInfo === undefined ? {} : { clientInfo }),
  });
}

function check(downstreamSessionId: string, gatewayId: string): void {
  checkId(downstreamSessionId);
  if (typeof gatewayId !== 'string' || gatewayId.length === 0 || gatewayId.length > MAX_GATEWAY_ID_LENGTH) {
    throw new InvalidRequestError('gatewayId', `expected 1..${MAX_GATEWAY_ID_LENGTH} characters`);
  }
}

function isField(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_FIELD_LENGTH;
}

/** Copies only the known fields, so nothing else the caller put on the object reaches Redis. */
function checkRecord(record: UpstreamSessionRecord): UpstreamSessionRecord {
  if (typeof record !== 'object' || record === null) throw new InvalidRequestError('record', 'expected an object');
  if (!isField(record.sessionId)) throw new InvalidRequestError('record.sessionId', 'expected a non-empty string');
  if (!isField(record.fingerprint)) throw new InvalidRequestError('record.fingerprint', 'expected a non-empty string');
  if (record.protocolVersion !== undefined && !isField(record.protocolVersion)) {
    throw new InvalidRequestError('record.protocolVersion', 'expected a non-empty string when given');
  }
  return record.protocolVersion === undefined
    ? { sessionId: record.sessionId, fingerprint: record.fingerprint }
    : { sessionId: record.sessionId, protocolVersion: record.protocolVersion, fingerprint: record.fingerprint };
}

function parseRecord(raw: unknown): UpstreamSessionRecord | undefined {
  const parsed = parseJson(raw);
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { sessionId, protocolVersion, fingerprint } = parsed as Record<string, unknown>;
  if (!isField(sessionId) || !isField(fingerprint)) return undefined;
  if (protocolVersion !== undefined && !isField(protocolVersion)) return undefined;
  return Object.freeze(
    protocolVersion === undefined ? { sessionId, fingerprint } : { sessionId, protocolVersion, fingerprint },
  );
}
