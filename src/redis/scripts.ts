/**
 * The Lua scripts behind {@link RedisAffinity} and {@link RedisSessionStore}.
 * Each one reads and writes in a single atomic step, so no other worker can
 * act between the check and the write (the compare-and-set that makes "exactly
 * one owner" hold under racing claims).
 *
 * Scripts run with EVALSHA and fall back to EVAL when the server does not have
 * them cached (after a restart or SCRIPT FLUSH), which also caches them again.
 *
 * @module
 */

import { createHash } from 'node:crypto';
import type { RedisCommandClient } from './client.js';

/** A Lua script and its SHA-1, as EVALSHA wants it. */
export interface LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

function script(name: string, source: string): LuaScript {
  return Object.freeze({ name, source, sha: createHash('sha1').update(source, 'utf8').digest('hex') });
}

/**
 * Claim a downstream session.
 *
 * KEYS[1] ownership key. ARGV[1] this worker's id, ARGV[2] ownership TTL (ms),
 * ARGV[3] heartbeat key prefix (the owner's id is appended to it), ARGV[4]
 * this worker's info JSON. Whenever this worker ends up owning the session,
 * its own heartbeat is renewed in the same step, so a session is never owned
 * by a worker that looks dead (e.g. right after an outage outlived the heartbeat).
 *
 * Returns `{'claimed'}` (was free), `{'owned'}` (already ours; TTL renewed),
 * `{'other', ownerId, ownerInfoJson}` (owned by a worker whose heartbeat is
 * alive) or `{'reclaimed', deadOwnerId}` (the owner's heartbeat is gone, so
 * the session was taken over; the whole script is one atomic compare-and-set).
 *
 * The heartbeat key is built inside the script, so this runs on a single Redis
 * (or Sentinel) deployment only; on Redis Cluster, {@link CLAIM_SLOT} does the same
 * in steps that each touch one slot.
 */
export const CLAIM = script(
  'claim',
  `local current = redis.call('GET', KEYS[1])
local status = 'claimed'
if current == ARGV[1] then
  status = 'owned'
elseif current then
  local info = redis.call('GET', ARGV[3] .. current)
  if info then
    return {'other', current, info}
  end
  status = 'reclaimed'
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', ARGV[3] .. ARGV[1], ARGV[4], 'PX', ARGV[2])
if status == 'reclaimed' then
  return {status, current}
end
return {status}
`,
);

/**
 * Claim a downstream session on Redis Cluster, touching only its ownership
 * key's slot: the owner's heartbeat lives in another slot, so the caller reads
 * it separately and, when it is gone, calls again naming that dead owner.
 *
 * KEYS[1] ownership key. ARGV[1] this worker's id, ARGV[2] ownership TTL (ms),
 * ARGV[3] the owner the caller found dead (`''` for none).
 *
 * Returns `{'claimed'}`, `{'owned'}`, `{'reclaimed', deadOwnerId}` (the key still
 * named the dead owner: compare-and-set, so of N racing takeovers one wins) or
 * `{'other', ownerId}` (for the caller to check that owner's heartbeat).
 */
export const CLAIM_SLOT = script(
  'claim-slot',
  `local current = redis.call('GET', KEYS[1])
local status = 'claimed'
if current == ARGV[1] then
  status = 'owned'
elseif current then
  if current ~= ARGV[3] then
    return {'other', current}
  end
  status = 'reclaimed'
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if status == 'reclaimed' then
  return {status, current}
end
return {status}
`,
);

/**
 * Release a downstream session: compare-and-delete of the ownership key and its
 * upstream session records, only while this worker still owns it.
 *
 * KEYS[1] ownership key, KEYS[2] records key. ARGV[1] this worker's id.
 * Returns 1 when released, 0 when this worker did not own it.
 */
export const RELEASE = script(
  'release',
  `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
`,
);

/**
 * Give up ownership of many sessions at once (on close), keeping their upstream
 * session records so that the next owner can re-attach.
 *
 * KEYS ownership keys. ARGV[1] this worker's id. Returns how many were released.
 */
export const RELEASE_OWNERSHIP = script(
  'release-ownership',
  `local released = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('DEL', KEYS[i])
    released = released + 1
  end
end
return released
`,
);

/**
 * Renew the TTLs of a batch of owned sessions in one round trip.
 *
 * KEYS pairs of (ownership key, records key). ARGV[1] this worker's id,
 * ARGV[2] ownership TTL (ms), ARGV[3] record TTL (ms).
 *
 * A key that expired and was not claimed by anyone is taken again (nobody else
 * can hold an upstream session for it). Returns the 1-based pair indexes that
 * another worker owns now: this worker lost them.
 */
export const REFRESH = script(
  'refresh',
  `local lost = {}
for i = 1, #KEYS, 2 do
  local current = redis.call('GET', KEYS[i])
  if current == ARGV[1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
    redis.call('PEXPIRE', KEYS[i + 1], ARGV[3])
  elseif not current then
    redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
    redis.call('PEXPIRE', KEYS[i + 1], ARGV[3])
  else
    lost[#lost + 1] = (i + 1) / 2
  end
end
return lost
`,
);

/**
 * Store one upstream session record, only while this worker owns the
 * downstream session: a worker that stalled and lost it must not overwrite the
 * new owner's record.
 *
 * KEYS[1] ownership key, KEYS[2] records key. ARGV[1] this worker's id,
 * ARGV[2] gateway id (hash field), ARGV[3] record JSON, ARGV[4] record TTL (ms).
 * Returns 1 when stored, 0 when this worker does not own the session.
 */
export const STORE_SET = script(
  'store-set',
  `if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1
`,
);

/**
 * Delete one upstream session record, only while this worker owns the
 * downstream session (same reason as {@link STORE_SET}).
 *
 * KEYS[1] ownership key, KEYS[2] records key. ARGV[1] this worker's id, ARGV[2] gateway id.
 * Returns 1 when deleted, 0 otherwise.
 */
export const STORE_DELETE = script(
  'store-delete',
  `if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
return redis.call('HDEL', KEYS[2], ARGV[2])
`,
);

/**
 * Append one SSE event to its stream's hash, dropping the event `maxEvents`
 * back, and renew the stream's TTL.
 *
 * KEYS[1] the stream's hash. ARGV[1] stream id, ARGV[2] event JSON,
 * ARGV[3] events kept per stream, ARGV[4] TTL (ms). Returns the event's sequence number.
 */
export const STORE_EVENT = script(
  'store-event',
  `local n = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('HSET', KEYS[1], 'stream', ARGV[1], 'e:' .. n, ARGV[2])
local old = n - tonumber(ARGV[3])
if old > 0 then
  redis.call('HDEL', KEYS[1], 'e:' .. old)
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return n
`,
);

/** Runs `script` with EVALSHA, falling back to EVAL when the server lacks it. */
export async function runScript(
  client: RedisCommandClient,
  lua: LuaScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  try {
    return await client.call('EVALSHA', lua.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!isNoScript(error)) throw error;
    return client.call('EVAL', lua.source, keys.length, ...keys, ...args);
  }
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}
