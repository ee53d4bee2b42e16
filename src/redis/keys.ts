/**
 * Redis key names. Downstream session ids are chosen by clients, so they are
 * hashed: a key name then never carries a client-controlled string, and every
 * id maps to a key of the same length whatever characters it holds.
 *
 * @module
 */

import { createHash } from 'node:crypto';

/** The keys of one deployment, all under one prefix. */
export class RedisKeys {
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** Prefix of heartbeat keys; the claim script appends the owner's worker id to it. */
  get workerPrefix(): string {
    return `${this.prefix}worker:`;
  }

  /** Heartbeat key of a worker; holds its {@link WorkerInfo} as JSON while it is alive. */
  worker(workerId: string): string {
    return `${this.workerPrefix}${workerId}`;
  }

  /** Ownership key of a downstream session; holds the owner's worker id. */
  owner(downstreamSessionId: string): string {
    return `${this.prefix}owner:{${hashId(downstreamSessionId)}}`;
  }

  /** Hash of one SSE stream's events (`RedisEventStore`); `token` is the stream's hashed id. */
  events(token: string): string {
    return `${this.prefix}events:{${token}}`;
  }

  /** Hash of the upstream session records of a downstream session, one field per gateway id. */
  records(downstreamSessionId: string): string {
    return `${this.prefix}upstream:{${hashId(downstreamSessionId)}}`;
  }
}

/** SHA-256 hex of a downstream session id. */
export function hashId(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex');
}
