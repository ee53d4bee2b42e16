/**
 * `mcp-upstream-registry/redis`: run a proxy on many worker processes with one
 * owner per downstream session, coordinated through Redis (ioredis, an
 * optional peer dependency). Node-only.
 *
 * @module
 */

export { RedisAffinity } from './affinity.js';
export { RedisEventStore, type RedisEventStoreOptions } from './event-store.js';
export type { RedisConnection } from './client.js';
export type { RedisAffinityOptions, RedisErrorPolicy } from './options.js';
export { RedisSessionStore, type RedisSessionStoreOptions } from './session-store.js';
